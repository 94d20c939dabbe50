"""Cohort results and list counts kept per data version (registry/derive/version.py,
registry/research/memo.py, api/pagination.py): served again only while the data, the
scope and the question are the same; every committed write moves the version.

Real transactions (`transaction=True`): the version moves when a write commits, which a
test wrapped in one never-committed transaction could not show."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import RequestFactory

from registry import models
from registry.derive import recompute, schedule, version
from registry.research import memo
from registry.research.views import pages
from tests import factories
from tests.test_recompute import salvage_patient

REPORT = "/api/v1/reports/cohort/?phase=salvage&round=1"


@pytest.fixture
def keeping(settings):
    settings.LUTETIA_RESULT_CACHE_SECONDS = 600
    cache.clear()
    yield
    cache.clear()


def recomputed(site):
    patient = salvage_patient(site=site)
    recompute.recompute_patient(patient.pk)
    return patient


def test_off_means_no_version_and_nothing_kept(settings):
    settings.LUTETIA_RESULT_CACHE_SECONDS = 0
    assert version.data_version() is None
    calls = []
    assert version.kept("k", lambda: calls.append(1) or 1) == 1
    assert version.kept("k", lambda: calls.append(1) or 1) == 1
    assert len(calls) == 2


@pytest.mark.django_db(transaction=True)
def test_a_committed_write_moves_the_version_a_rolled_back_one_does_not(keeping, site):
    before = version.data_version()
    with pytest.raises(RuntimeError), transaction.atomic():
        factories.PatientFactory(site=site)
        raise RuntimeError("rolled back")
    assert version.data_version() == before
    with transaction.atomic():
        for _ in range(3):
            factories.PatientFactory(site=site)
    moved = version.data_version()
    assert moved != before
    # The bulk writes without signals move it themselves.
    patient = models.Patient.objects.first()
    schedule.mark_stale([patient.pk])  # an UPDATE: no signal
    assert version.data_version() != moved
    moved = version.data_version()
    models.PatientState.objects.filter(patient=patient).update(stale=True)  # no signal
    assert version.data_version() == moved
    recompute.recompute_patient(patient.pk)
    assert version.data_version() != moved


@pytest.mark.django_db(transaction=True)
def test_the_report_is_computed_once_per_data_version(
    keeping,
    site,
    clinician,
    client,
):
    recomputed(site)
    client.force_login(clinician)
    with mock.patch("api.views.results.cohort_report", wraps=pages.cohort_report) as computed:
        first = client.get(REPORT).json()
        assert client.get(REPORT).json() == first
        assert computed.call_count == 1
        assert client.get(REPORT + "&criteria=recist").status_code == 200  # another question
        assert computed.call_count == 2
        recomputed(site)  # new data
        after = client.get(REPORT).json()
        assert computed.call_count == 3
    assert after != first


@pytest.mark.django_db(transaction=True)
def test_an_answer_is_never_shared_across_sites_or_roles(
    keeping, site, other_site, clinician, other_clinician, researcher
):
    request = RequestFactory().get("/research/", {"phase": "salvage"})
    keys = set()
    for user in (clinician, other_clinician, researcher):
        request.user = user
        keys.add(memo.memo_key(request, "dashboard", "v1"))
    assert len(keys) == 3
    request.user = clinician
    assert memo.memo_key(request, "dashboard", "v1") != memo.memo_key(request, "report", "v1")
    assert memo.memo_key(request, "dashboard", "v1") != memo.memo_key(request, "dashboard", "v2")
    # Two members of staff with the same role and sites share one answer.
    twin = factories.UserFactory(username="twin", role="clinician", sites=[site])
    request.user = twin
    assert memo.memo_key(request, "dashboard", "v1") in keys


@pytest.mark.django_db(transaction=True)
def test_the_other_site_gets_its_own_cohort_not_the_kept_one(
    keeping,
    site,
    other_site,
    clinician,
    other_clinician,
    client,
):
    recomputed(site)
    client.force_login(clinician)
    mine = client.get(REPORT).json()
    client.force_login(other_clinician)
    theirs = client.get(REPORT).json()
    assert mine != theirs
    dashboard = client.get("/research/?phase=salvage")
    assert dashboard.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_cache_means_computing_afresh(keeping, site, clinician, client):
    client.force_login(clinician)
    with (
        mock.patch.object(version.cache, "get", side_effect=ConnectionError("down")),
        mock.patch.object(version.cache, "add", side_effect=ConnectionError("down")),
    ):
        assert client.get("/research/report/?phase=salvage").status_code == 200
        request = RequestFactory().get("/research/")
        request.user = clinician
        assert memo.memoised(request, "x", lambda: 7) == 7
    with mock.patch.object(version.cache, "set", side_effect=ConnectionError("down")):
        assert version.kept("k", lambda: 5) == 5
        version._move()  # logged, not raised


@pytest.mark.django_db(transaction=True)
def test_a_list_count_is_kept_until_the_data_changes(
    keeping,
    site,
    clinician,
    client,
):
    patient = salvage_patient(site=site, labs=3)
    client.force_login(clinician)
    assert client.get("/api/v1/labs/").json()["count"] == 3
    # The same question again is not counted; a filter is another question.
    with mock.patch(
        "rest_framework.pagination.LimitOffsetPagination.get_count", return_value=99
    ) as counted:
        assert client.get("/api/v1/labs/").json()["count"] == 3
        assert counted.call_count == 0
        assert client.get("/api/v1/labs/?analyte=platelets").json()["count"] == 99
    factories.LabFactory(patient=patient)
    assert client.get("/api/v1/labs/").json()["count"] == 4
    assert models.LabResult.objects.count() == 4
