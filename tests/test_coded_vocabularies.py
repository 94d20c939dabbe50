"""Free text that research roles read arrives coded (security review, finding 8).

A name typed as an adverse-event term, a lesion's organ or label, or a cycle's
radiopharmaceutical used to reach research staff in the API, the exports and the
patient page. Research roles now read a listed value or `other`; clinicians
keep what they typed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import Client
from django.urls import reverse

from registry import models
from registry.clinical import vocabularies as v
from registry.derive import recompute
from tests import factories
from tests.api.conftest import client_for

NAME = "Jansen"


def test_listed_values_come_back_in_their_listed_spelling():
    assert v.coded_term("nausea") == "Nausea"
    assert v.coded_term("  PLATELET count-decreased ") == "Platelet count decreased"
    assert v.coded_organ("Lymph_Node") == "lymph node"
    assert v.coded_radiopharmaceutical("177lu-dotatate") == "177Lu-DOTATATE"
    assert v.coded_lesion_label("L12") == "L12" and v.coded_lesion_label("LN-2") == "LN-2"


@pytest.mark.parametrize(
    "coder", [v.coded_term, v.coded_organ, v.coded_radiopharmaceutical, v.coded_lesion_label]
)
def test_anything_else_is_other_and_empty_is_none(coder):
    assert coder(f"Mr {NAME}") == v.OTHER
    assert coder(NAME) == v.OTHER
    assert coder("") is None and coder(None) is None


def test_the_default_radiopharmaceutical_and_the_demo_terms_are_listed():
    from registry.models.treatment import DEFAULT_RADIOPHARMACEUTICAL

    assert v.coded_radiopharmaceutical(DEFAULT_RADIOPHARMACEUTICAL) == DEFAULT_RADIOPHARMACEUTICAL
    assert v.coded_term("Myelodysplastic syndrome") == "Myelodysplastic syndrome"


@pytest.fixture
def typed(site):
    patient = factories.PatientFactory(site=site, study_id="VOC-1")
    course = factories.CourseFactory(patient=patient)
    factories.CycleFactory(course=course, radiopharmaceutical=f"{NAME} mix")
    scan = factories.ScanFactory(patient=patient, date=dt.date(2005, 9, 1))
    factories.LesionFactory(scan=scan, lesion=NAME, organ=f"{NAME}'s liver")
    factories.LesionFactory(scan=scan, lesion="L2", organ="Liver")
    models.AdverseEvent.objects.create(
        patient=patient, term=f"Called {NAME} at home", grade=2, onset=dt.date(2005, 7, 1)
    )
    models.AdverseEvent.objects.create(
        patient=patient, term="nausea", grade=1, onset=dt.date(2005, 6, 2)
    )
    recompute.recompute_patient(patient.pk)  # the exports read the computed cohort
    return patient


def _api(user, path: str) -> str:
    return client_for(user).get(path).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/adverse-events/", "/api/v1/scans/", "/api/v1/cycles/"])
def test_research_reads_them_coded_in_the_api(researcher, clinician, typed, path):
    assert NAME not in _api(researcher, path)
    assert NAME in _api(clinician, path)


@pytest.mark.django_db
def test_research_reads_listed_values_in_the_api(researcher, typed):
    terms = {
        e["term"] for e in client_for(researcher).get("/api/v1/adverse-events/").json()["results"]
    }
    assert terms == {"Nausea", "other"}
    lesions = client_for(researcher).get("/api/v1/scans/").json()["results"][0]["lesions"]
    assert {(lesion["lesion"], lesion["organ"]) for lesion in lesions} == {
        ("other", "other"),
        ("L2", "liver"),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("table", ["adverse_events", "lesions", "cycles"])
def test_research_exports_them_coded(researcher, typed, table):
    client = Client()
    client.force_login(researcher)
    response = client.get(reverse("research_export_csv", args=[table]))
    text = b"".join(response.streaming_content).decode()
    assert NAME not in text
    assert list(csv.DictReader(io.StringIO(text)))


@pytest.mark.django_db
def test_the_patient_page_shows_research_the_coded_values(researcher, clinician, typed):
    research = Client()
    research.force_login(researcher)
    page = research.get(f"/patients/{typed.pk}/").content.decode()
    at = page.find(NAME)
    assert at < 0, page[max(at - 300, 0) : at + 100]
    assert "Nausea" in page
    clinic = Client()
    clinic.force_login(clinician)
    assert f"Called {NAME} at home" in clinic.get(f"/patients/{typed.pk}/").content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("route", "field", "vocabulary"),
    [("adverse_new", "term", v.CTCAE_TERMS), ("scan_new", "lesions-0-organ", v.ORGANS)],
)
def test_the_forms_offer_the_coded_list_and_say_what_research_sees(
    clinician, typed, route, field, vocabulary
):
    import re

    browser = Client()
    browser.force_login(clinician)
    page = browser.get(reverse(route, args=[typed.pk])).content.decode()
    box = re.search(rf'<input[^>]*name="{field}"[^>]*>', page).group(0)
    list_id = re.search(r'list="([^"]+)"', box).group(1)
    datalist = re.search(rf'<datalist id="{list_id}">(.*?)</datalist>', page).group(1)
    assert re.findall(r'<option value="([^"]*)">', datalist) == [
        term.replace("'", "&#x27;") for term in vocabulary
    ]
    assert "shown to research staff as “other”" in page
