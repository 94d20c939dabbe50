"""Cohorts: the one filter, selector, report and survival analysis behind the API and dashboards.

`CohortFilter.from_params` reads the filters of CONTRACT.md ("Cohort report",
"Survival analysis") from query parameters; `select_course_outcomes` picks the
derived per-course rows they describe among the patients a user may see;
`cohort_report` and `survival_analysis` turn those rows into the contract's
shapes. The REST API and the research dashboards both call these functions,
so a number on a page and the same number from `/api/v1/` cannot disagree.

Results are read from the derived rows (`CourseOutcome`), never recomputed per
request, with one exception: a toxicity window other than the setting the rows
were computed with (`LUTETIA_TOXICITY_WINDOW_DAYS`) is graded on the fly from
the selected courses' labs by the same `registry.clinical.ctcae` code.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from ..access import visible_patients
from ..clinical import ctcae, survival
from ..clinical.facts import CourseFact, CycleFact, LabFact
from ..models import (
    CourseOutcome,
    Criteria,
    Cycle,
    LabResult,
    Patient,
    PatientState,
    Phase,
    PrimarySite,
    ResponseCode,
)

ENDPOINTS: tuple[str, ...] = ("ttp", "pfs", "os")
DISEASE_CONTROL: tuple[str, ...] = ("CR", "PR", "MR", "SD")
RESPONSE_KEYS: tuple[str, ...] = tuple(ResponseCode.values)  # CR PR MR SD PD NE
# The toxicity table of the report and the outcomes endpoint (CONTRACT.md).
TOXICITY_KEYS: tuple[str, ...] = (
    "hematologic",
    "hemoglobin",
    "platelets",
    "wbc",
    "neutrophils",
    "lymphocytes",
    "creatinine",
)
GRADE_KEYS: tuple[str, ...] = ("0", "1", "2", "3", "4")
# What a survival analysis may be stratified by: patient fields (the label is
# the value as stored) and the best response under the chosen criteria.
STRATA: tuple[str, ...] = ("primary_site", "sex", "site", "best_response")
FILTER_PARAMS: frozenset[str] = frozenset(
    {
        "phase",
        "round",
        "primary_site",
        "site",
        "disease_control",
        "criteria",
        "toxicity_window_days",
        "conf_type",
    }
)
ANALYSIS_PARAMS: frozenset[str] = FILTER_PARAMS | {"endpoint", "strata"}
# DRF's URL format override; harmless, so never reported as unknown.
IGNORED_PARAMS: frozenset[str] = frozenset({"format"})
MAX_TOXICITY_WINDOW_DAYS = 3650
MAX_ROUND = 100

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True, slots=True)
class CohortFilter:
    """Which courses a cohort report or survival analysis is about (CONTRACT.md).

    `phase` defaults to `salvage`, the registry's first purpose; `round` 1 is
    each patient's first course of that phase. `toxicity_window_days` None
    means the setting the derived rows were computed with.
    """

    phase: str = Phase.SALVAGE
    round: int = 1
    primary_site: tuple[str, ...] = ()
    site: tuple[str, ...] = ()
    disease_control: bool | None = None
    criteria: str = Criteria.SWOG
    toxicity_window_days: int | None = None
    conf_type: str = "log-log"
    endpoint: str = "ttp"
    strata: str | None = None
    # A narrowing added in code by a caller, never parsed from parameters: the
    # research pages' course-date and TTP-after-regular filters
    # (registry/services/research_report.py) go through the same selector.
    extra: Q | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any], *, analysis: bool = False) -> CohortFilter:
        """Parse query parameters; every problem is a ValidationError naming its parameter.

        `analysis` admits the survival-only parameters `endpoint` and `strata`.
        Unknown parameters are refused, so a misspelt filter never silently
        widens a cohort.
        """
        allowed = ANALYSIS_PARAMS if analysis else FILTER_PARAMS
        errors: dict[str, list[str]] = {}
        values: dict[str, Any] = {}

        def single(name: str) -> str | None:
            raw = params.get(name)
            if raw is None:
                return None
            raw = str(raw).strip()
            if "\x00" in raw:
                # PostgreSQL refuses NUL in text: a 400 here, not a 500 at the query.
                errors[name] = ["Null characters are not allowed."]
                return None
            return raw or None

        def choice(name: str, options: Iterable[str]) -> None:
            raw = single(name)
            if raw is None:
                return
            options = tuple(options)
            if raw not in options:
                errors[name] = [f"'{raw}' is not one of: {', '.join(options)}."]
            else:
                values[name] = raw

        def integer(name: str, low: int, high: int) -> None:
            raw = single(name)
            if raw is None:
                return
            try:
                number = int(raw)
            except ValueError:
                errors[name] = [f"'{raw[:40]}' is not a whole number."]
                return
            if not low <= number <= high:
                errors[name] = [f"Must be between {low} and {high}."]
            else:
                values[name] = number

        unknown = sorted(set(params) - allowed - IGNORED_PARAMS)
        for name in unknown:
            errors[name] = [f"Unknown parameter. Known: {', '.join(sorted(allowed))}."]

        choice("phase", Phase.values)
        choice("criteria", Criteria.values)
        choice("conf_type", survival.CONF_TYPES)
        integer("round", 1, MAX_ROUND)
        integer("toxicity_window_days", 0, MAX_TOXICITY_WINDOW_DAYS)
        if analysis:
            choice("endpoint", ENDPOINTS)
            choice("strata", STRATA)

        if (raw := single("primary_site")) is not None:
            sites = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
            bad = [s for s in sites if s not in PrimarySite.values]
            if bad:
                errors["primary_site"] = [
                    f"Unknown primary site {', '.join(bad)}; "
                    f"known: {', '.join(PrimarySite.values)}."
                ]
            else:
                values["primary_site"] = sites
        if (raw := single("site")) is not None:
            values["site"] = tuple(
                dict.fromkeys(part.strip() for part in raw.split(",") if part.strip())
            )
        if (raw := single("disease_control")) is not None:
            if raw.lower() in _TRUE:
                values["disease_control"] = True
            elif raw.lower() in _FALSE:
                values["disease_control"] = False
            else:
                errors["disease_control"] = ["Must be true or false."]

        if errors:
            raise ValidationError(errors)
        return cls(**values)

    @property
    def window_days(self) -> int:
        if self.toxicity_window_days is not None:
            return self.toxicity_window_days
        return settings.LUTETIA_TOXICITY_WINDOW_DAYS

    def as_params(self) -> dict[str, str]:
        """The filter as query parameters (for links and saved cohorts)."""
        params = {
            "phase": self.phase,
            "round": str(self.round),
            "criteria": self.criteria,
            "conf_type": self.conf_type,
            "toxicity_window_days": str(self.window_days),
        }
        if self.primary_site:
            params["primary_site"] = ",".join(self.primary_site)
        if self.site:
            params["site"] = ",".join(self.site)
        if self.disease_control is not None:
            params["disease_control"] = "true" if self.disease_control else "false"
        return params


# ------------------------------------------------------------------- selection


def _patient_filter(cohort: CohortFilter, prefix: str = "") -> Q:
    q = Q()
    if cohort.primary_site:
        q &= Q(**{f"{prefix}primary_site__in": cohort.primary_site})
    if cohort.site:
        q &= Q(**{f"{prefix}site__code__in": cohort.site})
    return q


def select_course_outcomes(user, cohort: CohortFilter) -> QuerySet[CourseOutcome]:
    """The derived course rows of a cohort, among the patients `user` may see.

    One row per patient at most: a patient has one course of a phase and round.
    """
    rows = CourseOutcome.objects.filter(
        _patient_filter(cohort, "patient__"),
        patient__in=visible_patients(user),
        phase=cohort.phase,
        round=cohort.round,
    )
    if cohort.disease_control is not None:
        in_control = Q(**{f"best_{cohort.criteria}__in": DISEASE_CONTROL})
        rows = rows.filter(in_control if cohort.disease_control else ~in_control)
    if cohort.extra is not None:
        rows = rows.filter(cohort.extra)
    return rows.select_related("patient__site").order_by("patient__study_id", "id")


def stale_patient_count(user, cohort: CohortFilter) -> int:
    """Patients of the cohort's sites and primary sites whose results are being recomputed.

    Reports say so instead of showing stale numbers silently (DESIGN.md, step 5);
    a patient never computed counts as stale too.
    """
    patients = visible_patients(user).filter(_patient_filter(cohort))
    return patients.filter(Q(state__isnull=True) | Q(state__stale=True)).count()


# --------------------------------------------------------------------- toxicity


def _stored_grades(row: CourseOutcome) -> dict[str, int | None]:
    return {key: getattr(row, f"grade_{key}") for key in TOXICITY_KEYS}


def worst_grades_by_course(
    rows: list[CourseOutcome], window_days: int
) -> dict[int, dict[str, int | None]]:
    """Worst grade per toxicity key for each row's course, in a toxicity window of `window_days`.

    The stored columns when the window is the one they were computed with;
    otherwise graded again from the labs (two queries for the whole cohort).
    """
    if window_days == settings.LUTETIA_TOXICITY_WINDOW_DAYS:
        return {row.course_id: _stored_grades(row) for row in rows}
    course_ids = [row.course_id for row in rows]
    patient_ids = {row.patient_id for row in rows}
    cycles: dict[int, list[CycleFact]] = defaultdict(list)
    for course_id, day, gbq in Cycle.objects.filter(course_id__in=course_ids).values_list(
        "course_id", "date", "administered_gbq"
    ):
        cycles[course_id].append(CycleFact(day, gbq))
    labs: dict[int, list[LabFact]] = defaultdict(list)
    lab_rows = LabResult.objects.filter(
        patient_id__in=patient_ids, analyte__in=ctcae.GRADED_ANALYTES
    ).values_list("patient_id", "date", "analyte", "value", "unit", "canonical_value", "lln", "uln")
    for patient_id, *fields in lab_rows:
        labs[patient_id].append(LabFact(*fields))
    grades: dict[int, dict[str, int | None]] = {}
    for row in rows:
        course = CourseFact(key=row.course_id, phase=row.phase, cycles=tuple(cycles[row.course_id]))
        worst = ctcae.worst_grades(
            course,
            labs[row.patient_id],
            sex=row.patient.sex or None,
            window_end=row.window_end,
            toxicity_window_days=window_days,
        )
        grades[row.course_id] = {key: worst.get(key) for key in TOXICITY_KEYS}
    return grades


# ---------------------------------------------------------------------- numbers


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def _summary(values: list[float], digits: int, *, names=("median", "min", "max")) -> dict:
    if not values:
        return dict.fromkeys(names)
    stats = (statistics.median(values), min(values), max(values))
    return {name: round(value, digits) for name, value in zip(names, stats, strict=True)}


def endpoint_columns(endpoint: str, criteria: str) -> tuple[str, str]:
    """The outcome columns (months, event) of an endpoint under a progression criteria (§3)."""
    if endpoint == "os":
        return "os_months", "os_event"
    return f"{endpoint}_{criteria}_months", f"{endpoint}_{criteria}_event"


def _times(rows: Iterable[CourseOutcome], endpoint: str, criteria: str):
    months_column, event_column = endpoint_columns(endpoint, criteria)
    for row in rows:
        months = getattr(row, months_column)
        if months is not None:
            yield row, float(months), bool(getattr(row, event_column))


# ------------------------------------------------------------------------ report


def cohort_report(user, cohort: CohortFilter) -> dict[str, Any]:
    """The cohort report of CONTRACT.md ("Cohort report"), plus `stale_patients`."""
    rows = list(select_course_outcomes(user, cohort))
    criteria = cohort.criteria
    best_response = dict.fromkeys(RESPONSE_KEYS, 0)
    for row in rows:
        best_response[getattr(row, f"best_{criteria}")] += 1

    toxicity = {key: {**dict.fromkeys(GRADE_KEYS, 0), "not_assessed": 0} for key in TOXICITY_KEYS}
    for grades in worst_grades_by_course(rows, cohort.window_days).values():
        for key in TOXICITY_KEYS:
            grade = grades[key]
            # Lab-derived grades stop at 4; anything else would be a bug upstream.
            toxicity[key]["not_assessed" if grade is None else str(min(grade, 4))] += 1

    times = list(_times(rows, "ttp", criteria))
    ttp: dict[str, Any] = {"n": len(times), "events": sum(e for _, _, e in times)}
    if times:
        km = survival.kaplan_meier(
            [t for _, t, _ in times], [e for _, _, e in times], conf_type=cohort.conf_type
        )
        ttp["median_months"] = _round(km.median, 1)
        ttp["ci95"] = [_round(km.median_ci_lower, 1), _round(km.median_ci_upper, 1)]
    else:
        ttp["median_months"] = None
        ttp["ci95"] = [None, None]

    follow_up = [row.follow_up_months for row in rows if row.follow_up_months is not None]
    return {
        "phase": cohort.phase,
        "criteria": criteria,
        "n_patients": len(rows),
        "best_response": best_response,
        "toxicity": toxicity,
        "ttp": ttp,
        "follow_up": _summary(follow_up, 1, names=("median_months", "min_months", "max_months")),
        "cumulative_activity_gbq": _summary([row.activity_gbq for row in rows], 2),
        "intended_activity_reached": sum(1 for row in rows if row.intended_activity_reached),
        "toxicity_window_days": cohort.window_days,
        "stale_patients": stale_patient_count(user, cohort),
    }


# ---------------------------------------------------------------------- survival


def _stratum(row: CourseOutcome, strata: str, criteria: str) -> str:
    if strata == "primary_site":
        return row.patient.primary_site
    if strata == "sex":
        return row.patient.sex or "U"  # blank is recorded as unknown
    if strata == "site":
        return row.patient.site.code
    if strata == "best_response":
        return getattr(row, f"best_{criteria}")
    raise ValueError(f"unknown stratum {strata!r}")


def km_group(label: str, times: list[float], events: list[bool], conf_type: str) -> dict:
    """One group of the survival analysis: counts, median with CI, and R's table (§4)."""
    if not times:
        return {
            "label": label,
            "n": 0,
            "events": 0,
            "median": None,
            "median_ci95": [None, None],
            "table": [],
        }
    km = survival.kaplan_meier(times, events, conf_type=conf_type)
    return {
        "label": label,
        "n": km.n,
        "events": km.events,
        "median": _round(km.median, 2),
        "median_ci95": [_round(km.median_ci_lower, 2), _round(km.median_ci_upper, 2)],
        "table": [
            {
                "time": round(r.time, 2),
                "n_risk": r.n_risk,
                "n_event": r.n_event,
                "n_censor": r.n_censor,
                "survival": round(r.survival, 4),
                "ci_lower": _round(r.ci_lower, 4),
                "ci_upper": _round(r.ci_upper, 4),
            }
            for r in km.table
        ],
    }


def survival_analysis(user, cohort: CohortFilter) -> dict[str, Any]:
    """Kaplan–Meier per stratum and the log-rank test (CONTRACT.md, "Survival analysis")."""
    rows = select_course_outcomes(user, cohort)
    data = list(_times(rows, cohort.endpoint, cohort.criteria))
    by_group: dict[str, tuple[list[float], list[bool]]] = defaultdict(lambda: ([], []))
    for row, months, event in data:
        label = "all" if cohort.strata is None else _stratum(row, cohort.strata, cohort.criteria)
        by_group[label][0].append(months)
        by_group[label][1].append(event)
    if cohort.strata is None:
        by_group.setdefault("all", ([], []))
    groups = [
        km_group(label, times, events, cohort.conf_type)
        for label, (times, events) in sorted(by_group.items())
    ]
    logrank = None
    if cohort.strata is not None:
        test = survival.logrank(
            [m for _, m, _ in data],
            [e for _, _, e in data],
            [_stratum(row, cohort.strata, cohort.criteria) for row, _, _ in data],
        )
        logrank = {"chi2": round(test.chi2, 4), "df": test.df, "p": _round(test.p, 4)}
    return {
        "endpoint": cohort.endpoint,
        "phase": cohort.phase,
        "criteria": cohort.criteria,
        "conf_type": cohort.conf_type,
        "time_unit": "months",
        "groups": groups,
        "logrank": logrank,
        "stale_patients": stale_patient_count(user, cohort),
    }


# ------------------------------------------------------------------ one patient


def patient_outcomes(patient: Patient, *, criteria: str = Criteria.SWOG) -> dict[str, Any]:
    """What the registry computed for one patient (CONTRACT.md, `…/outcomes/`).

    Read from the derived rows; `stale` is true while a recomputation is
    pending (or before the first one). `ttp` and `pfs` follow `criteria`.
    """
    state = PatientState.objects.filter(patient=patient).first()
    rows = CourseOutcome.objects.filter(patient=patient).order_by("start", "id")
    courses = []
    for row in rows:
        ttp_months, ttp_event = endpoint_columns("ttp", criteria)
        pfs_months, pfs_event = endpoint_columns("pfs", criteria)
        courses.append(
            {
                "course": row.course_id,
                "phase": row.phase,
                "round": row.round,
                "start": row.start.isoformat(),
                "cycles": row.cycles,
                "activity_gbq": round(row.activity_gbq, 2),
                "intended_activity_reached": row.intended_activity_reached,
                "best_response": {"swog": row.best_swog, "recist": row.best_recist},
                "overridden": row.overridden,
                "worst_grade": _stored_grades(row),
                "ttp": _endpoint(getattr(row, ttp_months), getattr(row, ttp_event)),
                "pfs": _endpoint(getattr(row, pfs_months), getattr(row, pfs_event)),
                "os": _endpoint(row.os_months, row.os_event),
            }
        )
    lifetime = state.cumulative_activity_gbq if state else sum(c["activity_gbq"] for c in courses)
    return {
        "study_id": patient.study_id,
        "cumulative_activity_gbq": round(lifetime, 2),
        "stale": state is None or state.stale,
        "courses": courses,
    }


def _endpoint(months: float | None, event: bool) -> dict[str, Any]:
    return {"months": _round(months, 2), "event": bool(event)}
