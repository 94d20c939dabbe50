"""Toxicity grades from lab values, CTCAE v5.0 as tabulated in CLINICAL.md §5.

Decisions beyond the table (CLINICAL.md leaves them open):

- Graded analytes: platelets, wbc, neutrophils, lymphocytes, hemoglobin,
  creatinine, alt, ast, bilirubin.  `alp`, `egfr` and `chromogranin_a` are not
  in §5's table and grade as `None` ("not graded").
- The "decreased" terms (counts, hemoglobin) grade 0 for any value at or above
  the LLN, including values above the range; the "increased" terms grade 0 at
  or below the ULN (creatinine: unless its baseline clause applies).
- If a lab's own LLN/ULN lies beyond a CTCAE cut-off (e.g. a hemoglobin LLN
  of 9.5 g/dL), a value below the LLN still gets at least grade 1 and the
  absolute cut-offs decide beyond that.
- "Abnormal baseline" for alt/ast/bilirubin means above the baseline's ULN;
  a low baseline is irrelevant to an "increased" term.  Without a baseline the
  normal-baseline rows apply.
- Count analytes are compared in the canonical unit (10^9/L) after rounding
  to 6 decimals, so /mm3 and 10^3/uL grade as their 10^9/L value does.
- A lab's own LLN/ULN of 0 (the interchange format allows it) is no range at
  all: it is treated as "carries none" and the §5 default applies, so no
  entered value can make grading divide by zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from operator import attrgetter

from registry.clinical import units
from registry.clinical.courses import course_last_cycle, course_start
from registry.clinical.facts import CourseFact, LabFact

GRADED_ANALYTES: tuple[str, ...] = (
    "hemoglobin",
    "platelets",
    "wbc",
    "neutrophils",
    "lymphocytes",
    "creatinine",
    "alt",
    "ast",
    "bilirubin",
)
HEMATOLOGIC: tuple[str, ...] = ("hemoglobin", "platelets", "wbc", "neutrophils")
WORST_GRADE_KEYS: tuple[str, ...] = ("hematologic", *GRADED_ANALYTES)

BASELINE_LOOKBACK_DAYS = 90
DEFAULT_TOXICITY_WINDOW_DAYS = 90

# Decreasing analytes: (G2, G3, G4) lower cut-offs; a value strictly below the
# cut-off reaches the grade.  Counts in 10^9/L, hemoglobin per unit as entered.
_COUNT_CUTOFFS: dict[str, tuple[float, float, float]] = {
    "platelets": (75.0, 50.0, 25.0),
    "wbc": (3.0, 2.0, 1.0),
    "neutrophils": (1.5, 1.0, 0.5),
    "lymphocytes": (0.8, 0.5, 0.2),
}
_HEMOGLOBIN_CUTOFFS: dict[str, tuple[float, float]] = {  # (G2, G3); no G4 from labs
    "g/dL": (10.0, 8.0),
    "mmol/L": (6.2, 4.9),
    "g/L": (100.0, 80.0),
}
_DEFAULT_COUNT_LLN: dict[str, float] = {
    "platelets": 150.0,
    "wbc": 4.0,
    "neutrophils": 2.0,
    "lymphocytes": 1.0,
}
_DEFAULT_HEMOGLOBIN_LLN: dict[str, dict[str, float]] = {  # unit -> sex -> LLN
    "g/dL": {"F": 12.0, "M": 13.5},
    "mmol/L": {"F": 7.5, "M": 8.5},
    "g/L": {"F": 120.0, "M": 135.0},
}
_DEFAULT_ULN_CANONICAL: dict[str, dict[str, float]] = {  # analyte -> sex -> ULN
    "creatinine": {"F": 90.0, "M": 110.0},
    "alt": {"F": 45.0, "M": 45.0},
    "ast": {"F": 40.0, "M": 40.0},
    "alp": {"F": 120.0, "M": 120.0},
    "bilirubin": {"F": 17.0, "M": 17.0},
}
# Increasing analytes: upper ends (as multiples) of G1, G2, G3; above G3's end is G4.
_ULN_BANDS: dict[str, tuple[float, float, float]] = {
    "creatinine": (1.5, 3.0, 6.0),
    "alt": (3.0, 5.0, 20.0),
    "ast": (3.0, 5.0, 20.0),
    "bilirubin": (1.5, 3.0, 10.0),
}


def _sex_key(sex: str | None) -> str:
    return "F" if sex == "F" else "M"  # "M and unknown" share defaults (§5)


@lru_cache(maxsize=512)
def default_lln(analyte: str, unit: str, sex: str | None) -> float | None:
    """Default LLN of `analyte` in `unit` for `sex` (CLINICAL.md §5), or None.

    Cached, as `default_uln`: a cohort's grading asks for the same few (analyte, unit,
    sex) over a hundred thousand times (an error is never cached).
    """
    spelling = units.normalize_unit(analyte, unit)
    if analyte in _DEFAULT_COUNT_LLN:
        return round(units.from_canonical(analyte, _DEFAULT_COUNT_LLN[analyte], spelling), 9)
    if analyte == "hemoglobin":
        return _DEFAULT_HEMOGLOBIN_LLN[spelling][_sex_key(sex)]
    return None


@lru_cache(maxsize=512)
def default_uln(analyte: str, unit: str, sex: str | None) -> float | None:
    """Default ULN of `analyte` in `unit` for `sex` (CLINICAL.md §5), or None.

    A default given in µmol/L is converted into the unit entered, e.g.
    creatinine ULN 90 µmol/L is 90 / 88.4 mg/dL.
    """
    spelling = units.normalize_unit(analyte, unit)
    by_sex = _DEFAULT_ULN_CANONICAL.get(analyte)
    if by_sex is None:
        return None
    return units.from_canonical(analyte, by_sex[_sex_key(sex)], spelling)


def _given(limit: float | None) -> float | None:
    """A lab's own reference limit, or None when it carries no usable one (≤ 0)."""
    return limit if limit is not None and limit > 0 else None


def _ratio(value: float, reference: float) -> float:
    return round(value / reference, 6)


def _grade_decreasing(value: float, lln: float, cutoffs: tuple[float, ...]) -> int:
    if value >= lln:
        return 0
    grade = 1
    for g, cutoff in enumerate(cutoffs, start=2):
        if value < cutoff:
            grade = g
    return grade


def _grade_by_bands(ratio: float, bands: tuple[float, float, float], g1_floor: float) -> int:
    """Grade 1 from `g1_floor` (exclusive unless marked otherwise by caller)."""
    if ratio <= g1_floor:
        return 0
    if ratio <= bands[0]:
        return 1
    if ratio <= bands[1]:
        return 2
    if ratio <= bands[2]:
        return 3
    return 4


def grade_lab(
    analyte: str,
    value: float,
    unit: str,
    *,
    sex: str | None,
    lln: float | None = None,
    uln: float | None = None,
    baseline: float | None = None,
    baseline_uln: float | None = None,
) -> int | None:
    """CTCAE v5.0 grade of one lab value (CLINICAL.md §5).

    `value`, `lln`, `uln`, `baseline` and `baseline_uln` are all in `unit`
    (any accepted spelling).  Missing `lln`/`uln` take the defaults of §5 for
    `sex`; a missing `baseline_uln` takes the §5 default.  `baseline` is the
    pre-course value (§5 "Baseline"): it adds creatinine's "× baseline" clause
    and selects the abnormal-baseline rows for alt, ast and bilirubin.
    Hemoglobin is graded with the cut-offs of the unit entered (g/dL, g/L,
    mmol/L), never a converted value.  Multiples are rounded to 6 decimals
    before the strict comparisons.  Returns None for analytes §5 does not grade.
    """
    spelling = units.normalize_unit(analyte, unit)
    if analyte not in GRADED_ANALYTES:
        return None
    value = float(value)
    lln, uln, baseline_uln = _given(lln), _given(uln), _given(baseline_uln)
    if analyte in _COUNT_CUTOFFS:
        ref = lln if lln is not None else default_lln(analyte, spelling, sex)
        assert ref is not None
        v = round(units.to_canonical(analyte, value, spelling), 6)
        ref_c = round(units.to_canonical(analyte, ref, spelling), 6)
        return _grade_decreasing(v, ref_c, _COUNT_CUTOFFS[analyte])
    if analyte == "hemoglobin":
        ref = lln if lln is not None else default_lln(analyte, spelling, sex)
        assert ref is not None
        return _grade_decreasing(value, ref, _HEMOGLOBIN_CUTOFFS[spelling])

    ref = uln if uln is not None else default_uln(analyte, spelling, sex)
    assert ref is not None
    bands = _ULN_BANDS[analyte]
    uln_grade = _grade_by_bands(_ratio(value, ref), bands, 1.0)
    if analyte == "creatinine":
        if baseline is None or baseline <= 0:
            return uln_grade
        b = _ratio(value, baseline)
        baseline_grade = 3 if b > 3.0 else 2 if b > 1.5 else 0
        return max(uln_grade, baseline_grade)
    if baseline is None or baseline <= 0:
        return uln_grade
    b_uln = baseline_uln if baseline_uln is not None else default_uln(analyte, spelling, sex)
    assert b_uln is not None
    if _ratio(baseline, b_uln) <= 1.0:
        return uln_grade
    b = _ratio(value, baseline)
    if analyte == "bilirubin":
        return _grade_by_bands(b, bands, 1.0)  # "> 1.0 – 1.5× baseline"
    # alt/ast abnormal baseline: grade 1 is "1.5 – 3.0× baseline", 1.5 inclusive.
    return 0 if b < 1.5 else _grade_by_bands(b, bands, 0.0)


# ---------------------------------------------------------------- course level

BY_DATE = attrgetter("date")


@dataclass(frozen=True, slots=True)
class GradedLab:
    """One lab of a course's toxicity window with its grade (CLINICAL.md §5)."""

    date: date
    analyte: str
    value: float
    unit: str
    grade: int | None
    baseline_value: float | None  # in the lab's unit


def baseline_lab(labs: Iterable[LabFact], analyte: str, start: date) -> LabFact | None:
    """Latest lab of `analyte` on or before `start`, at most 90 days before (CLINICAL.md §5).

    Of several labs on that date the last one given wins.
    """
    earliest = start - timedelta(days=BASELINE_LOOKBACK_DAYS)
    best: LabFact | None = None
    for lab in labs:
        in_range = lab.analyte == analyte and earliest <= lab.date <= start
        if in_range and (best is None or lab.date >= best.date):
            best = lab
    return best


def toxicity_window(
    course: CourseFact,
    window_end: date | None,
    toxicity_window_days: int = DEFAULT_TOXICITY_WINDOW_DAYS,
) -> tuple[date, date] | None:
    """(first day, last day) of a course's toxicity window (CLINICAL.md §5).

    Labs dated after the course start (the start date itself is
    pre-treatment), no later than last cycle + `toxicity_window_days`, and no
    later than `window_end` (the course window's last day, None = open).
    """
    start, last = course_start(course), course_last_cycle(course)
    if start is None or last is None:
        return None
    end = last + timedelta(days=toxicity_window_days)
    if window_end is not None:
        end = min(end, window_end)
    return start + timedelta(days=1), end


def grade_course_labs(
    course: CourseFact,
    labs: Iterable[LabFact],
    *,
    sex: str | None,
    window_end: date | None = None,
    toxicity_window_days: int = DEFAULT_TOXICITY_WINDOW_DAYS,
) -> list[GradedLab]:
    """Every lab in a course's toxicity window, graded against its baseline (CLINICAL.md §5)."""
    labs = tuple(labs)
    window = toxicity_window(course, window_end, toxicity_window_days)
    start = course_start(course)
    if window is None or start is None:
        return []
    first, last = window
    baselines: dict[str, LabFact | None] = {}
    graded: list[GradedLab] = []
    for lab in sorted(labs, key=BY_DATE):
        if not first <= lab.date <= last or lab.analyte not in GRADED_ANALYTES:
            continue
        if lab.analyte not in baselines:
            baselines[lab.analyte] = baseline_lab(labs, lab.analyte, start)
        base = baselines[lab.analyte]
        base_value = base_uln = None
        if base is not None:
            base_value = units.from_canonical(lab.analyte, base.canonical_value, lab.unit)
            if base.uln is not None:
                base_uln = base.uln * units.factor(lab.analyte, base.unit)
                base_uln = units.from_canonical(lab.analyte, base_uln, lab.unit)
        grade = grade_lab(
            lab.analyte,
            lab.value,
            lab.unit,
            sex=sex,
            lln=lab.lln,
            uln=lab.uln,
            baseline=base_value,
            baseline_uln=base_uln,
        )
        graded.append(GradedLab(lab.date, lab.analyte, lab.value, lab.unit, grade, base_value))
    return graded


def worst_of(grades: Mapping[str, int | None], analytes: Iterable[str]) -> int | None:
    """Highest grade among `analytes`; None if none was assessed (CLINICAL.md §5)."""
    present = [grades[a] for a in analytes if grades.get(a) is not None]
    return max(present) if present else None  # type: ignore[type-var]


def worst_grades(
    course: CourseFact,
    labs: Iterable[LabFact],
    *,
    sex: str | None,
    window_end: date | None = None,
    toxicity_window_days: int = DEFAULT_TOXICITY_WINDOW_DAYS,
) -> dict[str, int | None]:
    """Worst grade per analyte in a course's toxicity window (CLINICAL.md §5).

    Keys: `hematologic` (worst of hemoglobin, platelets, wbc, neutrophils) and
    every graded analyte; None means not assessed (no lab in the window).
    """
    grades: dict[str, int | None] = dict.fromkeys(GRADED_ANALYTES)
    for g in grade_course_labs(
        course, labs, sex=sex, window_end=window_end, toxicity_window_days=toxicity_window_days
    ):
        if g.grade is not None:
            current = grades[g.analyte]
            grades[g.analyte] = g.grade if current is None else max(current, g.grade)
    return {"hematologic": worst_of(grades, HEMATOLOGIC), **grades}
