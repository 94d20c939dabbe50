"""CTCAE v5.0 grading, baselines and toxicity windows (CLINICAL.md §5)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.clinical import units
from registry.clinical.ctcae import (
    baseline_lab,
    default_lln,
    default_uln,
    grade_lab,
    toxicity_window,
    worst_grades,
)
from registry.clinical.facts import CourseFact, CycleFact, LabFact
from tests.clinical.conftest import load_reference

VECTORS = load_reference("ctcae_v5_vectors.json")["vectors"]


@pytest.mark.parametrize(
    "v", VECTORS, ids=[f"{v['analyte']}-{v['value']}-{v.get('baseline', '')}" for v in VECTORS]
)
def test_reference_vectors(v: dict) -> None:
    grade = grade_lab(
        v["analyte"],
        v["value"],
        v["unit"],
        sex=v["sex"],
        lln=v.get("lln"),
        uln=v.get("uln"),
        baseline=v.get("baseline"),
    )
    assert grade == v["grade"]


@pytest.mark.parametrize(
    ("value", "unit", "sex", "grade"),
    [
        (7.5, "mmol/L", "F", 0),
        (7.49, "mmol/L", "F", 1),
        (8.49, "mmol/L", "M", 1),
        (8.5, "mmol/L", "M", 0),
        (6.2, "mmol/L", "F", 1),
        (6.19, "mmol/L", "F", 2),
        (4.9, "mmol/L", "F", 2),  # "a Dutch 4.9 mmol/L is grade 2"
        (4.89, "mmol/L", "F", 3),
        (120, "g/L", "F", 0),
        (119, "g/L", "F", 1),
        (100, "g/L", "F", 1),
        (99, "g/L", "F", 2),
        (80, "g/L", "F", 2),
        (79, "g/L", "F", 3),
        (13.5, "g/dL", "M", 0),
        (13.4, "g/dL", "U", 1),
        (13.4, "g/dL", None, 1),
        (3.0, "g/dL", "F", 3),  # grade 4 is clinical only
    ],
)
def test_hemoglobin_in_unit_entered(value: float, unit: str, sex: str | None, grade: int) -> None:
    assert grade_lab("hemoglobin", value, unit, sex=sex) == grade


def test_hemoglobin_lab_lln_overrides_default() -> None:
    assert grade_lab("hemoglobin", 11.0, "g/dL", sex="F", lln=11.0) == 0
    assert grade_lab("hemoglobin", 9.6, "g/dL", sex="F", lln=9.5) == 0
    assert grade_lab("hemoglobin", 9.4, "g/dL", sex="F", lln=9.5) == 2


@pytest.mark.parametrize(
    ("value", "unit", "grade"),
    [
        (150000, "/mm3", 0),
        (149999, "/mm3", 1),
        (75000, "/mm3", 1),
        (74999, "/mm3", 2),
        (25, "10^3/uL", 3),
        (24.9, "10^3/µL", 4),
        (300, "10^9/L", 0),  # above the range is not a "decreased" grade
    ],
)
def test_platelets_other_units(value: float, unit: str, grade: int) -> None:
    assert grade_lab("platelets", value, unit, sex="F") == grade


@pytest.mark.parametrize(
    ("value", "uln", "grade"),
    [
        (1.0, 1.0, 0),
        (1.01, 1.0, 1),
        (1.5, 1.0, 1),  # exactly 1.5 × ULN
        (1.51, 1.0, 2),
        (3.0, 1.0, 2),
        (3.01, 1.0, 3),
        (6.0, 1.0, 3),
        (6.01, 1.0, 4),
    ],
)
def test_creatinine_mg_dl(value: float, uln: float, grade: int) -> None:
    assert grade_lab("creatinine", value, "mg/dL", sex="M", uln=uln) == grade


def test_creatinine_default_uln_converted_into_unit_entered() -> None:
    assert default_uln("creatinine", "mg/dL", "F") == pytest.approx(90 / 88.4)
    assert default_uln("creatinine", "umol/L", "M") == 110
    assert default_uln("creatinine", "umol/L", None) == 110
    # 135 µmol/L = 1.5 × 90: grade 1 in either unit; 136 is grade 2.
    assert grade_lab("creatinine", 135 / 88.4, "mg/dL", sex="F") == 1
    assert grade_lab("creatinine", 136 / 88.4, "mg/dL", sex="F") == 2
    assert grade_lab("creatinine", 165, "umol/L", sex="M") == 1
    assert grade_lab("creatinine", 166, "umol/L", sex="M") == 2


@pytest.mark.parametrize(
    ("value", "baseline", "grade"),
    [
        (75, 50, 0),  # exactly 1.5 × baseline, below ULN
        (76, 50, 2),
        (150, 50, 2),  # exactly 3.0 × baseline; 150/90 = 1.67 × ULN is grade 2 too
        (151, 50, 3),
        (600, 500, 4),  # 1.2 × baseline, but 6.67 × ULN: the worse grade wins
        (500, 400, 3),  # 5.56 × ULN
    ],
)
def test_creatinine_baseline_clause(value: float, baseline: float, grade: int) -> None:
    assert grade_lab("creatinine", value, "umol/L", sex="F", baseline=baseline) == grade


@pytest.mark.parametrize(
    ("analyte", "value", "baseline", "grade"),
    [
        # normal baseline (ULN 45 for ALT, 40 for AST)
        ("alt", 45, None, 0),
        ("alt", 46, None, 1),
        ("alt", 135, None, 1),
        ("alt", 135.1, None, 2),
        ("alt", 225, 30, 2),
        ("alt", 225.1, 30, 3),
        ("alt", 900, None, 3),
        ("alt", 900.1, None, 4),
        ("ast", 40, None, 0),
        ("ast", 40.1, None, 1),
        # abnormal baseline 100 (> ULN 45): multiples of baseline
        ("alt", 149.9, 100, 0),
        ("alt", 150, 100, 1),
        ("alt", 300, 100, 1),
        ("alt", 300.1, 100, 2),
        ("alt", 500, 100, 2),
        ("alt", 500.1, 100, 3),
        ("alt", 2000, 100, 3),
        ("alt", 2000.1, 100, 4),
        # bilirubin, ULN 17
        ("bilirubin", 17, None, 0),
        ("bilirubin", 25.5, None, 1),
        ("bilirubin", 25.6, None, 2),
        ("bilirubin", 51, 10, 2),
        ("bilirubin", 51.1, 10, 3),
        ("bilirubin", 170, None, 3),
        ("bilirubin", 170.1, None, 4),
        # abnormal bilirubin baseline 20
        ("bilirubin", 20, 20, 0),
        ("bilirubin", 20.1, 20, 1),
        ("bilirubin", 30, 20, 1),
        ("bilirubin", 30.1, 20, 2),
        ("bilirubin", 60.1, 20, 3),
        ("bilirubin", 200.1, 20, 4),
    ],
)
def test_liver(analyte: str, value: float, baseline: float | None, grade: int) -> None:
    assert grade_lab(analyte, value, "U/L" if analyte != "bilirubin" else "umol/L",
                     sex="F", baseline=baseline) == grade  # fmt: skip


def test_bilirubin_mg_dl_ratio_is_unit_free() -> None:
    uln = 17 / 17.1
    assert grade_lab("bilirubin", 1.5 * uln, "mg/dL", sex="F") == 1
    assert grade_lab("bilirubin", 1.5 * uln * 1.001, "mg/dL", sex="F") == 2


def test_ungraded_analytes() -> None:
    assert grade_lab("alp", 500, "U/L", sex="F") is None
    assert grade_lab("egfr", 20, "mL/min/1.73m2", sex="F") is None
    assert grade_lab("chromogranin_a", 5000, "ng/mL", sex="F") is None


def test_unknown_unit_raises() -> None:
    with pytest.raises(units.UnitError):
        grade_lab("platelets", 100, "g/L", sex="F")


def test_default_lln() -> None:
    assert default_lln("platelets", "/mm3", "F") == 150000
    assert default_lln("hemoglobin", "g/L", "M") == 135
    assert default_lln("creatinine", "umol/L", "F") is None


# ---------------------------------------------------------------- properties

COUNT_UNITS = st.sampled_from(["10^9/L", "10^3/uL", "/mm3"])
COUNTS = st.sampled_from(["platelets", "wbc", "neutrophils", "lymphocytes"])


@given(COUNTS, st.floats(0, 1000), st.floats(0, 1000), st.sampled_from(["F", "M", None]))
def test_count_grade_never_decreases_as_value_falls(analyte, a, b, sex) -> None:
    high, low = max(a, b), min(a, b)
    assert grade_lab(analyte, low, "10^9/L", sex=sex) >= grade_lab(analyte, high, "10^9/L", sex=sex)


@given(st.floats(0, 25), st.floats(0, 25), st.sampled_from(["g/dL", "g/L", "mmol/L"]))
def test_hemoglobin_grade_never_decreases_as_value_falls(a, b, unit) -> None:
    scale = {"g/dL": 1, "g/L": 10, "mmol/L": 1 / 1.611}[unit]
    high, low = max(a, b) * scale, min(a, b) * scale
    assert grade_lab("hemoglobin", low, unit, sex="F") >= grade_lab(
        "hemoglobin", high, unit, sex="F"
    )


@given(
    COUNTS,
    st.decimals(0, 500, places=3).map(float),
    COUNT_UNITS,
    COUNT_UNITS,
    st.sampled_from(["F", "M"]),
)
def test_count_unit_round_trip_keeps_grade(analyte, value, unit_a, unit_b, sex) -> None:
    entered = units.from_canonical(analyte, value, unit_a)
    other = units.from_canonical(analyte, units.to_canonical(analyte, entered, unit_a), unit_b)
    back = units.from_canonical(analyte, units.to_canonical(analyte, other, unit_b), unit_a)
    g = grade_lab(analyte, entered, unit_a, sex=sex)
    assert grade_lab(analyte, other, unit_b, sex=sex) == g
    assert grade_lab(analyte, back, unit_a, sex=sex) == g


@given(
    st.sampled_from(["creatinine", "bilirubin"]),
    st.decimals(1, 3000, places=1).map(float),
    st.decimals(1, 300, places=1).map(float),
    st.one_of(st.none(), st.decimals(1, 300, places=1).map(float)),
)
def test_ratio_grades_survive_unit_conversion(analyte, value, uln, baseline) -> None:
    kw = {"sex": "F", "uln": uln, "baseline": baseline}
    g = grade_lab(analyte, value, "umol/L", **kw)
    conv = {k: (units.from_canonical(analyte, v, "mg/dL") if isinstance(v, float) else v)
            for k, v in kw.items()}  # fmt: skip
    assert grade_lab(analyte, units.from_canonical(analyte, value, "mg/dL"), "mg/dL", **conv) == g


@given(st.decimals(0, 25, places=2).map(float))
def test_hemoglobin_g_dl_and_g_l_agree(value) -> None:
    g_l = units.from_canonical("hemoglobin", value, "g/L")
    assert grade_lab("hemoglobin", g_l, "g/L", sex="F") == grade_lab(
        "hemoglobin", value, "g/dL", sex="F"
    )


# ---------------------------------------------------------------- course level

START = date(2010, 1, 1)


def lab(day: int, analyte: str, value: float, unit: str = "10^9/L", **kw) -> LabFact:
    return LabFact(
        START + timedelta(days=day),
        analyte,
        value,
        unit,
        units.to_canonical(analyte, value, unit),
        **kw,
    )


COURSE = CourseFact(
    1, "salvage", (CycleFact(START, 7.4), CycleFact(START + timedelta(days=56), 7.4))
)


def test_labs_on_start_date_are_pre_treatment() -> None:
    grades = worst_grades(COURSE, [lab(0, "platelets", 20)], sex="F")
    assert grades["platelets"] is None
    assert grades["hematologic"] is None
    grades = worst_grades(COURSE, [lab(1, "platelets", 20)], sex="F")
    assert grades["platelets"] == 4


def test_window_ends_last_cycle_plus_days() -> None:
    on_edge = [lab(56 + 90, "platelets", 49)]
    after = [lab(56 + 91, "platelets", 49)]
    assert worst_grades(COURSE, on_edge, sex="F")["platelets"] == 3
    assert worst_grades(COURSE, after, sex="F")["platelets"] is None
    assert worst_grades(COURSE, after, sex="F", toxicity_window_days=91)["platelets"] == 3


def test_window_cut_by_next_course() -> None:
    end = START + timedelta(days=99)
    labs = [lab(99, "wbc", 2.5), lab(100, "wbc", 0.5)]
    assert worst_grades(COURSE, labs, sex="F", window_end=end)["wbc"] == 2
    assert toxicity_window(COURSE, end) == (START + timedelta(days=1), end)


def test_hematologic_is_worst_of_four_and_ignores_lymphocytes() -> None:
    labs = [
        lab(10, "hemoglobin", 6.1, "mmol/L"),
        lab(20, "platelets", 140),
        lab(30, "lymphocytes", 0.1),
    ]
    grades = worst_grades(COURSE, labs, sex="F")
    assert grades["hemoglobin"] == 2
    assert grades["platelets"] == 1
    assert grades["lymphocytes"] == 4
    assert grades["hematologic"] == 2
    assert grades["wbc"] is None
    assert set(grades) >= {"hematologic", "creatinine", "alt", "ast", "bilirubin"}


def test_baseline_lookback_90_days() -> None:
    labs = [lab(-91, "creatinine", 40, "umol/L"), lab(-90, "creatinine", 50, "umol/L")]
    assert baseline_lab(labs, "creatinine", START).value == 50
    assert baseline_lab(labs[:1], "creatinine", START) is None
    later = [*labs, lab(0, "creatinine", 60, "umol/L")]
    assert baseline_lab(later, "creatinine", START).value == 60


def test_course_baseline_drives_creatinine_clause_across_units() -> None:
    labs = [lab(-5, "creatinine", 50, "umol/L"), lab(30, "creatinine", 80 / 88.4, "mg/dL")]
    assert worst_grades(COURSE, labs, sex="F")["creatinine"] == 2
    assert worst_grades(COURSE, labs[1:], sex="F")["creatinine"] == 0


def test_course_baseline_abnormal_alt() -> None:
    labs = [lab(-5, "alt", 100, "U/L"), lab(30, "alt", 149, "U/L")]
    assert worst_grades(COURSE, labs, sex="F")["alt"] == 0
    labs = [lab(-5, "alt", 100, "U/L", uln=120), lab(30, "alt", 149, "U/L")]
    assert worst_grades(COURSE, labs, sex="F")["alt"] == 2  # normal baseline: 3.3 × ULN 45


def test_course_without_cycles_has_no_window() -> None:
    assert toxicity_window(CourseFact(9, "regular", ()), None) is None
    grades = worst_grades(CourseFact(9, "regular", ()), [lab(1, "wbc", 0.5)], sex="F")
    assert grades["wbc"] is None
