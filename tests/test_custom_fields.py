"""A centre's own variables (custom fields): every type at every level, through the form,
the API and the interchange; validation; identifying fields; retiring (issue 12)."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from registry import models as m
from registry.interchange.documents import export_document, import_document
from tests import factories
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db

START = dt.date(2005, 6, 1)
LEVELS = ("patient", "course", "cycle", "scan")


@dataclass(frozen=True)
class Kind:
    type: str
    good: Any  # as JSON carries it
    bad: Any
    form_good: str
    form_bad: str
    definition: tuple = ()  # extra attributes of the definition


TYPES = [
    Kind("number", 12.5, 150, "12.5", "150", (("minimum", 0), ("maximum", 100), ("unit", "SUV"))),
    Kind("integer", 3, 2.5, "3", "2.5", (("minimum", 0), ("maximum", 10))),
    Kind("boolean", True, "yes", "true", "maybe"),
    Kind("date", "2004-03-01", "2004-13-01", "2004-03-01", "2004-13-01"),
    Kind("text", "seen at the tumour board", 12, "seen at the tumour board", "x" * 2001),
    Kind("choice", "b", "z", "b", "z",
         (("choices", [{"code": "a", "label": "A"}, {"code": "b", "label": "B"}]),)),
]  # fmt: skip
MATRIX = [(level, kind) for level in LEVELS for kind in TYPES]
MATRIX_IDS = [f"{level}-{kind.type}" for level, kind in MATRIX]


def define(level: str, kind: Kind, **extra) -> m.CustomField:
    values = {
        "code": f"my_{kind.type}",
        "level": level,
        "type": kind.type,
        "label": f"My {kind.type}",
        **dict(kind.definition),
        **extra,
    }
    return m.CustomField.objects.create(**values)


@pytest.fixture
def patient(site):
    p = factories.PatientFactory(study_id="CF-001", site=site, last_follow_up=dt.date(2008, 1, 1))
    course = factories.CourseFactory(patient=p)
    factories.CycleFactory(course=course, date=START)
    scan = factories.ScanFactory(patient=p, date=START - dt.timedelta(days=10))
    factories.LesionFactory(scan=scan, lesion="L1", long_mm=40, short_mm=30)
    return p


def owner(patient: m.Patient, level: str):
    return {
        "patient": lambda: m.Patient.objects.get(pk=patient.pk),
        "course": lambda: m.Course.objects.get(patient=patient),
        "cycle": lambda: m.Cycle.objects.get(course__patient=patient),
        "scan": lambda: m.Scan.objects.get(patient=patient),
    }[level]()


RESOURCES = {"patient": "patients", "course": "courses", "cycle": "cycles", "scan": "scans"}


# ------------------------------------------------------------------ API


@pytest.mark.parametrize(("level", "kind"), MATRIX, ids=MATRIX_IDS)
def test_api_stores_checks_and_returns_each_type_at_each_level(level, kind, patient, clinician):
    field = define(level, kind)
    client = client_for(clinician)
    url = f"/api/v1/{RESOURCES[level]}/{owner(patient, level).pk}/"
    bad = client.patch(url, {"custom": {field.code: kind.bad}}, format="json")
    assert bad.status_code == 400, bad.content
    assert list(bad.json()["custom"]) == [field.code]  # the error names the field
    assert owner(patient, level).custom == {}
    good = client.patch(url, {"custom": {field.code: kind.good}}, format="json")
    assert good.status_code == 200, good.content
    assert good.json()["custom"] == {field.code: kind.good}
    assert owner(patient, level).custom == {field.code: kind.good}
    # null clears the value; an unknown code and another level's code are refused by name
    assert client.patch(url, {"custom": {field.code: None}}, format="json").json()["custom"] == {}
    unknown = client.patch(url, {"custom": {"nope": 1}}, format="json")
    assert unknown.status_code == 400 and "nope" in unknown.json()["custom"]
    other = next(x for x in LEVELS if x != level)
    define(other, TYPES[0], code="elsewhere")
    wrong = client.patch(url, {"custom": {"elsewhere": 1}}, format="json")
    assert wrong.status_code == 400 and "elsewhere" in wrong.json()["custom"]


# ------------------------------------------------------------------ interchange


def _holder(doc: dict, level: str) -> dict:
    p = doc["patients"][0]
    return {
        "patient": p,
        "course": p["courses"][0],
        "cycle": p["courses"][0]["cycles"][0],
        "scan": p["scans"][0],
    }[level]


@pytest.mark.parametrize(("level", "kind"), MATRIX, ids=MATRIX_IDS)
def test_interchange_carries_definitions_and_values(level, kind, patient):
    field = define(level, kind)
    doc = export_document()
    assert [f["code"] for f in doc["fields"]] == [field.code]
    m.Patient.objects.all().delete()
    m.CustomField.objects.all().delete()

    bad = copy.deepcopy(doc)
    _holder(bad, level)["custom"] = {field.code: kind.bad}
    errors = import_document(bad).errors
    assert [e.path for e in errors][-1].endswith(f"custom.{field.code}"), errors
    assert not m.Patient.objects.exists() and not m.CustomField.objects.exists()

    good = copy.deepcopy(doc)
    _holder(good, level)["custom"] = {field.code: kind.good}
    assert import_document(good).ok
    assert m.CustomField.objects.get(code=field.code).type == kind.type  # defined by the import
    again = export_document()
    assert _holder(again, level)["custom"] == {field.code: kind.good}
    assert again["fields"] == good["fields"]
    assert import_document(again).unchanged == 1


def test_a_document_may_not_change_a_fields_type(patient):
    define("patient", TYPES[0])
    doc = export_document()
    doc["fields"][0]["type"] = "text"
    errors = import_document(doc).errors
    assert "fields[0].type" in [e.path for e in errors]


# ------------------------------------------------------------------ forms


def _form(patient: m.Patient, level: str, client) -> tuple[str, dict[str, str]]:
    obj = owner(patient, level)
    if level == "patient":
        url = reverse("patient_edit", args=[patient.pk])
        data = {
            "study_id": obj.study_id,
            "site": str(obj.site_id),
            "sex": obj.sex,
            "primary_site": obj.primary_site,
            "version": str(obj.version),
        }
    elif level == "course":
        url = reverse("course_edit", args=[patient.pk, obj.pk])
        data = {"phase": obj.phase, "version": str(obj.version)}
    elif level == "cycle":
        url = reverse("cycle_edit", args=[patient.pk, obj.pk])
        data = {
            "course": str(obj.course_id),
            "date": str(obj.date),
            "administered_gbq": "7.4",
            "warning_reason": "checked",
            "version": str(obj.version),
        }
    else:
        url = reverse("scan_edit", args=[patient.pk, obj.pk])
        data = {
            "scanned_on": str(obj.date),
            "modality": obj.modality,
            "version": str(obj.version),
            "lesions-TOTAL_FORMS": "1",
            "lesions-INITIAL_FORMS": "1",
            "lesions-MIN_NUM_FORMS": "0",
            "lesions-MAX_NUM_FORMS": "1000",
            "lesions-0-lesion": "L1",
            "lesions-0-target": "on",
            "lesions-0-long_mm": "40",
            "lesions-0-short_mm": "30",
        }
    return url, data


@pytest.mark.parametrize(("level", "kind"), MATRIX, ids=MATRIX_IDS)
def test_forms_offer_check_and_save_each_type_at_each_level(
    level, kind, patient, client, clinician
):
    field = define(level, kind)
    client.force_login(clinician)
    url, data = _form(patient, level, client)
    name = f"custom__{field.code}"
    assert f'name="{name}"' in client.get(url).content.decode()
    bad = client.post(url, {**data, name: kind.form_bad})
    assert bad.status_code == 200
    assert name in bad.context["form"].errors, bad.context["form"].errors
    assert owner(patient, level).custom == {}
    good = client.post(url, {**data, name: kind.form_good})
    assert good.status_code == 302, good.context["form"].errors if good.context else good
    assert owner(patient, level).custom == {field.code: kind.good}


def test_a_new_record_form_takes_custom_values(patient, client, clinician):
    field = define("course", TYPES[5])
    client.force_login(clinician)
    response = client.post(
        reverse("course_new", args=[patient.pk]), {"phase": "salvage", f"custom__{field.code}": "a"}
    )
    assert response.status_code == 302
    assert m.Course.objects.filter(patient=patient, custom={field.code: "a"}).count() == 1


def test_the_model_refuses_a_value_that_breaks_its_definition(patient):
    define("patient", TYPES[0])
    p = owner(patient, "patient")
    p.custom = {"my_number": 150}
    with pytest.raises(ValidationError) as caught:
        p.full_clean()
    assert "my_number" in str(caught.value.message_dict["custom"])


# ------------------------------------------------------------------ identifying


@pytest.fixture
def gp(patient, clinician):
    from registry.records.facts import save_fact

    m.CustomField.objects.create(
        code="gp_name", level="patient", type="text", label="GP", identifying=True
    )
    p = owner(patient, "patient")
    p.custom = {"gp_name": "Dr Old Secretname"}
    save_fact(p, by=clinician)
    p.custom = {"gp_name": "Dr New Secretname"}
    save_fact(p, by=clinician)
    return p


def test_research_never_sees_an_identifying_field(gp, client, clinician, researcher):
    secrets = ("Secretname",)
    client.force_login(researcher)
    page = client.get(reverse("patient_detail", args=[gp.pk])).content.decode()
    assert not any(s in page for s in secrets)  # the page and its history
    api = client_for(researcher).get(f"/api/v1/patients/{gp.pk}/").json()
    assert api["custom"] == {"gp_name": None}
    csv = client.get(reverse("research_export_csv", args=["patients"]) + "?coverage=registry")
    body = b"".join(csv.streaming_content).decode() if csv.streaming else csv.content.decode()
    assert "gp_name" not in body and not any(s in body for s in secrets)
    deidentified = export_document(deidentified=True)
    assert deidentified["patients"][0]["custom"] == {"gp_name": None}
    # … while the clinician sees it, and its history.
    client.force_login(clinician)
    page = client.get(reverse("patient_detail", args=[gp.pk])).content.decode()
    assert "Dr New Secretname" in page and "Dr Old Secretname" in page
    assert client_for(clinician).get(f"/api/v1/patients/{gp.pk}/").json()["custom"] == {
        "gp_name": "Dr New Secretname"
    }


# ------------------------------------------------------------------ retiring


def test_a_retired_field_keeps_its_values_everywhere(patient, client, clinician, researcher):
    field = define("patient", TYPES[5])
    p = owner(patient, "patient")
    p.custom = {field.code: "b"}
    p.save()
    field.retired = True
    field.save()
    client.force_login(clinician)
    url, data = _form(patient, "patient", client)
    form_page = client.get(url).content.decode()
    assert f"custom__{field.code}" not in form_page  # gone from the form …
    assert client.post(url, data).status_code == 302
    assert owner(patient, "patient").custom == {field.code: "b"}  # … but an edit keeps it
    assert (
        "My choice (retired)"
        in client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    )
    doc = export_document()
    assert doc["patients"][0]["custom"] == {field.code: "b"}
    assert doc["fields"][0]["code"] == field.code
    client.force_login(researcher)
    csv = client.get(reverse("research_export_csv", args=["patients"]) + "?coverage=registry")
    body = b"".join(csv.streaming_content).decode() if csv.streaming else csv.content.decode()
    assert "custom_my_choice" in body.splitlines()[0]
    dictionary = client.get(
        reverse("research_export_csv", args=["dictionary"]) + "?coverage=registry"
    )
    text = (
        b"".join(dictionary.streaming_content) if dictionary.streaming else dictionary.content
    ).decode()
    row = next(line for line in text.splitlines() if ",custom_my_choice," in line)
    assert "My choice" in row and "retired" in row and "a=A; b=B" in row


def test_a_definition_with_values_keeps_its_type_and_is_never_deleted(patient, admin_user):
    from django.contrib.admin.sites import site as admin_site

    field = define("patient", TYPES[0])
    p = owner(patient, "patient")
    p.custom = {field.code: 5}
    p.save()
    field.type = "text"
    with pytest.raises(ValidationError) as caught:
        field.full_clean()
    assert "type" in caught.value.message_dict
    model_admin = admin_site._registry[m.CustomField]
    assert model_admin.has_delete_permission(None, field) is False


def test_admin_retires_and_restores(patient, client, django_user_model):
    field = define("patient", TYPES[0])
    client.force_login(django_user_model.objects.create_superuser("root", "r@x.org", "pw-1234567"))
    url = reverse("admin:registry_customfield_changelist")
    answer = client.post(url, {"action": "retire", "_selected_action": [field.pk], "index": 0})
    assert answer.status_code == 302, answer.content[:300]
    field.refresh_from_db()
    assert field.retired
    assert field.history.first().history_change_reason == "retired"
    client.post(url, {"action": "restore", "_selected_action": [field.pk]})
    field.refresh_from_db()
    assert not field.retired


# ------------------------------------------------------------------ research


def test_filters_strata_and_covariates_use_custom_fields(
    admin_user, django_capture_on_commit_callbacks
):
    from registry.interchange.demo import create_demo_cohort

    with django_capture_on_commit_callbacks(execute=True):
        create_demo_cohort(40, seed=11)
    client = client_for(admin_user)
    base = "/api/v1/analyses/survival/?endpoint=ttp&phase=regular"
    strata = client.get(base + "&strata=custom.enets_stage").json()
    labels = {g["label"] for g in strata["groups"]}
    assert labels <= {"II", "III", "IV", "unknown"} and "IV" in labels
    everyone = client.get(base).json()["groups"][0]["n"]
    narrowed = client.get(base + "&custom.enets_stage=IV").json()["groups"][0]["n"]
    stage_iv = next(g["n"] for g in strata["groups"] if g["label"] == "IV")
    assert narrowed == stage_iv < everyone
    refused = client.get(base + "&custom.nope=1")
    assert refused.status_code == 400 and "custom.nope" in refused.json()
    cox = client.get(
        "/api/v1/analyses/cox/?endpoint=ttp&phase=regular&covariates=ecog,custom.enets_stage"
    )
    assert cox.status_code == 200, cox.content
    assert {t["covariate"] for t in cox.json()["terms"]} == {"ecog", "custom.enets_stage"}
    for name in ("who_grade", "ecog", "krenning_score"):
        answer = client.get(base + f"&strata={name}")
        assert answer.status_code == 200 and len(answer.json()["groups"]) > 1, name
    liver = client.get(base + "&liver_metastases=true").json()["groups"][0]["n"]
    assert 0 < liver < everyone
