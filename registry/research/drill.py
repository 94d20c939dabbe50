"""Drill-down: the cohort's rows behind one number of the report.

Every count on the report page links to `/research/patients/?…&drill=field:value`;
`drill_rows` keeps the rows whose value of each named field is the one the
report counted, computed the way the report counts it.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from registry.derive.outcomes import ENDPOINTS, GRADE_KEYS, TOXICITY_KEYS, endpoint_columns
from registry.models import (
    AdverseEventCategory,
    CourseOutcome,
    FunctionalSyndrome,
    LiverLoad,
    PrimarySite,
    PriorTreatmentType,
    ResponseCode,
    Sex,
    StopReason,
    UptakeModality,
    WhoGrade,
)
from registry.models.treatment import METASTASIS_SITES
from registry.research import record_filters
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
    # the lutetia-cohort/2 record (Table 1), "unknown" where no value is recorded
    "who_grade": (*WhoGrade.values, "unknown"),
    "functional_syndrome": (*FunctionalSyndrome.values, "unknown"),
    "ecog": (*record_filters.SCORES, "unknown"),
    "krenning_score": (*record_filters.SCORES, "unknown"),
    "uptake_modality": (*UptakeModality.values, "unknown"),
    **{f"met_{site}": ("yes", "no", "unknown") for site in METASTASIS_SITES},
    "liver_load": (*LiverLoad.values, "unknown"),
    "prior": tuple(PriorTreatmentType.values),
    "late": (*AdverseEventCategory.values, "any"),
}
SET_FIELDS = ("has", "prior", "late")  # a row holds several values of these


def drill_values() -> dict[str, tuple[str, ...]]:
    """DRILL_VALUES and `custom.CODE` for each choice or yes/no custom field."""
    values = dict(DRILL_VALUES)
    for d in record_filters.custom_choices():
        codes = ("yes", "no") if d.type == "boolean" else d.choice_codes
        values[record_filters.CUSTOM_PREFIX + d.code] = (*codes, "unknown")
    return values


def _word(value) -> str:
    if value is None or value == "":
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _record_facts(cohort: Cohort, r: CourseOutcome, customs) -> dict[str, Any]:
    """The drill-down values of the record's Table 1 rows, counted as the report counts."""
    c = r.course
    f: dict[str, Any] = {
        "who_grade": _word(r.patient.who_grade),
        "functional_syndrome": _word(r.patient.functional_syndrome),
        "ecog": _word(c.ecog),
        "krenning_score": _word(c.krenning_score),
        "uptake_modality": _word(c.uptake_modality),
        "liver_load": _word(c.liver_load) if c.liver_metastases else None,
        "prior": cohort.prior_kinds(r),
    }
    late = cohort.late_categories(r)
    f["late"] = late | ({"any"} if late else set())
    for site in METASTASIS_SITES:
        f[f"met_{site}"] = _word(getattr(c, f"{site}_metastases"))
    for d in customs:
        owner = r.patient if d.level == "patient" else c
        f[record_filters.CUSTOM_PREFIX + d.code] = _word((owner.custom or {}).get(d.code))
    return f


def _drill_facts(cohort: Cohort) -> dict[int, dict[str, Any]]:
    """Per row, the value of every drill-down field (sets for `has`), as the report counts them."""
    crit, cutoff = cohort.criteria, cohort.filter.ttp_regular_cutoff
    grades, regular = cohort.worst_grades(), cohort.regular_ttp
    intended = {True: "reached", False: "below", None: "none"}
    customs = record_filters.custom_choices()
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
        f |= _record_facts(cohort, r, customs)
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
    known_values = drill_values()
    for field, value in conditions:
        if value not in known_values.get(field, ()):
            known = ", ".join(f"{k}:{'|'.join(v)}" for k, v in known_values.items())
            raise ValidationError(
                {"drill": [f"Unknown drill-down '{drill[:60]}'. Known: {known}."]}
            )
    if not conditions:
        return rows
    facts = _drill_facts(cohort)

    def holds(row: CourseOutcome, field: str, value: str) -> bool:
        f = facts[row.pk]
        return value in f[field] if field in SET_FIELDS else f.get(field) == value

    return [r for r in rows if all(holds(r, f, v) for f, v in conditions)]


_FIELD_WORDS = {
    "sex": "sex",
    "primary_site": "primary tumour",
    "primary_group": "primary tumour",
    "best_swog": "best response (SWOG)",
    "best_recist": "best response (RECIST)",
    "intended": "intended activity",
    "stop_reason": "course stopped because",
    "ttp_regular": "TTP after regular therapy",
    "who_grade": "WHO grade",
    "functional_syndrome": "hormone syndrome",
    "ecog": "ECOG",
    "krenning_score": "Krenning score",
    "uptake_modality": "uptake scored on",
    "liver_load": "liver tumour load",
    "prior": "prior treatment",
    "late": "late toxicity",
    **{f"met_{site}": f"{site.replace('_', ' ')} metastases" for site in METASTASIS_SITES},
}
_VALUE_WORDS = {
    "sex": dict(Sex.choices),
    "primary_site": dict(PrimarySite.choices),
    "primary_group": {"pancreas": "pancreas", "other": "other than pancreas"},
    "best_swog": dict(ResponseCode.choices),
    "best_recist": dict(ResponseCode.choices),
    "intended": {"reached": "reached", "below": "not reached", "none": "none recorded"},
    "stop_reason": {**dict(StopReason.choices), "none": "no reason recorded"},
    "ttp_regular": {**TTP_REGULAR_LABELS, "unknown": "no TTP recorded"},
}
_HAS_WORDS = {
    "age": "an age",
    "ki67": "a Ki-67 index",
    "ttp_regular": "a TTP after regular therapy",
}
_EVENT_WORDS = {"ttp": "progression", "pfs": "progression or death", "os": "death"}


def _describe_one(field: str, value: str) -> str:
    if field == "has":
        return f"with {_HAS_WORDS.get(value, value)}"
    if field.startswith("grade_"):
        analyte = field.removeprefix("grade_")
        grade = "not assessed" if value == "na" else f"grade {value}"
        return f"worst {analyte} {grade}"
    if field.startswith("event_"):
        what = _EVENT_WORDS.get(field.removeprefix("event_"), field)
        return f"with {what}" if value == "1" else f"censored (no {what})"
    words = _VALUE_WORDS.get(field, {}).get(value, value)
    return f"{_FIELD_WORDS.get(field, field)}: {words}"


def describe_drill(drill: str) -> str:
    """A drill-down key in words: "intended:below" -> "intended activity: not reached"."""
    parts = [c.partition(":")[::2] for c in drill.split(",") if c]
    return "; ".join(_describe_one(field, value) for field, value in parts)
