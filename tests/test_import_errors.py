"""A document with errors writes nothing and lists every error with its JSON path."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from registry import models as m
from registry.interchange.documents import import_document, validate_document
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def doc(reference):
    return copy.deepcopy(reference("example_cohort.json"))


def paths(errors) -> list[str]:
    return [e.path for e in errors]


def message_at(errors, path: str) -> str:
    found = [e.message for e in errors if e.path == path]
    assert found, f"no error at {path}: {[str(e) for e in errors]}"
    return found[0]


def test_three_errors_in_three_places_write_nothing_and_are_all_listed(doc):
    future = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    doc["patients"][0]["courses"][1]["cycles"][1]["date"] = future
    doc["patients"][0]["labs"][4]["unit"] = "furlongs"
    doc["patients"][1]["favourite_colour"] = "blue"
    result = import_document(doc)
    assert sorted(paths(result.errors)) == [
        "patients[0].courses[1].cycles[1].date",
        "patients[0].labs[4].unit",
        "patients[1].favourite_colour",
    ]
    assert (result.created, result.updated) == (0, 0)
    assert not m.Patient.objects.exists() and not m.Site.objects.exists()
    assert not m.Patient.history.exists()


def test_unknown_unit_lists_the_accepted_units(doc):
    doc["patients"][0]["labs"][0]["unit"] = "mg/mL"  # a hemoglobin value
    message = message_at(validate_document(doc), "patients[0].labs[0].unit")
    for unit in ("g/dL", "g/L", "mmol/L"):
        assert unit in message


def test_unknown_keys_are_errors_at_their_own_path(doc):
    doc["extra"] = 1
    doc["patients"][0]["scans"][0]["lesions"][0]["volume_ml"] = 3
    errors = validate_document(doc)
    assert "Unknown key" in message_at(errors, "extra")
    assert "volume_ml" in message_at(errors, "patients[0].scans[0].lesions[0].volume_ml")


def test_model_rules_are_reported_with_their_paths(doc):
    future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    doc["patients"][0]["labs"][1]["value"] = 9000  # platelets
    doc["patients"][1]["death_date"] = "2000-01-01"  # diagnosis 2001-05-10
    doc["patients"][1]["scans"][0]["date"] = future
    errors = validate_document(doc)
    assert "5000" in message_at(errors, "patients[0].labs[1].value")
    assert "diagnosis" in message_at(errors, "patients[1].death_date")
    assert "future" in message_at(errors, "patients[1].scans[0].date")


def test_schema_errors_have_useful_messages(doc):
    doc["patients"][0]["birth_date"] = "1951-02-30"
    doc["patients"][0]["ki67_percent"] = 150
    doc["patients"][0]["courses"][0]["cycles"][0]["activity_gbq"] = 0
    del doc["patients"][1]["primary_site"]
    errors = validate_document(doc)
    assert "not a valid date" in message_at(errors, "patients[0].birth_date")
    assert "100" in message_at(errors, "patients[0].ki67_percent")
    assert message_at(errors, "patients[0].courses[0].cycles[0].activity_gbq")
    assert "required" in message_at(errors, "patients[1].primary_site")


def test_rules_across_records(doc):
    doc["patients"][1]["study_id"] = "EX-001"
    doc["patients"][1]["site"] = "NOWHERE"
    cycles = doc["patients"][0]["courses"][0]["cycles"]
    cycles[2]["date"] = cycles[1]["date"]
    lesions = doc["patients"][0]["scans"][1]["lesions"]
    lesions[1]["lesion"] = lesions[0]["lesion"]
    errors = validate_document(doc)
    assert "patients[0]" in message_at(errors, "patients[1].study_id")
    assert "NOWHERE" in message_at(errors, "patients[1].site")
    assert message_at(errors, "patients[0].courses[0].cycles[2].date")
    assert message_at(errors, "patients[0].scans[1].lesions[1].lesion")
    assert len(errors) == 4


def test_site_known_to_the_registry_need_not_be_in_the_document(doc):
    factories.SiteFactory(code="DEMO")
    del doc["sites"]
    assert validate_document(doc) == []


@pytest.mark.parametrize(
    "bad",
    [
        [],
        "text",
        {"format": "lutetia-cohort/1"},
        {"format": "lutetia-cohort/3", "patients": []},
        {"format": "lutetia-cohort/1", "patients": ["x", 3, None]},
        {"format": "lutetia-cohort/1", "patients": [{"labs": "many", "courses": [[]]}]},
        {
            "format": "lutetia-cohort/1",
            "patients": [
                {
                    "study_id": "A",
                    "site": "S",
                    "primary_site": "midgut",
                    "ki67_percent": "high",
                    "labs": [{"date": [], "analyte": {}, "value": "x", "unit": 3}],
                    "scans": [
                        {"date": "2005-01-01", "modality": "CT", "lesions": [{"lesion": []}]}
                    ],
                }
            ],
        },
    ],
)
def test_malformed_documents_give_errors_not_exceptions(bad):
    result = import_document(bad)
    assert result.errors
    assert all(e.path and e.message for e in result.errors)
    assert not m.Patient.objects.exists()


def test_a_document_of_the_wrong_shape_points_at_the_root():
    assert paths(validate_document([])) == ["$"]
