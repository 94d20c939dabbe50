"""Study IDs hold only what the interchange schema allows (security review, finding 7).

`<a href="//ev.il">` used to be accepted as a study ID and to become a link inside
the research charts. Now the API, the patient form, the admin and the database
each refuse it, the migration stops on existing ones and names them, and
`fix_study_ids` renames them, audited.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client

from registry.management.commands.fix_study_ids import proposed_id
from registry.models import Patient
from tests import factories
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db
HOSTILE = ['<a href="//ev.il">x</a>', "RACE 1", "ÄBC-1", "a/b", "x" * 33, "semi;colon", ""]


@pytest.mark.parametrize("study_id", HOSTILE)
def test_the_api_refuses_it_naming_the_field(clinician, site, study_id):
    answer = client_for(clinician).post(
        "/api/v1/patients/",
        {"study_id": study_id, "site": site.code, "primary_site": "midgut"},
        format="json",
    )
    assert answer.status_code == 400 and "study_id" in answer.json()
    assert not Patient.objects.exists()


def test_the_api_still_takes_a_valid_one(clinician, site):
    answer = client_for(clinician).post(
        "/api/v1/patients/",
        {"study_id": "ROT_2024-07", "site": site.code, "primary_site": "midgut"},
        format="json",
    )
    assert answer.status_code == 201


@pytest.mark.parametrize("study_id", HOSTILE[:4])
def test_the_patient_form_refuses_it_on_the_field(clinician, site, study_id):
    client = Client()
    client.force_login(clinician)
    page = client.post(
        "/patients/new/", {"study_id": study_id, "site": site.pk, "primary_site": "midgut"}
    )
    assert page.status_code == 200
    assert "study_id" in page.context["form"].errors
    assert not Patient.objects.exists()


def test_the_admin_refuses_it(admin_user, site):
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client = Client()
    client.force_login(admin_user)
    page = client.post(
        "/admin/registry/patient/add/",
        {"study_id": "<b>x</b>", "site": site.pk, "primary_site": "midgut", "sex": ""},
    )
    assert page.status_code == 200 and "study_id" in page.context["adminform"].form.errors
    assert not Patient.objects.exists()


def test_the_database_refuses_it_too(site):
    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.create(study_id="<i>", site=site, primary_site="midgut")


class _FakeApps:
    def __init__(self, ids):
        self.ids = ids

    def get_model(self, app, name):
        ids = self.ids

        class Rows:
            def iterator(self):
                return iter(ids)

        class Objects:
            def values_list(self, *fields):
                return Rows()

        return type("Patient", (), {"objects": Objects()})


def test_the_migration_stops_and_names_existing_violators():
    from importlib import import_module

    migration = import_module("registry.migrations.0004_study_id_characters")
    migration.refuse_violators(_FakeApps([(1, "OK-1"), (2, "PT-2")]), None)  # fine: no error
    with pytest.raises(RuntimeError) as refused:
        migration.refuse_violators(_FakeApps([(1, "OK-1"), (7, "bad id")]), None)
    assert "patient 7: 'bad id'" in str(refused.value) and "fix_study_ids" in str(refused.value)


def test_the_proposed_ids_are_valid_and_unique():
    taken = {"RACE-1"}
    assert proposed_id("RACE 1", taken, 3) == "RACE-1-2"
    assert proposed_id("<a>", set(), 9) == "a"
    assert proposed_id("<<>>", set(), 9) == "P-9"
    long = proposed_id("é" + "x" * 40, set(), 1)
    assert len(long) <= 32


def _legacy_patient(site, study_id: str) -> Patient:
    """A row from before the constraint, written past it (rolled back with the test)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA ignore_check_constraints = ON")
        else:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks before DDL
            cursor.execute(
                "ALTER TABLE registry_patient DROP CONSTRAINT patient_study_id_characters"
            )
        try:
            patient = factories.PatientFactory(study_id=study_id, site=site)
        finally:
            if connection.vendor == "sqlite":
                cursor.execute("PRAGMA ignore_check_constraints = OFF")
    return patient


def test_fix_study_ids_lists_then_renames_audited(site):
    factories.PatientFactory(study_id="RACE-1", site=site)
    legacy = _legacy_patient(site, "RACE 1")
    out = io.StringIO()
    call_command("fix_study_ids", stdout=out)
    assert f"patient {legacy.pk}: 'RACE 1' -> 'RACE-1-2'" in out.getvalue()
    assert Patient.objects.get(pk=legacy.pk).study_id == "RACE 1"  # a dry run by default

    call_command("fix_study_ids", "--apply", stdout=io.StringIO())
    legacy.refresh_from_db()
    assert legacy.study_id == "RACE-1-2"
    last = legacy.history.order_by("-history_id").first()
    assert "fix_study_ids" in last.history_change_reason
    out = io.StringIO()
    call_command("fix_study_ids", stdout=out)
    assert "Every study ID is fine." in out.getvalue()
