"""The admin lists every model, shows history, and cannot edit derived rows."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from registry.records.facts import save_fact
from tests import factories


def test_every_registry_model_is_in_the_admin():
    missing = [
        model.__name__
        for model in apps.get_app_config("registry").get_models()
        if not model.__name__.startswith("Historical") and model not in admin.site._registry
    ]
    assert missing == []


@pytest.fixture
def superuser_client(client, django_user_model):
    root = django_user_model.objects.create_superuser("root", "r@example.org", "x" * 12)
    client.force_login(root)
    return client


@pytest.mark.parametrize(
    "name",
    [
        "patient", "patientidentity", "course", "cycle", "labresult", "scan", "lesionmeasurement",
        "clinicalprogression", "adverseevent", "responseoverride", "patientstate",
        "courseoutcome", "timepointresponse", "importjob", "exportjob", "site", "staffprofile",
    ],
)  # fmt: skip
def test_changelists_render(superuser_client, site, name):
    factories.CycleFactory(course__patient__site=site)
    response = superuser_client.get(reverse(f"admin:registry_{name}_changelist"))
    assert response.status_code == 200


def test_patient_history_is_visible(superuser_client, site):
    patient = factories.PatientFactory(site=site)
    patient.ki67_percent = 12
    save_fact(patient)
    response = superuser_client.get(reverse("admin:registry_patient_history", args=[patient.pk]))
    assert response.status_code == 200
    assert b"Changed" in response.content or b"changed" in response.content


def test_admin_edit_goes_through_the_services(superuser_client, site):
    patient = factories.PatientFactory(site=site, study_id="ADM-1")
    url = reverse("admin:registry_patient_change", args=[patient.pk])
    response = superuser_client.post(
        url,
        {
            "study_id": "ADM-1", "site": site.pk, "sex": "F", "primary_site": "pancreas",
            "diagnosis_date": "2000-01-01", "death_date": "1999-01-01",
            "identity-TOTAL_FORMS": "0", "identity-INITIAL_FORMS": "0",
        },
    )  # fmt: skip
    assert response.status_code == 200  # re-shown with the error, nothing saved
    assert b"cannot be before the diagnosis date" in response.content
    patient.refresh_from_db()
    assert patient.death_date is None


def test_derived_rows_cannot_be_edited(superuser_client):
    assert superuser_client.get(reverse("admin:registry_courseoutcome_add")).status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/admin/registry/patient/abc/history/",
        "/admin/registry/patient/{pk}/history/abc/",
        "/admin/registry/patient/abc/history/1/",
        "/admin/registry/labresult/1e309/history/",
        "/admin/registry/patient/99999999999999999999999/history/",
    ],
)
def test_history_urls_with_junk_ids_are_not_found(superuser_client, site, path):
    patient = factories.PatientFactory(site=site)
    response = superuser_client.get(path.format(pk=patient.pk))
    assert response.status_code == 404


def test_a_past_version_of_a_record_is_shown(superuser_client, site):
    patient = factories.PatientFactory(site=site)
    version = patient.history.earliest()
    url = reverse("admin:registry_patient_simple_history", args=[patient.pk, version.history_id])
    assert superuser_client.get(url).status_code == 200
