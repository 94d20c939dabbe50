"""Independent review of units, CTCAE grading and kidney function (CLINICAL.md §5, §6).

Every expected value here is derived by hand from CLINICAL.md, never from
running the code; the arithmetic is written next to the case.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from registry.clinical import units
from registry.clinical.ctcae import baseline_lab, grade_lab, worst_grades
from registry.clinical.facts import CourseFact, CycleFact, LabFact, PatientFacts
from registry.clinical.kidney import age_years, ckd_epi_2021, cockcroft_gault
from registry.clinical.timeline import evaluate_patient

# ---------------------------------------------------------------- §6 units


@pytest.mark.parametrize(
    ("analyte", "spelling", "table"),
    [
        ("creatinine", "µmol/L", "umol/L"),
        ("creatinine", "μmol/L", "umol/L"),  # Greek mu, U+03BC
        ("creatinine", "umol/l", "umol/L"),
        ("creatinine", " UMOL / L ", "umol/L"),
        ("creatinine", "MG/DL", "mg/dL"),
        ("bilirubin", "µmol/l", "umol/L"),
        ("bilirubin", "mg / dl", "mg/dL"),
        ("platelets", "10^3/uL", "10^3/uL"),
        ("platelets", "10^3/µl", "10^3/uL"),
        ("wbc", "/MM3", "/mm3"),
        ("neutrophils", "10^9/l", "10^9/L"),
        ("lymphocytes", "10 ^ 9 / L", "10^9/L"),
        ("hemoglobin", "G/L", "g/L"),  # case is ignored: g/L, not giga/L
        ("hemoglobin", "g/dl", "g/dL"),
        ("hemoglobin", "MMOL/L", "mmol/L"),
        ("alt", "u/l", "U/L"),
        ("egfr", "ml/min/1.73 m2", "mL/min/1.73m2"),
        ("chromogranin_a", "ng/ml", "ng/mL"),
        ("chromogranin_a", "µg/L", "ug/L"),
    ],
)
def test_accepted_spellings(analyte: str, spelling: str, table: str) -> None:
    assert units.normalize_unit(analyte, spelling) == table


@pytest.mark.parametrize(
    ("analyte", "unit"),
    [
        ("platelets", "G/L"),  # not a table spelling for counts
        ("platelets", "10^9/mL"),
        ("wbc", "/µL"),
        ("hemoglobin", "mg/dL"),
        ("creatinine", "mmol/L"),
        ("alt", "IU/L"),
        ("alp", "ukat/L"),
        ("chromogranin_a", "nmol/L"),
        ("egfr", "mL/min"),
        ("bilirubin", ""),
    ],
)
def test_other_spellings_are_errors_listing_the_table(analyte: str, unit: str) -> None:
    with pytest.raises(units.UnitError) as err:
        units.normalize_unit(analyte, unit)
    for accepted in units.accepted_units(analyte):
        assert accepted in str(err.value)


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "canonical"),
    [
        ("hemoglobin", 8.0, "mmol/L", 12.888),  # 8.0 × 1.611
        ("hemoglobin", 125, "g/L", 12.5),  # ÷ 10
        ("platelets", 150000, "/mm3", 150.0),  # ÷ 1000
        ("wbc", 3.5, "10^3/uL", 3.5),  # × 1
        ("creatinine", 1.0, "mg/dL", 88.4),
        ("creatinine", 2.5, "mg/dL", 221.0),
        ("bilirubin", 2.0, "mg/dL", 34.2),  # × 17.1
        ("chromogranin_a", 120, "ng/mL", 120.0),
    ],
)
def test_conversions(analyte: str, value: float, unit: str, canonical: float) -> None:
    assert units.to_canonical(analyte, value, unit) == pytest.approx(canonical, abs=1e-9)


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "ok"),
    [
        ("hemoglobin", 25, "g/dL", True),  # "> 25 g/dL" is rejected, 25 is not
        ("hemoglobin", 25.1, "g/dL", False),
        ("hemoglobin", 250, "g/L", True),
        ("hemoglobin", 251, "g/L", False),
        ("hemoglobin", 15.5, "mmol/L", True),  # 24.97 g/dL
        ("hemoglobin", 15.6, "mmol/L", False),  # 25.13 g/dL
        ("platelets", 5000, "10^9/L", True),
        ("platelets", 5001, "10^3/uL", False),
        ("platelets", 5_000_001, "/mm3", False),
        ("wbc", 1000, "10^9/L", True),
        ("wbc", 1_000_100, "/mm3", False),
        ("creatinine", 5000, "umol/L", True),
        ("creatinine", 5001, "µmol/L", False),
        ("creatinine", 56, "mg/dL", True),  # 4950.4 µmol/L
        ("creatinine", 57, "mg/dL", False),  # 5038.8 µmol/L
        ("creatinine", 0, "umol/L", True),
        ("alt", -1, "U/L", False),
        ("egfr", -0.1, "mL/min/1.73m2", False),
        ("chromogranin_a", -5, "ng/mL", False),
    ],
)
def test_plausibility_limits(analyte: str, value: float, unit: str, ok: bool) -> None:
    if ok:
        units.measure(analyte, value, unit)
    else:
        with pytest.raises(units.PlausibilityError):
            units.measure(analyte, value, unit)


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "limit"),
    [("hemoglobin", 26, "g/dL", "25"), ("platelets", 6000, "10^9/L", "5000"),
     ("wbc", 2000, "10^9/L", "1000"), ("creatinine", 6000, "umol/L", "5000"),
     ("bilirubin", -1, "umol/L", "0")],
)  # fmt: skip
def test_plausibility_error_names_the_limit(analyte, value, unit, limit) -> None:
    with pytest.raises(units.PlausibilityError, match=limit):
        units.measure(analyte, value, unit)


# ---------------------------------------------------------------- §5 hemoglobin


@pytest.mark.parametrize(
    ("value", "unit", "sex", "grade"),
    [
        # g/dL defaults: F 12.0, M and unknown 13.5; cut-offs 10.0, 8.0
        (12.0, "g/dL", "F", 0),
        (11.99, "g/dL", "F", 1),
        (13.4, "g/dL", "F", 0),
        (13.5, "g/dL", "M", 0),
        (13.4, "g/dL", "M", 1),
        (13.4, "g/dL", "U", 1),
        (13.4, "g/dL", None, 1),
        (10.0, "g/dL", "M", 1),
        (9.99, "g/dL", "M", 2),
        (8.0, "g/dL", "M", 2),
        (7.99, "g/dL", "M", 3),
        (3.0, "g/dL", "M", 3),  # no grade 4 from a lab value
        # mmol/L defaults: F 7.5, M and unknown 8.5; cut-offs 6.2, 4.9
        (7.5, "mmol/L", "F", 0),
        (7.49, "mmol/L", "F", 1),
        (8.4, "mmol/L", "F", 0),
        (8.5, "mmol/L", "M", 0),
        (8.49, "mmol/L", "M", 1),
        (8.49, "mmol/L", "U", 1),
        (6.2, "mmol/L", "M", 1),  # converted: 9.988 g/dL would be grade 2
        (6.19, "mmol/L", "F", 2),
        (4.9, "mmol/L", "F", 2),  # the Dutch 4.9 is grade 2 (7.89 g/dL would be 3)
        (4.89, "mmol/L", "F", 3),
        (2.0, "mmol/L", "F", 3),
        # g/L defaults: ten times g/dL, F 120, M and unknown 135; cut-offs 100, 80
        (120, "g/L", "F", 0),
        (119, "g/L", "F", 1),
        (135, "g/L", "M", 0),
        (134, "g/L", "M", 1),
        (134, "g/L", None, 1),
        (125, "g/L", "F", 0),
        (100, "g/L", "F", 1),
        (99, "g/L", "F", 2),
        (80, "g/L", "F", 2),
        (79, "g/L", "F", 3),
        # spellings of the unit pick the same cut-offs
        (4.9, "MMOL/L", "F", 2),
        (99, "g/l", "F", 2),
    ],
)
def test_hemoglobin_cutoffs_and_default_lln(value, unit, sex, grade) -> None:
    assert grade_lab("hemoglobin", value, unit, sex=sex) == grade


@pytest.mark.parametrize(
    ("value", "unit", "lln", "grade"),
    [
        (116, "g/L", 115, 0),  # own LLN (below the F default 120)
        (114, "g/L", 115, 1),
        (7.2, "mmol/L", 7.0, 0),  # below the F default 7.5 but above its own LLN
        (6.9, "mmol/L", 7.0, 1),
        (12.5, "g/dL", 13.0, 1),  # F, above the F default but below its own LLN
    ],
)
def test_hemoglobin_lab_lln_in_its_own_unit(value, unit, lln, grade) -> None:
    assert grade_lab("hemoglobin", value, unit, sex="F", lln=lln) == grade


# ---------------------------------------------------------------- §5 counts


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "grade"),
    [
        ("platelets", 150000, "/mm3", 0),
        ("platelets", 149999, "/mm3", 1),
        ("platelets", 75000, "/mm3", 1),
        ("platelets", 74999, "/mm3", 2),
        ("platelets", 50000, "/mm3", 2),
        ("platelets", 49999, "/mm3", 3),
        ("platelets", 25000, "/mm3", 3),
        ("platelets", 24999, "/mm3", 4),
        ("platelets", 50, "10^3/uL", 2),
        ("platelets", 49.9, "10^3/µL", 3),
        ("wbc", 4000, "/mm3", 0),
        ("wbc", 3000, "/mm3", 1),
        ("wbc", 2999, "/mm3", 2),
        ("wbc", 1000, "/mm3", 3),
        ("wbc", 999, "/mm3", 4),
        ("neutrophils", 1500, "/mm3", 1),
        ("neutrophils", 1.0, "10^3/uL", 2),
        ("neutrophils", 500, "/mm3", 3),
        ("neutrophils", 499, "/mm3", 4),
        ("lymphocytes", 1000, "/mm3", 0),
        ("lymphocytes", 800, "/mm3", 1),
        ("lymphocytes", 799, "/mm3", 2),
        ("lymphocytes", 200, "/mm3", 3),
        ("lymphocytes", 199, "/mm3", 4),
    ],
)
def test_counts_in_other_units(analyte, value, unit, grade) -> None:
    for sex in ("F", "M", None):  # count defaults do not depend on sex
        assert grade_lab(analyte, value, unit, sex=sex) == grade


def test_count_lln_given_in_the_labs_unit() -> None:
    assert grade_lab("platelets", 145000, "/mm3", sex="F", lln=140000) == 0
    assert grade_lab("platelets", 139000, "/mm3", sex="F", lln=140000) == 1
    assert grade_lab("wbc", 3.8, "10^3/uL", sex="M", lln=3.5) == 0


# ---------------------------------------------------------------- §5 creatinine


@pytest.mark.parametrize(
    ("value", "grade"),
    [(1.0, 0), (1.01, 1), (1.5, 1), (1.51, 2), (3.0, 2), (3.01, 3), (6.0, 3), (6.01, 4)],
)
def test_creatinine_mg_dl_with_given_uln(value: float, grade: int) -> None:
    # ULN 1.0 mg/dL; bands > 1 – 1.5, > 1.5 – 3, > 3 – 6, > 6 × ULN
    assert grade_lab("creatinine", value, "mg/dL", sex="F", uln=1.0) == grade


@pytest.mark.parametrize(
    ("value", "sex", "grade"),
    [
        # F ULN 90 µmol/L = 1.018100 mg/dL; ×1.5 = 1.527149; ×3 = 3.054299; ×6 = 6.108597
        (1.01, "F", 0),
        (1.02, "F", 1),
        (1.52, "F", 1),
        (1.53, "F", 2),
        (3.05, "F", 2),
        (3.06, "F", 3),
        (6.10, "F", 3),
        (6.11, "F", 4),
        # M/unknown ULN 110 µmol/L = 1.244344 mg/dL; ×1.5 = 1.866516; ×3 = 3.733032; ×6 = 7.466063
        (1.24, "M", 0),
        (1.25, "M", 1),
        (1.86, "M", 1),
        (1.87, "M", 2),
        (3.73, "M", 2),
        (3.74, "M", 3),
        (7.46, "M", 3),
        (7.47, "M", 4),
        (1.25, None, 1),
        (1.87, "U", 2),
    ],
)
def test_creatinine_mg_dl_with_default_uln_converted(value, sex, grade) -> None:
    assert grade_lab("creatinine", value, "mg/dL", sex=sex) == grade


@pytest.mark.parametrize(
    ("value", "sex", "grade"),
    [(90, "F", 0), (91, "F", 1), (135, "F", 1), (136, "F", 2), (110, "M", 0), (111, "M", 1),
     (165, "M", 1), (166, "M", 2), (330, "M", 2), (331, "M", 3), (660, None, 3), (661, None, 4)],
)  # fmt: skip
def test_creatinine_umol_default_uln(value, sex, grade) -> None:
    assert grade_lab("creatinine", value, "µmol/L", sex=sex) == grade


@pytest.mark.parametrize(
    ("value", "uln", "baseline", "grade"),
    [
        (60, 90, 40, 0),  # 1.5 × baseline exactly: not "> 1.5"; ≤ ULN
        (61, 90, 40, 2),  # 1.525 × baseline: grade 2 though ≤ ULN
        (120, 90, 40, 2),  # 3.0 × baseline exactly: still grade 2 (1.33 × ULN is 1)
        (121, 90, 40, 3),  # 3.025 × baseline: grade 3
        (100, 90, 100, 1),  # ULN clause alone: 1.11 × ULN
        (600, 90, 300, 4),  # ULN 6.67× beats baseline 2×
        (400, 90, 100, 3),  # ULN 4.44× = 3; baseline 4× = 3
        (150, 90, 60, 2),  # ULN 1.67× = 2; baseline 2.5× = 2
        (200, 90, 60, 3),  # ULN 2.22× = 2; baseline 3.33× = 3 (worse wins)
    ],
)
def test_creatinine_worse_of_uln_and_baseline_clause(value, uln, baseline, grade) -> None:
    assert grade_lab("creatinine", value, "umol/L", sex="F", uln=uln, baseline=baseline) == grade


def test_creatinine_ratios_rounded_so_units_do_not_move_boundaries() -> None:
    # 1.5 mg/dL with ULN 1.0 mg/dL is exactly 1.5 × ULN: grade 1 (CLINICAL.md §5)
    assert grade_lab("creatinine", 1.5, "mg/dL", sex="M", uln=1.0) == 1
    # 1.5 mg/dL with baseline 1.0 mg/dL is 1.5 × baseline: not "> 1.5" → ULN grade 1
    assert grade_lab("creatinine", 1.5, "mg/dL", sex="M", uln=1.0, baseline=1.0) == 1
    # 0.3 / 0.1 is 2.9999999999999996 in binary floating point: still 3.0 × baseline
    assert grade_lab("creatinine", 0.3, "mg/dL", sex="M", uln=1.0, baseline=0.1) == 2
    assert grade_lab("creatinine", 0.31, "mg/dL", sex="M", uln=1.0, baseline=0.1) == 3


# ---------------------------------------------------------------- §5 liver


@pytest.mark.parametrize(
    ("analyte", "value", "grade"),
    [
        # ALT ULN 45: > 1 – 3 (135), > 3 – 5 (225), > 5 – 20 (900), > 20
        ("alt", 45, 0),
        ("alt", 46, 1),
        ("alt", 135, 1),
        ("alt", 136, 2),
        ("alt", 225, 2),
        ("alt", 226, 3),
        ("alt", 900, 3),
        ("alt", 901, 4),
        # AST ULN 40: 120, 200, 800
        ("ast", 40, 0),
        ("ast", 41, 1),
        ("ast", 120, 1),
        ("ast", 121, 2),
        ("ast", 200, 2),
        ("ast", 201, 3),
        ("ast", 800, 3),
        ("ast", 801, 4),
        # bilirubin ULN 17 µmol/L: > 1 – 1.5 (25.5), > 1.5 – 3 (51), > 3 – 10 (170), > 10
        ("bilirubin", 17, 0),
        ("bilirubin", 17.1, 1),
        ("bilirubin", 25.5, 1),
        ("bilirubin", 25.6, 2),
        ("bilirubin", 51, 2),
        ("bilirubin", 51.1, 3),
        ("bilirubin", 170, 3),
        ("bilirubin", 170.1, 4),
    ],
)
def test_liver_normal_baseline_default_uln(analyte, value, grade) -> None:
    unit = "umol/L" if analyte == "bilirubin" else "U/L"
    assert grade_lab(analyte, value, unit, sex="M") == grade
    # a normal baseline (at the ULN) changes nothing
    base = 17 if analyte == "bilirubin" else (45 if analyte == "alt" else 40)
    assert grade_lab(analyte, value, unit, sex="M", baseline=base) == grade


@pytest.mark.parametrize(
    ("value", "grade"),
    [
        (50, 0),  # above the ULN but below the baseline
        (89, 0),  # 1.483 × baseline
        (90, 1),  # 1.5 × baseline: G1 is "1.5 – 3.0×", 1.5 included
        (180, 1),  # 3.0 × baseline
        (181, 2),
        (300, 2),  # 5.0 ×
        (301, 3),
        (1200, 3),  # 20.0 ×
        (1201, 4),
    ],
)
def test_alt_abnormal_baseline(value: int, grade: int) -> None:
    # baseline 60 > ULN 45: abnormal
    assert grade_lab("alt", value, "U/L", sex="F", baseline=60) == grade
    assert grade_lab("ast", value, "U/L", sex="F", baseline=60) == grade  # 60 > 40 too


@pytest.mark.parametrize(
    ("value", "grade"),
    [(20, 0), (20.2, 1), (30, 1), (30.2, 2), (60, 2), (60.2, 3), (200, 3), (200.2, 4)],
)
def test_bilirubin_abnormal_baseline(value: float, grade: int) -> None:
    # baseline 20 > ULN 17; G1 is "> 1.0 – 1.5×": exactly 1.0 is grade 0
    assert grade_lab("bilirubin", value, "umol/L", sex="M", baseline=20) == grade


def test_liver_baseline_uln_decides_abnormal() -> None:
    # baseline 60 with its own ULN 70 is normal: ULN rows (default ULN 45 for the value)
    assert grade_lab("alt", 90, "U/L", sex="F", baseline=60, baseline_uln=70) == 1  # 2.0 × ULN
    assert grade_lab("alt", 136, "U/L", sex="F", baseline=60, baseline_uln=70) == 2  # 3.02 ×
    # baseline exactly at the ULN is inside the range: normal
    assert grade_lab("alt", 46, "U/L", sex="F", baseline=45) == 1
    # just above: abnormal, and 46 is only 1.01 × baseline
    assert grade_lab("alt", 46, "U/L", sex="F", baseline=45.5) == 0


def test_bilirubin_mg_dl() -> None:
    # 1.5 mg/dL with ULN 1.0 mg/dL is exactly 1.5 × ULN: grade 1 (CLINICAL.md §5 example)
    assert grade_lab("bilirubin", 1.5, "mg/dL", sex="F", uln=1.0) == 1
    assert grade_lab("bilirubin", 1.51, "mg/dL", sex="F", uln=1.0) == 2
    # default ULN 17 µmol/L = 0.994152 mg/dL
    assert grade_lab("bilirubin", 0.99, "mg/dL", sex="F") == 0
    assert grade_lab("bilirubin", 1.0, "mg/dL", sex="F") == 1
    # abnormal baseline 1.2 mg/dL (ULN 1.0): 1.8 is 1.5 × baseline = G1, 1.81 = G2
    assert grade_lab("bilirubin", 1.8, "mg/dL", sex="F", uln=1.0, baseline=1.2,
                     baseline_uln=1.0) == 1  # fmt: skip
    assert grade_lab("bilirubin", 1.81, "mg/dL", sex="F", uln=1.0, baseline=1.2,
                     baseline_uln=1.0) == 2  # fmt: skip


# ---------------------------------------------------------------- §5 course level

START = date(2012, 3, 1)


def d(n: int) -> date:
    return START + timedelta(days=n)


def lab(n: int, analyte: str, value: float, unit: str, **kw) -> LabFact:
    return LabFact(d(n), analyte, value, unit, units.to_canonical(analyte, value, unit), **kw)


def course(key: int, phase: str, *days: int) -> CourseFact:
    return CourseFact(key, phase, tuple(CycleFact(d(n), 7.4) for n in days))


def patient(courses, labs, sex="F") -> PatientFacts:
    return PatientFacts("R-1", sex, None, None, d(900), None, None, tuple(courses), tuple(labs),
                        (), ())  # fmt: skip


C1 = course(1, "salvage", 0, 70)  # last cycle day 70: window to day 160


def test_baseline_exactly_90_days_counts_91_does_not() -> None:
    value = lab(30, "creatinine", 70, "umol/L")  # ≤ ULN 90: grade 0 without a baseline
    on_edge = [lab(-90, "creatinine", 40, "umol/L"), value]  # 70/40 = 1.75 → G2
    too_old = [lab(-91, "creatinine", 40, "umol/L"), value]
    assert worst_grades(C1, on_edge, sex="F")["creatinine"] == 2
    assert worst_grades(C1, too_old, sex="F")["creatinine"] == 0


def test_baseline_is_the_latest_on_or_before_start() -> None:
    labs = [
        lab(-60, "creatinine", 40, "umol/L"),
        lab(-10, "creatinine", 60, "umol/L"),
        lab(0, "creatinine", 50, "umol/L"),  # on the start date: still baseline, the latest
        lab(30, "creatinine", 80, "umol/L"),  # 80/50 = 1.6 → G2 (vs 60: 1.33 → 0)
    ]
    assert baseline_lab(labs, "creatinine", START).value == 50
    assert worst_grades(C1, labs, sex="F")["creatinine"] == 2
    assert worst_grades(C1, [labs[1], labs[3]], sex="F")["creatinine"] == 0


def test_baseline_in_another_unit() -> None:
    # baseline 0.5 mg/dL = 44.2 µmol/L; 70 µmol/L = 1.58 × baseline → G2
    labs = [lab(-5, "creatinine", 0.5, "mg/dL"), lab(30, "creatinine", 70, "µmol/L")]
    assert worst_grades(C1, labs, sex="F")["creatinine"] == 2
    # baseline 1.0 mg/dL and 132.6 µmol/L: exactly 1.5 × baseline, not > 1.5; 1.47 × ULN → G1
    labs = [lab(-5, "creatinine", 1.0, "mg/dL"), lab(30, "creatinine", 132.6, "umol/L")]
    assert worst_grades(C1, labs, sex="F")["creatinine"] == 1


def test_alt_abnormal_baseline_at_course_level() -> None:
    labs = [lab(-3, "alt", 60, "U/L"), lab(20, "alt", 90, "U/L")]  # 1.5 × baseline → G1
    assert worst_grades(C1, labs, sex="M")["alt"] == 1
    labs = [lab(-3, "alt", 60, "U/L"), lab(20, "alt", 89, "U/L")]  # 1.48 × → G0
    assert worst_grades(C1, labs, sex="M")["alt"] == 0


def test_toxicity_window_edges() -> None:
    labs = [
        lab(0, "platelets", 10, "10^9/L"),  # start date: pre-treatment
        lab(1, "wbc", 2.5, "10^9/L"),  # first day of the window → G2
        lab(160, "neutrophils", 0.9, "10^9/L"),  # last cycle + 90: inside → G3
        lab(161, "hemoglobin", 7.0, "g/dL"),  # outside
    ]
    grades = worst_grades(C1, labs, sex="F")
    assert grades["platelets"] is None
    assert grades["wbc"] == 2
    assert grades["neutrophils"] == 3
    assert grades["hemoglobin"] is None
    assert grades["hematologic"] == 3
    assert worst_grades(C1, labs, sex="F", toxicity_window_days=91)["hemoglobin"] == 3


def test_next_course_window_takes_the_labs_with_its_own_baseline() -> None:
    c2 = course(2, "salvage", 120, 190)  # course 1 window ends day 119
    labs = [
        lab(-5, "creatinine", 40, "umol/L"),  # baseline of course 1
        lab(100, "creatinine", 70, "umol/L"),  # course 1: 1.75 × 40 → G2
        lab(119, "platelets", 60, "10^9/L"),  # course 1 (last day of its window) → G2
        lab(120, "platelets", 20, "10^9/L"),  # course 2's start date: pre-treatment for both
        lab(130, "creatinine", 80, "umol/L"),  # course 2: baseline is 70 (day 100); 1.14 → 0
        lab(131, "platelets", 40, "10^9/L"),  # course 2 → G3
    ]
    outcome = evaluate_patient(patient([C1, c2], labs))
    first, second = outcome.courses
    assert first.worst_grades["creatinine"] == 2
    assert first.worst_grades["platelets"] == 2
    assert second.worst_grades["creatinine"] == 0
    assert second.worst_grades["platelets"] == 3
    assert second.worst_grades["hematologic"] == 3


def test_hemoglobin_in_mmol_graded_in_its_unit_at_course_level() -> None:
    labs = [lab(30, "hemoglobin", 4.9, "mmol/L"), lab(40, "lymphocytes", 0.1, "10^9/L")]
    grades = worst_grades(C1, labs, sex="M")
    assert grades["hemoglobin"] == 2
    assert grades["lymphocytes"] == 4
    assert grades["hematologic"] == 2  # lymphocytes are not hematologic (§5)


# ---------------------------------------------------------------- §6 kidney


def test_ckd_epi_2021_published_values() -> None:
    # F 60 y, Scr 1.0 mg/dL: 142 × (1/0.7)^−1.2 × 0.9938^60 × 1.012
    #   = 142 × 0.651811 × 0.688573 × 1.012 = 64.50 (NKF calculator: 64)
    assert ckd_epi_2021(88.4, 60, "F") == pytest.approx(64.50, abs=0.05)
    # M 50 y, Scr 1.0 mg/dL: 142 × (1/0.9)^−1.2 × 0.9938^50 = 142 × 0.881230 × 0.732770
    #   = 91.70 (NKF calculator: 92)
    assert ckd_epi_2021(88.4, 50, "M") == pytest.approx(91.70, abs=0.05)
    # unknown sex uses the male constants
    assert ckd_epi_2021(88.4, 50, None) == pytest.approx(91.70, abs=0.05)
    # F 40 y, Scr 0.6 mg/dL (< κ): 142 × (0.6/0.7)^−0.241 × 0.9938^40 × 1.012
    #   = 142 × 1.037849 × 0.779765 × 1.012 = 116.30
    assert ckd_epi_2021(0.6 * 88.4, 40, "F") == pytest.approx(116.30, abs=0.05)


def test_cockcroft_gault() -> None:
    # (140 − 60) × 70 / (72 × 1.0) = 77.78 mL/min; × 0.85 for a woman = 66.11
    assert cockcroft_gault(88.4, 60, 70, "M") == pytest.approx(77.78, abs=0.01)
    assert cockcroft_gault(88.4, 60, 70, "F") == pytest.approx(66.11, abs=0.01)
    # 151 µmol/L = 1.708145 mg/dL: 80 × 70 / (72 × 1.708145) = 45.53
    assert cockcroft_gault(151, 60, 70, "M") == pytest.approx(45.53, abs=0.01)


def test_age_in_completed_years() -> None:
    assert age_years(date(1950, 6, 15), date(2010, 6, 14)) == 59
    assert age_years(date(1950, 6, 15), date(2010, 6, 15)) == 60


def test_zero_reference_limits_fall_back_to_defaults_instead_of_crashing() -> None:
    # cohort.schema.json allows lln/uln ≥ 0; a 0 limit is no range: the §5 default applies
    assert grade_lab("alt", 50, "U/L", sex="F", uln=0) == 1  # 50 / 45
    assert grade_lab("alt", 90, "U/L", sex="F", baseline=60, baseline_uln=0) == 1  # 1.5 × 60
    assert grade_lab("creatinine", 100, "umol/L", sex="F", uln=0) == 1  # 100 / 90
    assert grade_lab("platelets", 140, "10^9/L", sex="F", lln=0) == 1  # default LLN 150
    assert grade_lab("hemoglobin", 11, "g/dL", sex="F", lln=0) == 1  # default LLN 12
    labs = [lab(-3, "alt", 60, "U/L", uln=0), lab(20, "alt", 90, "U/L", uln=0)]
    assert worst_grades(C1, labs, sex="F")["alt"] == 1
