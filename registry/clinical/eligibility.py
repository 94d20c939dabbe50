"""Pre-cycle eligibility warnings (CLINICAL.md §7): warnings, never a block.

Decisions beyond CLINICAL.md's text:

- "The 14 days before the cycle date" includes the cycle date itself (a
  blood draw on the morning of the cycle counts).
- Hemoglobin is compared in the unit entered: ≥ 6.0 mmol/L, ≥ 9.7 g/dL,
  ≥ 97 g/L.
- Creatinine above its limit is only a warning when the Cockcroft–Gault
  clearance (needing weight and birth date) is not ≥ 40 mL/min.
- Previous cycles and lifetime activity count only cycles dated before the
  cycle date, so re-checking an already recorded cycle does not count it twice.
- "Worst grade ≥ 3 after the previous cycle not yet back to ≤ 1": labs after
  the previous cycle up to the cycle date; per analyte, if any grade ≥ 3
  occurred and the latest value still grades > 1.  The grades are §5 grades,
  so the baseline is §5's *course* baseline: the latest value on or before
  the start of the course the previous cycle belongs to (≤ 90 days), with
  that lab's own range deciding "abnormal baseline".  (Review decision: the
  first version took the latest value before the previous cycle, which after
  cycle 1 is often an already toxic value; a creatinine that tripled after
  cycle 1 and is still doubled then graded 0–1 instead of 3 → 2.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from registry.clinical import ctcae, units
from registry.clinical.facts import LabFact, PatientFacts
from registry.clinical.kidney import age_years, cockcroft_gault


@dataclass(frozen=True, slots=True)
class EligibilityThresholds:
    """Settings of CLINICAL.md §7; defaults are the Rotterdam values of the seed era."""

    lab_lookback_days: int = 14
    hemoglobin_min_mmol_l: float = 6.0
    hemoglobin_min_g_dl: float = 9.7  # g/L: ten times this
    wbc_min: float = 2.0  # 10^9/L
    platelets_min: float = 75.0  # 10^9/L
    creatinine_max_umol_l: float = 150.0
    clearance_min_ml_min: float = 40.0
    min_days_between_cycles: int = 42
    max_lifetime_activity_gbq: float = 44.4
    toxicity_alert_grade: int = 3
    toxicity_recovered_grade: int = 1


@dataclass(frozen=True, slots=True)
class EligibilityWarning:
    """One pre-cycle warning (CLINICAL.md §7)."""

    code: str
    message: str
    field: str | None = None  # the analyte or form field it concerns


def _latest(labs: list[LabFact], analyte: str, first: date, last: date) -> LabFact | None:
    found = [lab for lab in labs if lab.analyte == analyte and first <= lab.date <= last]
    return max(found, key=lambda lab: lab.date, default=None)


def check_before_cycle(
    facts: PatientFacts,
    cycle_date: date,
    activity_gbq: float,
    thresholds: EligibilityThresholds | None = None,
) -> list[EligibilityWarning]:
    """Warnings to show before recording a cycle (CLINICAL.md §7).

    Codes: `missing_recent_<analyte>`, `low_hemoglobin`, `low_wbc`,
    `low_platelets`, `high_creatinine`, `short_interval`,
    `lifetime_activity_exceeded`, `toxicity_not_recovered`.
    """
    th = thresholds or EligibilityThresholds()
    labs = list(facts.labs)
    return [
        *_lab_warnings(facts, labs, cycle_date, th),
        *_cycle_warnings(facts, labs, cycle_date, activity_gbq, th),
    ]


def _lab_warnings(
    facts: PatientFacts, labs: list[LabFact], cycle_date: date, th: EligibilityThresholds
) -> list[EligibilityWarning]:
    """Missing, low or high blood counts and creatinine in the look-back window."""
    first = cycle_date - timedelta(days=th.lab_lookback_days)
    warnings: list[EligibilityWarning] = []

    def missing(analyte: str) -> None:
        warnings.append(
            EligibilityWarning(
                f"missing_recent_{analyte}",
                f"No {analyte} value in the {th.lab_lookback_days} days before the cycle.",
                analyte,
            )
        )

    hb = _latest(labs, "hemoglobin", first, cycle_date)
    if hb is None:
        missing("hemoglobin")
    else:
        unit = units.normalize_unit("hemoglobin", hb.unit)
        limit = {
            "mmol/L": th.hemoglobin_min_mmol_l,
            "g/dL": th.hemoglobin_min_g_dl,
            "g/L": round(th.hemoglobin_min_g_dl * 10, 6),
        }[unit]
        if hb.value < limit:
            warnings.append(
                EligibilityWarning(
                    "low_hemoglobin",
                    f"Hemoglobin {hb.value:g} {unit} on {hb.date.isoformat()} is below "
                    f"{limit:g} {unit}.",
                    "hemoglobin",
                )
            )
    for analyte, limit in (("wbc", th.wbc_min), ("platelets", th.platelets_min)):
        lab = _latest(labs, analyte, first, cycle_date)
        if lab is None:
            missing(analyte)
        elif round(lab.canonical_value, 6) < limit:
            warnings.append(
                EligibilityWarning(
                    f"low_{analyte}",
                    f"{analyte} {lab.value:g} {lab.unit} on {lab.date.isoformat()} is below "
                    f"{limit:g} 10^9/L.",
                    analyte,
                )
            )
    creatinine = _latest(labs, "creatinine", first, cycle_date)
    if creatinine is None:
        missing("creatinine")
    elif round(creatinine.canonical_value, 6) > th.creatinine_max_umol_l:
        clearance = None
        if facts.weight_kg is not None and facts.birth_date is not None:
            age = age_years(facts.birth_date, cycle_date)
            clearance = cockcroft_gault(creatinine.canonical_value, age, facts.weight_kg, facts.sex)
        if clearance is None or clearance < th.clearance_min_ml_min:
            detail = (
                "no clearance can be computed (weight or birth date missing)"
                if clearance is None
                else f"Cockcroft–Gault clearance {clearance:.0f} mL/min is below "
                f"{th.clearance_min_ml_min:g}"
            )
            warnings.append(
                EligibilityWarning(
                    "high_creatinine",
                    f"Creatinine {creatinine.canonical_value:g} umol/L is above "
                    f"{th.creatinine_max_umol_l:g} umol/L and {detail}.",
                    "creatinine",
                )
            )
    return warnings


def _cycle_warnings(
    facts: PatientFacts,
    labs: list[LabFact],
    cycle_date: date,
    activity_gbq: float,
    th: EligibilityThresholds,
) -> list[EligibilityWarning]:
    """The interval since the previous cycle, unrecovered toxicity, lifetime activity."""
    warnings: list[EligibilityWarning] = []
    previous = [c for course in facts.courses for c in course.cycles if c.date < cycle_date]
    if previous:
        last = max(c.date for c in previous)
        gap = (cycle_date - last).days
        if gap < th.min_days_between_cycles:
            warnings.append(
                EligibilityWarning(
                    "short_interval",
                    f"Only {gap} days since the previous cycle ({last.isoformat()}); "
                    f"at least {th.min_days_between_cycles} expected.",
                    "date",
                )
            )
        course_start = min(
            (
                min(c.date for c in course.cycles)
                for course in facts.courses
                if any(c.date == last for c in course.cycles)
            ),
            default=last,
        )
        warnings.extend(_toxicity_warnings(facts, labs, last, course_start, cycle_date, th))
    lifetime = round(sum(c.activity_gbq for c in previous) + activity_gbq, 6)
    if lifetime > th.max_lifetime_activity_gbq:
        warnings.append(
            EligibilityWarning(
                "lifetime_activity_exceeded",
                f"Lifetime cumulative activity would be {lifetime:g} GBq, above "
                f"{th.max_lifetime_activity_gbq:g} GBq.",
                "activity_gbq",
            )
        )
    return warnings


def _toxicity_warnings(
    facts: PatientFacts,
    labs: list[LabFact],
    previous_cycle: date,
    course_start: date,
    cycle_date: date,
    th: EligibilityThresholds,
) -> list[EligibilityWarning]:
    """§7's "worst grade ≥ 3 … not yet back to ≤ 1", graded as §5 grades a course."""
    warnings: list[EligibilityWarning] = []
    for analyte in ctcae.GRADED_ANALYTES:
        series = sorted(
            (
                lab
                for lab in labs
                if lab.analyte == analyte and previous_cycle < lab.date <= cycle_date
            ),
            key=lambda lab: lab.date,
        )
        if not series:
            continue
        base = ctcae.baseline_lab(labs, analyte, course_start)
        grades = []
        for lab in series:
            baseline = baseline_uln = None
            if base is not None:
                baseline = units.from_canonical(analyte, base.canonical_value, lab.unit)
                if base.uln is not None:
                    base_uln_canonical = base.uln * units.factor(analyte, base.unit)
                    baseline_uln = units.from_canonical(analyte, base_uln_canonical, lab.unit)
            grades.append(
                ctcae.grade_lab(
                    analyte,
                    lab.value,
                    lab.unit,
                    sex=facts.sex,
                    lln=lab.lln,
                    uln=lab.uln,
                    baseline=baseline,
                    baseline_uln=baseline_uln,
                )
                or 0
            )
        worst, latest = max(grades), grades[-1]
        if worst >= th.toxicity_alert_grade and latest > th.toxicity_recovered_grade:
            warnings.append(
                EligibilityWarning(
                    "toxicity_not_recovered",
                    f"{analyte} reached grade {worst} after the previous cycle and is still "
                    f"grade {latest} ({series[-1].date.isoformat()}).",
                    analyte,
                )
            )
    return warnings
