"""CLINICAL.md §6 plausibility: each limit on both sides, the change rules, the likely unit."""

from __future__ import annotations

from datetime import date

import pytest

from registry.clinical import plausibility as p
from registry.clinical.facts import LabFact, PatientFacts
from registry.clinical.quality import lab_findings

D = date(2020, 3, 1)


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "odd"),
    [
        ("platelets", 5.0, "10^9/L", False),  # the limits themselves are usual
        ("platelets", 4.99, "10^9/L", True),
        ("platelets", 1500.0, "10^9/L", False),
        ("platelets", 1500.01, "10^9/L", True),
        ("platelets", 180, "/mm3", True),  # 0.18 × 10⁹/L
        ("platelets", 180_000, "/mm3", False),
        ("wbc", 0.2, "10^9/L", False),
        ("wbc", 0.19, "10^9/L", True),
        ("wbc", 200.0, "10^9/L", False),
        ("wbc", 200.1, "10^9/L", True),
        ("neutrophils", 0.0, "10^9/L", False),  # no lower limit
        ("neutrophils", 100.0, "10^9/L", False),
        ("neutrophils", 100.1, "10^9/L", True),
        ("lymphocytes", 100.0, "10^9/L", False),
        ("lymphocytes", 100.1, "10^9/L", True),
        ("hemoglobin", 3.0, "g/dL", False),
        ("hemoglobin", 2.99, "g/dL", True),
        ("hemoglobin", 22.0, "g/dL", False),
        ("hemoglobin", 22.01, "g/dL", True),
        ("hemoglobin", 221, "g/L", True),  # 22.1 g/dL
        ("hemoglobin", 12, "mmol/L", False),  # 19.3 g/dL: usual by value (the jump catches it)
        ("creatinine", 20.0, "umol/L", False),
        ("creatinine", 19.9, "umol/L", True),
        ("creatinine", 1500.0, "umol/L", False),
        ("creatinine", 1500.1, "umol/L", True),
        ("creatinine", 1.1, "mg/dL", False),  # 97.2 µmol/L
        ("alt", 5000, "U/L", False),  # no usual range for ALT
    ],
)
def test_usual_range(analyte, value, unit, odd):
    found = p.check_value(analyte, value, unit)
    assert (found is not None) is odd
    if found:
        assert found.code == "implausible_value"


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "likely", "text"),
    [
        ("platelets", 180, "/mm3", "10^9/L", "180 /mm3 is 0.18 × 10⁹/L"),
        ("creatinine", 1.1, "umol/L", "mg/dL", "1.1 µmol/L, below 20 µmol/L"),
        ("hemoglobin", 2.5, "g/dL", "mmol/L", "did you mean mmol/L?"),
        ("platelets", 9000, "10^9/L", "/mm3", "above 1500 × 10⁹/L"),
    ],
)
def test_the_message_names_the_likely_intended_unit(analyte, value, unit, likely, text):
    found = p.check_value(analyte, value, unit)
    assert found.likely_unit == likely
    assert text in found.message and "did you mean" in found.message


def test_no_unit_makes_an_impossible_value_usual():
    found = p.check_value("neutrophils", 150, "10^9/L")  # 150 /mm3 = 0.15: usual, suggested
    assert found.likely_unit == "/mm3"
    assert p.likely_unit("hemoglobin", 1.5, "g/dL") is None  # 0.15 or 2.4 g/dL: neither


@pytest.mark.parametrize(
    ("analyte", "before", "after", "days", "odd"),
    [
        ("platelets", 150.0, 50.0, 10, False),  # exactly a factor 3 is usual
        ("platelets", 150.0, 49.9, 10, True),
        ("platelets", 50.0, 150.0, 10, False),
        ("platelets", 50.0, 150.1, 10, True),  # either way
        ("wbc", 6.0, 1.9, 30, True),  # day 30 is inside the window
        ("wbc", 6.0, 1.9, 31, False),  # day 31 is not
        ("neutrophils", 3.0, 0.9, 5, True),
        ("lymphocytes", 1.5, 0.4, 5, True),
        ("creatinine", 80.0, 241.0, 14, True),
        ("creatinine", 80.0, 240.0, 14, False),
        ("hemoglobin", 12.0, 16.0, 10, False),  # exactly 4 g/dL
        ("hemoglobin", 12.0, 16.01, 10, True),
        ("hemoglobin", 12.0, 7.99, 10, True),
        ("hemoglobin", 12.0, 19.33, 7, True),  # 12 entered as mmol/L
        ("alt", 20.0, 400.0, 5, False),  # not a checked analyte
        ("platelets", 150.0, 20.0, 0, False),  # same day: not a previous value
    ],
)
def test_change_from_the_previous_value(analyte, before, after, days, odd):
    found = p.check_change(analyte, after, date.fromordinal(D.toordinal() + days), (D, before))
    assert (found is not None) is odd
    if found:
        assert found.code == "implausible_change" and "check the value" in found.message


def test_previous_value_is_the_latest_earlier_one():
    history = [(date(2020, 1, 1), "platelets", 100.0), (date(2020, 2, 1), "platelets", 120.0),
               (date(2020, 3, 1), "platelets", 130.0), (date(2020, 2, 15), "wbc", 5.0)]  # fmt: skip
    assert p.previous_value(history, "platelets", date(2020, 3, 1)) == (date(2020, 2, 1), 120.0)
    assert p.previous_value(history, "platelets", date(2020, 1, 1)) is None
    assert p.previous_value(history, "wbc", date(2020, 3, 1)) == (date(2020, 2, 15), 5.0)


def _facts(*labs: LabFact) -> PatientFacts:
    return PatientFacts(
        study_id="P-1", sex="F", birth_date=None, diagnosis_date=None, last_follow_up=None,
        death_date=None, weight_kg=None, courses=(), labs=labs, scans=(),
        clinical_progressions=(),
    )  # fmt: skip


def test_a_patients_findings_report_each_mix_up_once_at_the_value_that_jumped():
    labs = (
        LabFact(date(2020, 1, 1), "platelets", 200, "10^9/L", 200.0),
        LabFact(date(2020, 1, 20), "platelets", 180, "/mm3", 0.18),  # odd value and a jump
        LabFact(date(2020, 3, 1), "platelets", 190, "10^9/L", 190.0),  # 41 days later: no jump
        LabFact(date(2020, 1, 1), "hemoglobin", 7.5, "mmol/L", 12.08),
        LabFact(date(2020, 1, 10), "hemoglobin", 12, "mmol/L", 19.33),  # jump only
    )
    found = [(f.code, f.message[:18]) for f in lab_findings(_facts(*labs))]
    assert found == [
        ("implausible_change", "Lab of 2020-01-10:"),
        ("implausible_value", "Lab of 2020-01-20:"),
        ("implausible_change", "Lab of 2020-01-20:"),
    ]
    assert lab_findings(_facts(labs[0], labs[2])) == []


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "canonical"),
    [
        ("chromogranin_a", 120.0, "ng/mL", 120.0),
        ("nse", 14.5, "ng/mL", 14.5),
        ("nse", 14.5, "µg/L", 14.5),
        ("u_5hiaa", 10.0, "mg/24h", 52.3),  # × 5.23 (CLINICAL.md §6)
        ("u_5hiaa", 40.0, "umol/24h", 40.0),
    ],
)
def test_tumour_marker_units(analyte, value, unit, canonical):
    from registry.clinical import units

    assert units.to_canonical(analyte, value, unit) == pytest.approx(canonical)
    with pytest.raises(units.UnitError):
        units.measure(analyte, value, "mmol/L")
