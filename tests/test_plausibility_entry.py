"""CLINICAL.md §6 at the edges: the forms ask for a confirmation naming the likely unit,
the API accepts and records the finding, a confirmed unit is never remembered."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from registry.derive.recompute import recompute_patient
from registry.models import LabResult, PatientState, StaffProfile
from tests import factories

D = dt.date


@pytest.fixture
def patient(site):
    return factories.PatientFactory(site=site, study_id="PL-1", sex="F")


def findings(patient) -> list[str]:
    recompute_patient(patient.pk, force=True)
    return [f["code"] for f in PatientState.objects.get(patient=patient).quality_findings]


def panel(client, patient, **values):
    data = {"drawn_on": "2020-01-20", **values}
    return client.post(reverse("labs_new", args=[patient.pk]), data)


def test_a_platelet_count_in_mm3_stops_with_the_unit_message(client, clinician, patient):
    client.force_login(clinician)
    StaffProfile.objects.filter(user=clinician).update(preferred_units={"platelets": "10^9/L"})
    sent = {
        "value_platelets": "180",
        "unit_platelets": "/mm3",
        "value_hemoglobin": "7.9",
        "unit_hemoglobin": "mmol/L",
    }
    response = panel(client, patient, **sent)
    html = response.content.decode()
    assert response.status_code == 200
    assert "180 /mm3 is 0.18 × 10⁹/L" in html and "did you mean 10⁹/L?" in html
    assert 'type="checkbox" name="confirm_implausible"' in html
    assert not LabResult.objects.filter(patient=patient).exists()  # nothing half-written

    saved = panel(client, patient, **sent, confirm_implausible="on")
    assert saved.status_code == 302
    platelets = LabResult.objects.get(patient=patient, analyte="platelets")
    assert (platelets.value, platelets.unit, platelets.canonical_value) == (180, "/mm3", 0.18)
    remembered = StaffProfile.objects.get(user=clinician).preferred_units
    assert remembered["platelets"] == "10^9/L"  # the confirmed unit is not learnt
    assert remembered["hemoglobin"] == "mmol/L"  # a plausible one is
    assert "implausible_value" in findings(patient)
    page = client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    assert "0.18 × 10⁹/L" in page


def test_a_usual_panel_needs_no_confirmation(client, clinician, patient):
    client.force_login(clinician)
    response = panel(client, patient, value_platelets="180", unit_platelets="10^9/L")
    assert response.status_code == 302
    assert StaffProfile.objects.get(user=clinician).preferred_units["platelets"] == "10^9/L"


def test_a_jump_from_the_previous_value_asks_too(client, clinician, patient):
    factories.LabFactory(
        patient=patient, date=D(2020, 1, 10), analyte="hemoglobin", value=7.5, unit="mmol/L",
        canonical_value=7.5 * 1.611,
    )  # fmt: skip
    client.force_login(clinician)
    response = panel(client, patient, value_hemoglobin="12", unit_hemoglobin="g/dL")
    assert response.status_code == 302  # 12 − 12.08 g/dL: no jump
    response = panel(
        client, patient, drawn_on="2020-01-25", value_hemoglobin="12", unit_hemoglobin="mmol/L"
    )
    html = response.content.decode()
    assert response.status_code == 200 and "hemoglobin changed by" in html
    assert re.search(r"in 5 days \(12 → 19\.3\d* g/dL", html)


def test_editing_a_lab_into_an_implausible_value_asks_too(client, clinician, patient):
    lab = factories.LabFactory(
        patient=patient, date=D(2020, 1, 10), analyte="creatinine", value=80, unit="umol/L",
        canonical_value=80,
    )  # fmt: skip
    client.force_login(clinician)
    url = reverse("lab_edit", args=[patient.pk, lab.pk])
    form = {"date": "2020-01-10", "value": "1.1", "unit": "umol/L", "version": lab.version}
    response = client.post(url, form)
    html = response.content.decode()
    assert response.status_code == 200 and "did you mean mg/dL?" in html
    lab.refresh_from_db()
    assert lab.value == 80
    assert client.post(url, {**form, "confirm_implausible": "on"}).status_code == 302
    lab.refresh_from_db()
    assert lab.value == 1.1


def test_the_api_accepts_an_implausible_value_and_records_the_finding(clinician, patient):
    api = APIClient()
    api.force_authenticate(clinician)
    body = {"patient": patient.pk, "date": "2020-01-20", "analyte": "creatinine"}
    response = api.post("/api/v1/labs/", {**body, "value": 1.1, "unit": "umol/L"}, format="json")
    assert response.status_code == 201, response.content
    assert "implausible_value" in findings(patient)
    usual = api.post("/api/v1/labs/", {**body, "value": 1.1, "unit": "mg/dL"}, format="json")
    assert usual.status_code == 201


def test_tumour_markers_on_the_panel_and_their_chart(client, clinician, patient):
    client.force_login(clinician)
    response = panel(
        client,
        patient,
        value_chromogranin_a="120",
        unit_chromogranin_a="ng/mL",
        value_nse="14.5",
        unit_nse="ug/L",
        value_u_5hiaa="10",
        unit_u_5hiaa="mg/24h",
    )
    assert response.status_code == 302
    hiaa = LabResult.objects.get(patient=patient, analyte="u_5hiaa")
    assert hiaa.canonical_value == pytest.approx(52.3)
    page = client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    for analyte in ("chromogranin_a", "nse", "u_5hiaa"):
        assert f'id="chart-{analyte}"' in page
