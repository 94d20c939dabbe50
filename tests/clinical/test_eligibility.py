"""Pre-cycle eligibility warnings (CLINICAL.md §7)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from registry.clinical import units
from registry.clinical.eligibility import EligibilityThresholds, check_before_cycle
from registry.clinical.facts import CourseFact, CycleFact, LabFact, PatientFacts

CYCLE = date(2010, 6, 1)


def lab(days_before: int, analyte: str, value: float, unit: str) -> LabFact:
    return LabFact(
        CYCLE - timedelta(days=days_before),
        analyte,
        value,
        unit,
        units.to_canonical(analyte, value, unit),
    )


GOOD = (
    lab(3, "hemoglobin", 7.0, "mmol/L"),
    lab(3, "wbc", 4.0, "10^9/L"),
    lab(3, "platelets", 200, "10^9/L"),
    lab(3, "creatinine", 80, "umol/L"),
)


def patient(labs=GOOD, cycles=(), weight=None, birth=date(1950, 1, 1)) -> PatientFacts:
    courses = (CourseFact(1, "salvage", tuple(cycles)),) if cycles else ()
    return PatientFacts("E-1", "F", birth, None, None, None, weight, courses, tuple(labs), (), ())


def codes(p: PatientFacts, activity: float = 7.4, **kw) -> list[str]:
    return [w.code for w in check_before_cycle(p, CYCLE, activity, **kw)]


def replace(analyte: str, value: float, unit: str, days_before: int = 3) -> tuple[LabFact, ...]:
    return (*(x for x in GOOD if x.analyte != analyte), lab(days_before, analyte, value, unit))


def test_all_good() -> None:
    assert codes(patient()) == []


@pytest.mark.parametrize(
    ("analyte", "ok", "low", "unit"),
    [
        ("hemoglobin", 6.0, 5.99, "mmol/L"),
        ("hemoglobin", 9.7, 9.69, "g/dL"),
        ("hemoglobin", 97, 96.9, "g/L"),
        ("wbc", 2.0, 1.99, "10^9/L"),
        ("platelets", 75, 74.9, "10^9/L"),
        ("platelets", 75000, 74900, "/mm3"),
    ],
)
def test_count_thresholds_both_sides(analyte: str, ok: float, low: float, unit: str) -> None:
    assert codes(patient(replace(analyte, ok, unit))) == []
    assert codes(patient(replace(analyte, low, unit))) == [f"low_{analyte}"]


def test_creatinine_threshold_and_clearance() -> None:
    assert codes(patient(replace("creatinine", 150, "umol/L"))) == []
    assert codes(patient(replace("creatinine", 151, "umol/L"))) == ["high_creatinine"]
    # Cockcroft–Gault for a 60-year-old woman: (140-60) × w / (72 × 151/88.4) × 0.85
    heavy = patient(replace("creatinine", 151, "umol/L"), weight=80)
    assert codes(heavy) == []  # clearance ≈ 47 mL/min
    light = patient(replace("creatinine", 151, "umol/L"), weight=60)
    assert codes(light) == ["high_creatinine"]  # ≈ 35 mL/min


def test_lookback_window_14_days() -> None:
    assert codes(patient(replace("wbc", 4.0, "10^9/L", days_before=14))) == []
    assert codes(patient(replace("wbc", 4.0, "10^9/L", days_before=15))) == ["missing_recent_wbc"]
    assert codes(patient(replace("wbc", 4.0, "10^9/L", days_before=0))) == []
    assert codes(patient(labs=())) == [
        "missing_recent_hemoglobin",
        "missing_recent_wbc",
        "missing_recent_platelets",
        "missing_recent_creatinine",
    ]


def test_latest_value_wins() -> None:
    labs = (*GOOD, lab(10, "platelets", 50, "10^9/L"))
    assert codes(patient(labs)) == []
    labs = (*replace("platelets", 200, "10^9/L", days_before=10), lab(1, "platelets", 50, "10^9/L"))
    assert codes(patient(labs)) == ["low_platelets"]


def test_interval_since_previous_cycle() -> None:
    assert codes(patient(cycles=[CycleFact(CYCLE - timedelta(days=42), 7.4)])) == []
    assert codes(patient(cycles=[CycleFact(CYCLE - timedelta(days=41), 7.4)])) == ["short_interval"]


def test_lifetime_activity() -> None:
    previous = [CycleFact(CYCLE - timedelta(days=100 * i), 7.4) for i in range(1, 6)]  # 37.0
    assert codes(patient(cycles=previous), 7.4) == []  # 44.4 exactly
    assert codes(patient(cycles=previous), 7.45) == ["lifetime_activity_exceeded"]
    same_day = [*previous, CycleFact(CYCLE, 7.4)]  # the cycle itself is not counted twice
    assert codes(patient(cycles=same_day), 7.4) == []


def test_toxicity_not_recovered() -> None:
    previous = [CycleFact(CYCLE - timedelta(days=56), 7.4)]
    grade3 = lab(28, "platelets", 40, "10^9/L")
    still2 = (*replace("platelets", 60, "10^9/L", days_before=2), grade3)
    assert codes(patient(still2, cycles=previous)) == ["low_platelets", "toxicity_not_recovered"]
    back1 = (*replace("platelets", 100, "10^9/L", days_before=2), grade3)
    assert codes(patient(back1, cycles=previous)) == []
    grade2 = lab(28, "platelets", 60, "10^9/L")
    assert codes(patient((*replace("platelets", 60, "10^9/L", 2), grade2), cycles=previous)) == [
        "low_platelets"
    ]


def test_thresholds_are_settings() -> None:
    strict = EligibilityThresholds(platelets_min=250)
    assert codes(patient(), thresholds=strict) == ["low_platelets"]
    warnings = check_before_cycle(patient(replace("wbc", 1.5, "10^9/L")), CYCLE, 7.4)
    assert warnings[0].field == "wbc" and "2" in warnings[0].message
