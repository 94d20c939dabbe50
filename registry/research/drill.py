"""Drill-down: the cohort's rows behind one number of the report.

Every count on the report page links to `/research/patients/?…&drill=field:value`;
`drill_rows` keeps the rows whose value of each named field is the one the
report counted, computed the way the report counts it.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from registry.derive.outcomes import ENDPOINTS, GRADE_KEYS, TOXICITY_KEYS, endpoint_columns
from registry.models import CourseOutcome, PrimarySite, ResponseCode, Sex, StopReason
from registry.research.cohort import Cohort, age_at, birth_date
from registry.research.filters import TTP_REGULAR_LABELS, ttp_regular_group

DRILL_VALUES: dict[str, tuple[str, ...]] = {
    "sex": tuple(Sex.values),
    "primary_site": tuple(PrimarySite.values),
    "primary_group": ("pancreas", "other"),
    "best_swog": tuple(ResponseCode.values),
    "best_recist": tuple(ResponseCode.values),
    **{f"grade_{k}": (*GRADE_KEYS, "na") for k in TOXICITY_KEYS},
    **{f"event_{ep}": ("1", "0") for ep in ENDPOINTS},
    "intended": ("reached", "below", "none"),
    "stop_reason": (*StopReason.values, "none"),
    "ttp_regular": (*TTP_REGULAR_LABELS, "unknown"),
    "has": ("age", "ki67", "ttp_regular"),
}


def _drill_facts(cohort: Cohort) -> dict[int, dict[str, Any]]:
    """Per row, the value of every drill-down field (sets for `has`), as the report counts them."""
    crit, cutoff = cohort.criteria, cohort.filter.ttp_regular_cutoff
    grades, regular = cohort.worst_grades(), cohort.regular_ttp
    intended = {True: "reached", False: "below", None: "none"}
    facts = {}
    for r in cohort.rows:
        f: dict[str, Any] = {
            "sex": r.patient.sex or "U",
            "primary_site": r.patient.primary_site,
            "primary_group": "pancreas" if r.patient.primary_site == "pancreas" else "other",
            "best_swog": r.best_swog,
            "best_recist": r.best_recist,
            "intended": intended[r.intended_activity_reached],
            "stop_reason": (r.course.stop_reason or "none")
            if r.intended_activity_reached is False
            else None,
            "ttp_regular": ttp_regular_group(regular.get(r.patient_id), cutoff) or "unknown",
            "has": {
                name
                for name, present in (
                    ("age", age_at(birth_date(r), r.start) is not None),
                    ("ki67", r.patient.ki67_percent is not None),
                    ("ttp_regular", r.patient_id in regular),
                )
                if present
            },
        }
        for key, grade in grades[r.course_id].items():
            f[f"grade_{key}"] = "na" if grade is None else str(min(grade, 4))
        for ep in ENDPOINTS:
            months, event = endpoint_columns(ep, crit)
            if getattr(r, months) is not None:
                f[f"event_{ep}"] = "1" if getattr(r, event) else "0"
        facts[r.pk] = f
    return facts


def drill_rows(cohort: Cohort, drill: str) -> list[CourseOutcome]:
    """The cohort's rows behind one number of the report.

    `drill` is "field:value", several joined by commas (all must hold), or "".
    """
    rows = cohort.rows
    conditions = [c.partition(":")[::2] for c in drill.split(",") if c]
    for field, value in conditions:
        if value not in DRILL_VALUES.get(field, ()):
            known = ", ".join(f"{k}:{'|'.join(v)}" for k, v in DRILL_VALUES.items())
            raise ValidationError(
                {"drill": [f"Unknown drill-down '{drill[:60]}'. Known: {known}."]}
            )
    if not conditions:
        return rows
    facts = _drill_facts(cohort)

    def holds(row: CourseOutcome, field: str, value: str) -> bool:
        f = facts[row.pk]
        return value in f["has"] if field == "has" else f.get(field) == value

    return [r for r in rows if all(holds(r, f, v) for f, v in conditions)]
