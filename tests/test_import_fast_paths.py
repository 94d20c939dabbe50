"""The import's fast paths (issue 17) decide exactly as the slow ones they skip."""

from __future__ import annotations

import datetime as dt

import pytest

from registry.interchange.build import _surely_storable, _unstorable_values
from registry.interchange.facts import Row
from registry.interchange.rows import Checks, plain_lab

pytestmark = pytest.mark.django_db


def lab(**changes) -> Row:
    values = dict(date=dt.date(2020, 1, 2), analyte="platelets", value=150, unit="10^9/L")
    values |= dict(lln=None, uln=400)
    return Row(**{**values, **changes})


def test_a_plain_lab_skips_clean_fields_with_the_same_result():
    row = lab()
    assert plain_lab(row)
    assert type(row.value) is float and type(row.uln) is float  # as FloatField cleans them
    assert Checks({}).lab(row, ("labs", 0)) == []
    assert row.canonical_value == 150.0


@pytest.mark.parametrize(
    ("changes", "refused"),
    [
        ({"value": True}, False),  # FloatField reads True as 1.0 (the schema refuses it first)
        ({"value": "150"}, False),
        ({"value": 2**60}, True),  # implausible, but past 2**53 it takes the full path
        ({"date": "2020-01-02"}, False),
        ({"date": dt.datetime(2020, 1, 2)}, False),
        ({"analyte": "sodium"}, True),
        ({"unit": ""}, True),
        ({"unit": "x" * 17}, True),
        ({"lln": "low"}, True),
        ({"value": None}, True),
        ({"date": "2020-02-30"}, True),
    ],
)
def test_anything_unusual_takes_the_full_path_and_its_messages(changes, refused):
    row = lab(**changes)
    assert not plain_lab(row)
    assert bool(Checks({}).lab(row, ("labs", 0))) is refused


def test_a_plain_lab_still_gets_the_models_own_checks():
    errors = Checks({}).lab(lab(unit="mmol/L"), ("labs", 0))
    assert errors and errors[0][0] == ("labs", 0, "unit")
    future = Checks({}).lab(lab(date=dt.date(2999, 1, 1)), ("labs", 0))
    assert future and future[0][0] == ("labs", 0, "date")


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"date": dt.date(2999, 1, 1)},
        {"date": dt.date(1899, 12, 31)},
        {"date": dt.date(1900, 1, 1)},
        {"unit": "mmol/L"},
        {"value": 1e7},  # implausible
        {"analyte": "hemoglobin", "value": 8.1, "unit": "mmol/L"},
        {"analyte": "creatinine", "value": 1.1, "unit": "mg/dL"},
    ],
)
def test_the_quick_lab_check_says_what_the_models_clean_says(changes):
    """`quick_lab` calls LabResult's rules directly; the instance path gives the same."""
    from registry.interchange.rows import LAB_FIELDS, _ModelCheck
    from registry.models import LabResult

    quick, slow = lab(**changes), lab(**changes)
    assert plain_lab(quick) and plain_lab(slow)
    full = _ModelCheck(LabResult, LAB_FIELDS, plain=plain_lab)  # no quick path
    assert Checks({}).lab(quick, ("labs", 0)) == full(slow, ("labs", 0))
    assert getattr(quick, "canonical_value", None) == getattr(slow, "canonical_value", None)


@pytest.mark.parametrize(
    ("value", "storable"),
    [
        ({"a": "text", "b": [1, 2.5, None, {"c": True}]}, True),
        ({"a": "x\x00y"}, False),
        ({"a": "\ud800"}, False),
        ({"a": float("nan")}, False),
        ({"a": float("inf")}, False),
        ({"a": "a backslash-u0000 typed as text: \\u0000"}, False),  # only looked at closer
    ],
)
def test_the_one_pass_storability_check(value, storable):
    assert _surely_storable(value) is storable


def test_the_walk_still_names_each_unstorable_value():
    doc = {"format": "x", "patients": [{"study_id": "A"}, {"study_id": "B\x00", "x": 1e309}]}
    found = sorted(path for path, _ in _unstorable_values(doc))
    assert found == [("patients", 1, "study_id"), ("patients", 1, "x")]
    assert list(_unstorable_values({"format": "x", "patients": [{"study_id": "A"}]})) == []


def test_a_consumed_document_imports_and_errs_exactly_as_a_kept_one(reference):
    """`consume=True` lets each patient's JSON go once its batch is done; the import and
    its errors are the same."""
    import copy

    from registry import models as m
    from registry.interchange.documents import import_document

    doc = reference("example_cohort.json")
    broken = copy.deepcopy(doc)
    broken["patients"][0]["labs"][0]["unit"] = "furlongs"
    broken["patients"][-1]["study_id"] = broken["patients"][0]["study_id"]
    kept = import_document(copy.deepcopy(broken))
    consumed_doc = copy.deepcopy(broken)
    consumed = import_document(consumed_doc, consume=True)
    assert consumed.errors and consumed.errors == kept.errors
    assert m.Patient.objects.count() == 0

    mine = copy.deepcopy(doc)
    result = import_document(mine, consume=True)
    assert result.ok and result.created == len(doc["patients"])
    assert mine["patients"] == [None] * len(doc["patients"])
    again = import_document(copy.deepcopy(doc))
    assert again.ok and again.unchanged == len(doc["patients"])
