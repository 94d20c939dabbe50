"""The `lutetia-cohort/2` record, field by field (issue 12).

For every new typed field: a valid value round-trips through the form, the
API and the interchange; an invalid one gets an error naming the field (a
form error, a 400 key, a JSON path) and nothing is saved. The database's own
refusal of each is in `tests/test_constraints.py`.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import reverse

from registry import models as m
from registry.interchange.documents import export_document, import_document
from tests import factories
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db

START = dt.date(2005, 6, 1)


@dataclass(frozen=True)
class Case:
    kind: str  # patient | course | cycle | adverse | prior
    attr: str  # model attribute
    good: Any  # as the API and the interchange write it
    bad: Any
    stored: Any = None  # the model value of `good` (default: `good`)
    api: str = ""  # the API key (default: attr); "metastases.x" for the nested object
    form_good: str | None = None  # as a form posts it (default: str(good))
    form_bad: str | None = None

    @property
    def key(self) -> str:
        return self.api or self.attr

    @property
    def model_value(self) -> Any:
        return self.good if self.stored is None else self.stored

    def __str__(self) -> str:
        return f"{self.kind}.{self.key}"


CASES = [
    Case("patient", "who_grade", "G2", "G4"),
    Case("patient", "functional_syndrome", "carcinoid", "zollinger"),
    Case("patient", "cause_of_death", "disease", "old_age"),
    Case("course", "ecog", 1, 5, form_bad="7"),
    Case("course", "karnofsky", 80, 85),
    Case("course", "krenning_score", 3, 5),
    Case("course", "uptake_modality", "PET", "CT"),
    Case("course", "liver_metastases", True, "often", api="metastases.liver", form_good="true",
         form_bad="often"),
    Case("course", "liver_load", "gt50", "75pct", api="metastases.liver_load"),
    Case("course", "bone_metastases", False, "some", api="metastases.bone", form_good="false",
         form_bad="some"),
    Case("cycle", "amino_acids", True, "lots", form_good="true", form_bad="lots"),
    Case("cycle", "reduced_reason", "renal", "weather"),
    Case("adverse", "category", "mds", "cancer"),
    Case("adverse", "resolved", "2005-06-10", "2005-05-01", stored=dt.date(2005, 6, 10)),
    Case("adverse", "serious", True, "very", form_good="true", form_bad="very"),
    Case("adverse", "attribution", "possible", "maybe"),
    Case("prior", "type", "everolimus", "homeopathy"),
    Case("prior", "end", "2004-02-01", "2002-01-01", stored=dt.date(2004, 2, 1)),
]  # fmt: skip
IDS = [str(c) for c in CASES]


@pytest.fixture
def patient(site):
    p = factories.PatientFactory(
        study_id="V2-001",
        site=site,
        diagnosis_date=dt.date(2001, 1, 1),
        last_follow_up=dt.date(2008, 1, 1),
        death_date=dt.date(2008, 1, 1),
    )
    course = factories.CourseFactory(patient=p, liver_metastases=True)
    factories.CycleFactory(course=course, date=START)
    m.AdverseEvent.objects.create(patient=p, term="Nausea", grade=1, onset=START)
    m.PriorTreatment.objects.create(patient=p, type="surgery", start=dt.date(2003, 1, 1))
    return p


def record(patient: m.Patient, kind: str):
    return {
        "patient": lambda: m.Patient.objects.get(pk=patient.pk),
        "course": lambda: m.Course.objects.get(patient=patient),
        "cycle": lambda: m.Cycle.objects.get(course__patient=patient),
        "adverse": lambda: m.AdverseEvent.objects.get(patient=patient),
        "prior": lambda: m.PriorTreatment.objects.get(patient=patient),
    }[kind]()


RESOURCES = {
    "patient": "patients",
    "course": "courses",
    "cycle": "cycles",
    "adverse": "adverse-events",
    "prior": "prior-treatments",
}


def _body(case: Case, value: Any) -> dict:
    if case.key.startswith("metastases."):
        return {"metastases": {case.key.split(".", 1)[1]: value}}
    return {case.key: value}


def _api_value(data: dict, case: Case) -> Any:
    if case.key.startswith("metastases."):
        return data["metastases"][case.key.split(".", 1)[1]]
    return data[case.key]


# ------------------------------------------------------------------ API


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_api_round_trip_and_refusal(case, patient, clinician):
    client = client_for(clinician)
    obj = record(patient, case.kind)
    url = f"/api/v1/{RESOURCES[case.kind]}/{obj.pk}/"
    before = getattr(obj, case.attr)
    bad = client.patch(url, _body(case, case.bad), format="json")
    assert bad.status_code == 400, bad.content
    assert case.key.split(".")[0] in bad.json()
    assert getattr(record(patient, case.kind), case.attr) == before  # nothing saved
    good = client.patch(url, _body(case, case.good), format="json")
    assert good.status_code == 200, good.content
    assert _api_value(good.json(), case) == case.good
    assert getattr(record(patient, case.kind), case.attr) == case.model_value
    assert _api_value(client.get(url).json(), case) == case.good


# ------------------------------------------------------------------ interchange


def _document_path(doc: dict, case: Case) -> tuple[dict, str]:
    """The dict of the document that holds the case's key, and the key."""
    p = doc["patients"][0]
    holder = {
        "patient": p,
        "course": p["courses"][0],
        "cycle": p["courses"][0]["cycles"][0],
        "adverse": p["adverse_events"][0],
        "prior": p["prior_treatments"][0],
    }[case.kind]
    if case.key.startswith("metastases."):
        return holder["metastases"], case.key.split(".", 1)[1]
    return holder, case.key


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_interchange_round_trip_and_refusal(case, patient):
    exported = export_document()
    assert exported["format"] == "lutetia-cohort/2"
    m.Patient.objects.all().delete()

    bad = copy.deepcopy(exported)
    holder, key = _document_path(bad, case)
    holder[key] = case.bad
    result = import_document(bad)
    assert result.errors and not m.Patient.objects.exists()
    paths = [e.path for e in result.errors]
    assert any(path.endswith(case.key) for path in paths), paths

    good = copy.deepcopy(exported)
    holder, key = _document_path(good, case)
    holder[key] = case.good
    if case.kind == "course" and key == "liver_load":
        holder["liver"] = True
    assert import_document(good).ok
    again = export_document()
    holder, key = _document_path(again, case)
    assert holder[key] == case.good
    assert import_document(again).unchanged == 1  # stable: /2 → import → export → import


def test_a_version_1_document_leaves_the_version_2_fields_as_stored(patient):
    course = record(patient, "course")
    course.ecog, course.krenning_score = 1, 3
    course.save()
    v2 = export_document()
    v1 = copy.deepcopy(v2)
    v1["format"] = "lutetia-cohort/1"
    del v1["fields"]
    p = v1["patients"][0]
    for key in ("who_grade", "functional_syndrome", "cause_of_death", "prior_treatments", "custom"):
        del p[key]
    for c in p["courses"]:
        for key in (
            "ecog",
            "karnofsky",
            "krenning_score",
            "uptake_modality",
            "metastases",
            "custom",
        ):
            del c[key]
        for cycle in c["cycles"]:
            for key in ("amino_acids", "reduced_reason", "custom"):
                del cycle[key]
        c["intended_activity_gbq"] = 22.2  # a change version 1 does carry
    for s in p["scans"]:
        del s["custom"]
    for e in p["adverse_events"]:
        for key in ("category", "resolved", "serious", "attribution"):
            del e[key]
    result = import_document(v1)
    assert result.ok and result.updated == 1
    course = record(patient, "course")
    assert (course.intended_activity_gbq, course.ecog, course.krenning_score) == (22.2, 1, 3)
    assert m.PriorTreatment.objects.filter(patient=patient).count() == 1
    # … and a version 2 document of the same patient may still clear them.
    v2["patients"][0]["courses"][0]["ecog"] = None
    assert import_document(v2).ok
    assert record(patient, "course").ecog is None


def test_version_1_refuses_version_2_keys(patient):
    doc = export_document()
    doc["format"] = "lutetia-cohort/1"
    doc.pop("fields")
    result = import_document(doc)
    paths = {e.path for e in result.errors}
    assert "fields" not in paths  # removed above; the rest are the patient's new keys
    assert "patients[0].who_grade" in paths and "patients[0].courses[0].ecog" in paths


# ------------------------------------------------------------------ forms

FORM_URLS = {
    "patient": "patient_edit",
    "course": "course_edit",
    "cycle": "cycle_edit",
    "adverse": "adverse_edit",
    "prior": "prior_edit",
}


def _form_data(patient: m.Patient, kind: str, obj) -> dict[str, str]:
    """Everything the edit form posts, as stored now."""
    if kind == "patient":
        return {
            "study_id": obj.study_id,
            "site": str(obj.site_id),
            "sex": obj.sex,
            "primary_site": obj.primary_site,
            "diagnosis_date": str(obj.diagnosis_date),
            "last_follow_up": str(obj.last_follow_up),
            "death_date": str(obj.death_date),
            "version": str(obj.version),
        }
    if kind == "course":
        data = {"phase": obj.phase, "intended_activity_gbq": "14.8", "version": str(obj.version)}
        data["liver_metastases"] = "true"
        return data
    if kind == "cycle":
        return {
            "course": str(obj.course_id),
            "date": str(obj.date),
            "administered_gbq": "7.4",
            "warning_reason": "checked with the patient",
            "version": str(obj.version),
        }
    if kind == "adverse":
        return {
            "term": obj.term,
            "grade": "1",
            "onset": str(obj.onset),
            "version": str(obj.version),
        }
    return {"type": obj.type, "start": str(obj.start), "version": str(obj.version)}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_form_round_trip_and_refusal(case, patient, client, clinician):
    client.force_login(clinician)
    obj = record(patient, case.kind)
    args = [patient.pk] if case.kind == "patient" else [patient.pk, obj.pk]
    url = reverse(FORM_URLS[case.kind], args=args)
    data = _form_data(patient, case.kind, obj)
    before = getattr(obj, case.attr)
    bad = client.post(url, {**data, case.attr: case.form_bad or str(case.bad)})
    assert bad.status_code == 200
    assert case.attr in bad.context["form"].errors, bad.context["form"].errors
    assert getattr(record(patient, case.kind), case.attr) == before
    good_value = case.form_good if case.form_good is not None else str(case.good)
    good = client.post(url, {**data, case.attr: good_value})
    assert good.status_code == 302, good.context["form"].errors if good.context else good
    assert getattr(record(patient, case.kind), case.attr) == case.model_value


def test_cause_of_death_needs_a_death_date_everywhere(patient, clinician):
    p = record(patient, "patient")
    p.death_date = None
    p.save()
    client = client_for(clinician)
    answer = client.patch(f"/api/v1/patients/{p.pk}/", {"cause_of_death": "disease"}, format="json")
    assert answer.status_code == 400 and "cause_of_death" in answer.json()
    doc = export_document()
    doc["patients"][0]["cause_of_death"] = "disease"
    errors = import_document(doc).errors
    assert [e.path for e in errors] == ["patients[0].cause_of_death"]


def test_the_patient_page_shows_the_record(patient, client, clinician):
    course = record(patient, "course")
    course.ecog, course.krenning_score, course.uptake_modality = 1, 3, "PET"
    course.bone_metastases, course.liver_load = True, "25to50"
    course.save()
    p = record(patient, "patient")
    p.who_grade, p.functional_syndrome, p.cause_of_death = "G2", "carcinoid", "disease"
    p.save()
    ae = record(patient, "adverse")
    ae.category, ae.serious = "mds", True
    ae.save()
    client.force_login(clinician)
    page = client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    for text in ("G2", "Carcinoid syndrome", "Disease (NET)", "liver (25–50 %), bone",
                 "on PET", "Myelodysplastic syndrome", "serious", "Surgery"):  # fmt: skip
        assert text in page, text
