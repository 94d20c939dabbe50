"""Lists run a fixed number of queries whatever the page size (no N+1)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry import models
from tests.api.conftest import full_patient

pytestmark = pytest.mark.django_db

LISTS = (
    "/api/v1/sites/",
    "/api/v1/patients/",
    "/api/v1/courses/",
    "/api/v1/cycles/",
    "/api/v1/labs/",
    "/api/v1/scans/",
    "/api/v1/clinical-progressions/",
    "/api/v1/adverse-events/",
    "/api/v1/response-overrides/",
    "/api/v1/imports/",
    "/api/v1/reports/cohort/",
    "/api/v1/analyses/survival/?strata=primary_site",
    "/api/v1/reports/cohort/?toxicity_window_days=30",
)


def add_patients(site, user, count: int, start: int) -> None:
    for i in range(start, start + count):
        full_patient(site, f"Q-{i:03d}", decided_by=user)
        models.ImportJob.objects.create(created_by=user)


@pytest.mark.parametrize("role", ["clinician", "admin_user", "researcher"])
def test_list_queries_do_not_grow_with_the_page(
    request, role, site, clinician, django_assert_num_queries
):
    from tests.api.conftest import client_for

    user = request.getfixturevalue(role)
    client = client_for(user)
    add_patients(site, clinician, 2, 0)
    baseline = {}
    for url in LISTS:
        client.get(url)  # warm the per-process caches (content types, …)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        baseline[url] = len(queries)
    add_patients(site, clinician, 18, 2)
    for url in LISTS:
        with django_assert_num_queries(baseline[url]):
            response = client.get(url)
        body = response.json()
        if "count" in body and url.startswith(("/api/v1/patients", "/api/v1/scans")):
            assert body["count"] >= 20
