"""Paper-style cohort reports, built on THE cohort filter and report of `cohorts`.

The research pages add a few filters to `cohorts.CohortFilter` — the course
start between two dates and the seed paper's subgroup "short vs long time to
progression after regular therapy" — and two strata (that subgroup, and
pancreatic vs other primaries).  They are expressed as a `Q` handed to
`CohortFilter.extra`, so every number still comes from
`cohorts.select_course_outcomes`, `cohorts.cohort_report` and
`cohorts.survival_analysis`: a page and the API agree by construction.

The report tables follow van Essen et al., J Nucl Med 2010;51:383–390:
patient characteristics, best response, worst toxicity grades, median TTP,
PFS and OS, follow-up, activity given, and TTP by subgroup.  Every count
carries a drill-down key (`drill=field:value`) naming the patients behind it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import statistics
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from ..clinical import survival as km
from ..models import CourseOutcome, Criteria, Phase, PrimarySite, ResponseCode, Sex, StopReason
from . import cohorts
from .exports import age_at

# The seed paper's split of TTP after regular therapy. **Decision**: 36 months by
# default; the page lets the user change it.
DEFAULT_TTP_REGULAR_CUTOFF = 36.0
RESEARCH_PARAMS = frozenset({"start_from", "start_to", "ttp_regular", "ttp_regular_cutoff"})
OWN_STRATA = {
    "ttp_regular": "TTP after regular therapy (short / long)",
    "pancreas": "Pancreatic vs other primary",
}
# The paper's order of each own stratum's groups.
OWN_STRATA_GROUPS = {"ttp_regular": ("short", "long"), "pancreas": ("pancreas", "other")}
STRATA_CHOICES = {
    "": "none",
    "primary_site": "Primary site",
    "sex": "Sex",
    "site": "Treatment site",
    **OWN_STRATA,
}
ENDPOINT_LABELS = {
    "ttp": "Time to progression",
    "pfs": "Progression-free survival",
    "os": "Overall survival",
}
TTP_REGULAR_LABELS = {"short": "short", "long": "long"}


@dataclass(frozen=True)
class ResearchFilter:
    """THE cohort filter plus the research pages' own narrowing and strata."""

    cohort: cohorts.CohortFilter
    start_from: dt.date | None = None
    start_to: dt.date | None = None
    ttp_regular: str | None = None  # "short" | "long"
    ttp_regular_cutoff: float = DEFAULT_TTP_REGULAR_CUTOFF
    strata: str | None = None  # any of STRATA_CHOICES

    @property
    def selected(self) -> cohorts.CohortFilter:
        """The CohortFilter the shared selector runs with (research narrowing included)."""
        q = Q()
        if self.start_from:
            q &= Q(start__gte=self.start_from)
        if self.start_to:
            q &= Q(start__lte=self.start_to)
        if self.ttp_regular:
            q &= Q(patient_id__in=ttp_regular_patients(self.ttp_regular, self))
        strata = self.strata if self.strata in cohorts.STRATA else None
        return dataclasses.replace(self.cohort, extra=q or None, strata=strata)

    def as_params(self) -> dict[str, str]:
        """Everything that defines the cohort, as query parameters (bookmarks, links)."""
        params = self.cohort.as_params()
        params["endpoint"] = self.cohort.endpoint
        if self.strata:
            params["strata"] = self.strata
        if self.start_from:
            params["start_from"] = self.start_from.isoformat()
        if self.start_to:
            params["start_to"] = self.start_to.isoformat()
        if self.ttp_regular:
            params["ttp_regular"] = self.ttp_regular
        params["ttp_regular_cutoff"] = f"{self.ttp_regular_cutoff:g}"
        return params


def parse_filter(params: Mapping[str, Any], *, extra_allowed: frozenset[str] = frozenset()):
    """Read a ResearchFilter from GET parameters; errors name their parameter.

    Multi-valued parameters (a multi-select of primary sites) are joined with
    commas, the spelling `CohortFilter.from_params` reads. Blank values are
    "not set", as an untouched form field sends them.
    """
    getlist = getattr(params, "getlist", lambda k: [params[k]])
    flat = {}
    for key in params:
        values = [str(v).strip() for v in getlist(key) if str(v).strip()]
        if values:
            flat[key] = ",".join(values)
    errors: dict[str, list[str]] = {}
    own = {k: flat.pop(k) for k in list(flat) if k in RESEARCH_PARAMS}
    for k in extra_allowed:
        flat.pop(k, None)
    strata = flat.pop("strata", None)
    if strata is not None and strata not in STRATA_CHOICES:
        errors["strata"] = [
            f"'{strata}' is not one of: {', '.join(k for k in STRATA_CHOICES if k)}."
        ]
    if strata in cohorts.STRATA:
        flat["strata"] = strata
    try:
        cohort = cohorts.CohortFilter.from_params(flat, analysis=True)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        cohort = cohorts.CohortFilter()

    values: dict[str, Any] = {}
    for name in ("start_from", "start_to"):
        if name in own:
            try:
                values[name] = dt.date.fromisoformat(own[name])
            except ValueError:
                errors[name] = [f"'{own[name][:40]}' is not a date (YYYY-MM-DD)."]
    if (raw := own.get("ttp_regular")) is not None:
        if raw not in TTP_REGULAR_LABELS:
            errors["ttp_regular"] = ["Must be short or long."]
        else:
            values["ttp_regular"] = raw
    if (raw := own.get("ttp_regular_cutoff")) is not None:
        try:
            cutoff = float(raw)
            if not 0 < cutoff <= 600:
                raise ValueError
            values["ttp_regular_cutoff"] = cutoff
        except ValueError:
            errors["ttp_regular_cutoff"] = ["Must be a number of months between 0 and 600."]
    if (
        values.get("start_from")
        and values.get("start_to")
        and values["start_from"] > values["start_to"]
    ):
        errors["start_to"] = ["Must not be before start_from."]
    if errors:
        raise ValidationError(errors)
    return ResearchFilter(cohort=cohort, strata=strata or None, **values)


# ---------------------------------------------------------------- TTP after regular


def regular_ttp_columns(criteria: str) -> tuple[str, str]:
    return cohorts.endpoint_columns("ttp", criteria)


def ttp_regular_patients(group: str, rf: ResearchFilter) -> QuerySet:
    """Patients whose first regular course gave a short (event before the cut-off) or long TTP.

    **Decision**: "short" needs a progression before the cut-off; "long" is a
    TTP of at least the cut-off, progressed or not.  A TTP censored before the
    cut-off belongs to neither group.
    """
    months, event = regular_ttp_columns(rf.cohort.criteria)
    regular = CourseOutcome.objects.filter(phase=Phase.REGULAR, round=1)
    if group == "short":
        regular = regular.filter(**{f"{months}__lt": rf.ttp_regular_cutoff, event: True})
    else:
        regular = regular.filter(**{f"{months}__gte": rf.ttp_regular_cutoff})
    return regular.values("patient_id")


def regular_ttp_by_patient(patient_ids, criteria: str) -> dict[int, tuple[float, bool]]:
    months, event = regular_ttp_columns(criteria)
    rows = CourseOutcome.objects.filter(
        phase=Phase.REGULAR, round=1, patient_id__in=patient_ids, **{f"{months}__isnull": False}
    ).values_list("patient_id", months, event)
    return {pid: (float(m), bool(e)) for pid, m, e in rows}


def ttp_regular_group(value: tuple[float, bool] | None, cutoff: float) -> str | None:
    if value is None:
        return None
    months, event = value
    if months >= cutoff:
        return "long"
    return "short" if event else None


# --------------------------------------------------------------------- survival


def _strata_labeller(rf: ResearchFilter, rows: list[CourseOutcome]) -> Callable:
    if rf.strata == "pancreas":
        return lambda row: "pancreas" if row.patient.primary_site == "pancreas" else "other"
    if rf.strata == "ttp_regular":
        regular = regular_ttp_by_patient([r.patient_id for r in rows], rf.cohort.criteria)
        return lambda row: ttp_regular_group(regular.get(row.patient_id), rf.ttp_regular_cutoff)
    raise ValueError(rf.strata)


def survival_curves(user, rf: ResearchFilter, endpoint: str | None = None) -> dict[str, Any]:
    """The survival JSON of `cohorts.survival_analysis`, for our own strata too.

    Own strata use the same pieces (`cohorts.km_group`, `survival.logrank`) on
    the same selected rows; patients outside every group (a TTP after regular
    therapy censored before the cut-off) are left out, as R drops NA strata.
    """
    cohort = rf.selected
    if endpoint:
        cohort = dataclasses.replace(cohort, endpoint=endpoint)
    if rf.strata not in OWN_STRATA:
        return cohorts.survival_analysis(user, cohort)
    rows = list(cohorts.select_course_outcomes(user, cohort))
    label_of = _strata_labeller(rf, rows)
    months_col, event_col = cohorts.endpoint_columns(cohort.endpoint, cohort.criteria)
    data = [
        (label, float(getattr(r, months_col)), bool(getattr(r, event_col)))
        for r in rows
        if getattr(r, months_col) is not None and (label := label_of(r)) is not None
    ]
    groups = []
    for label in [g for g in OWN_STRATA_GROUPS[rf.strata] if any(d[0] == g for d in data)]:
        mine = [d for d in data if d[0] == label]
        groups.append(
            cohorts.km_group(label, [d[1] for d in mine], [d[2] for d in mine], cohort.conf_type)
        )
    logrank = None
    if data:
        test = km.logrank([d[1] for d in data], [d[2] for d in data], [d[0] for d in data])
        logrank = {
            "chi2": round(test.chi2, 4),
            "df": test.df,
            "p": None if test.p is None else round(test.p, 4),
        }
    return {
        "endpoint": cohort.endpoint,
        "phase": cohort.phase,
        "criteria": cohort.criteria,
        "conf_type": cohort.conf_type,
        "time_unit": "months",
        "groups": groups,
        "logrank": logrank,
        "stale_patients": cohorts.stale_patient_count(user, cohort),
    }


# ----------------------------------------------------------------------- report


def summary(values: list[float], digits: int = 1) -> dict[str, float | int | None]:
    """n, median and range, the paper's "median 16 (range 1–40)" form."""
    if not values:
        return {"n": 0, "median": None, "min": None, "max": None}
    return {
        "n": len(values),
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def _counts(values, keys) -> dict[str, int]:
    counted = Counter(values)
    return {k: counted.get(k, 0) for k in keys}


def cohort_rows(user, rf: ResearchFilter) -> list[CourseOutcome]:
    return list(
        cohorts.select_course_outcomes(user, rf.selected).select_related(
            "course", "patient__identity"
        )
    )


def paper_report(user, rf: ResearchFilter) -> dict[str, Any]:
    """Every table of the report page, as numbers (the template only lays them out)."""
    selected = rf.selected
    api = cohorts.cohort_report(user, selected)
    rows = cohort_rows(user, rf)
    regular = regular_ttp_by_patient([r.patient_id for r in rows], selected.criteria)
    criteria = selected.criteria

    ages = [a for r in rows if (a := age_at(_birth_date(r), r.start)) is not None]
    ki67 = [r.patient.ki67_percent for r in rows if r.patient.ki67_percent is not None]
    regular_months = [regular[r.patient_id][0] for r in rows if r.patient_id in regular]
    regular_groups = [
        ttp_regular_group(regular.get(r.patient_id), rf.ttp_regular_cutoff) for r in rows
    ]
    characteristics = {
        "n": len(rows),
        "sex": _counts((r.patient.sex or "U" for r in rows), Sex.values),
        "age": summary([float(a) for a in ages], 0),
        "primary_site": _counts((r.patient.primary_site for r in rows), PrimarySite.values),
        "ki67": summary(ki67, 1),
        "prior_activity_gbq": summary([r.cumulative_activity_before_gbq for r in rows], 1),
        "ttp_regular": {
            **summary(regular_months, 1),
            "events": sum(1 for r in rows if regular.get(r.patient_id, (0, False))[1]),
            "short": regular_groups.count("short"),
            "long": regular_groups.count("long"),
            "cutoff": rf.ttp_regular_cutoff,
        },
    }
    other = Criteria.RECIST if criteria == Criteria.SWOG else Criteria.SWOG
    best_response = {
        criteria: api["best_response"],
        other: _counts((getattr(r, f"best_{other}") for r in rows), ResponseCode.values),
    }
    endpoints = {"ttp": {**api["ttp"], "median": api["ttp"]["median_months"]}}
    for ep in ("pfs", "os"):
        group = survival_curves(user, dataclasses.replace(rf, strata=None), endpoint=ep)["groups"][
            0
        ]
        endpoints[ep] = {
            "n": group["n"],
            "events": group["events"],
            "median": None if group["median"] is None else round(group["median"], 1),
            "ci95": [None if b is None else round(b, 1) for b in group["median_ci95"]],
        }
    below = [r for r in rows if r.intended_activity_reached is False]
    subgroups = {}
    for strata in OWN_STRATA:
        result = survival_curves(user, dataclasses.replace(rf, strata=strata), endpoint="ttp")
        subgroups[strata] = {
            "groups": [
                {
                    "label": g["label"],
                    "n": g["n"],
                    "events": g["events"],
                    "median": g["median"],
                    "ci95": g["median_ci95"],
                }
                for g in result["groups"]
            ],
            "p": (result["logrank"] or {}).get("p"),
        }
    return {
        "filter": rf,
        "criteria": criteria,
        "other_criteria": other,
        "api": api,
        "characteristics": characteristics,
        "best_response": best_response,
        "toxicity": api["toxicity"],
        "endpoints": endpoints,
        "follow_up": api["follow_up"],
        "activity": {
            "course_gbq": api["cumulative_activity_gbq"],
            "reached": api["intended_activity_reached"],
            "below": len(below),
            "no_intended": sum(1 for r in rows if r.intended_activity_reached is None),
            "below_by_reason": _counts(
                (r.course.stop_reason or "none" for r in below), [*StopReason.values, "none"]
            ),
        },
        "subgroups": subgroups,
        "stale_patients": api["stale_patients"],
    }


# ------------------------------------------------------------------- drill-down

DRILL_VALUES: dict[str, tuple[str, ...]] = {
    "sex": tuple(Sex.values),
    "primary_site": tuple(PrimarySite.values),
    "primary_group": ("pancreas", "other"),
    "best_swog": tuple(ResponseCode.values),
    "best_recist": tuple(ResponseCode.values),
    **{f"grade_{k}": (*cohorts.GRADE_KEYS, "na") for k in cohorts.TOXICITY_KEYS},
    **{f"event_{ep}": ("1", "0") for ep in cohorts.ENDPOINTS},
    "intended": ("reached", "below", "none"),
    "stop_reason": (*StopReason.values, "none"),
    "ttp_regular": tuple(TTP_REGULAR_LABELS),
    "has": ("age", "ki67", "ttp_regular"),
}


def _drill_facts(rows: list[CourseOutcome], rf: ResearchFilter) -> dict[int, dict[str, Any]]:
    """Per row, the value of every drill-down field (sets for `has`), as the report counts them."""
    crit = rf.cohort.criteria
    grades = cohorts.worst_grades_by_course(rows, rf.selected.window_days)
    regular = regular_ttp_by_patient([r.patient_id for r in rows], crit)
    intended = {True: "reached", False: "below", None: "none"}
    facts = {}
    for r in rows:
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
            "ttp_regular": ttp_regular_group(regular.get(r.patient_id), rf.ttp_regular_cutoff),
            "has": {
                name
                for name, present in (
                    ("age", age_at(_birth_date(r), r.start) is not None),
                    ("ki67", r.patient.ki67_percent is not None),
                    ("ttp_regular", r.patient_id in regular),
                )
                if present
            },
        }
        for key, grade in grades[r.course_id].items():
            f[f"grade_{key}"] = "na" if grade is None else str(min(grade, 4))
        for ep in cohorts.ENDPOINTS:
            months, event = cohorts.endpoint_columns(ep, crit)
            if getattr(r, months) is not None:
                f[f"event_{ep}"] = "1" if getattr(r, event) else "0"
        facts[r.pk] = f
    return facts


def _birth_date(row: CourseOutcome) -> dt.date | None:
    identity = getattr(row.patient, "identity", None)
    return identity.birth_date if identity else None


def drill_rows(user, rf: ResearchFilter, drill: str) -> list[CourseOutcome]:
    """The cohort's rows behind one number of the report.

    `drill` is "field:value", several joined by commas (all must hold), or "".
    """
    rows = cohort_rows(user, rf)
    conditions = [c.partition(":")[::2] for c in drill.split(",") if c]
    for field, value in conditions:
        if value not in DRILL_VALUES.get(field, ()):
            known = ", ".join(f"{k}:{'|'.join(v)}" for k, v in DRILL_VALUES.items())
            raise ValidationError(
                {"drill": [f"Unknown drill-down '{drill[:60]}'. Known: {known}."]}
            )
    if not conditions:
        return rows
    facts = _drill_facts(rows, rf)

    def holds(row: CourseOutcome, field: str, value: str) -> bool:
        f = facts[row.pk]
        return value in f["has"] if field == "has" else f.get(field) == value

    return [r for r in rows if all(holds(r, f, v) for f, v in conditions)]
