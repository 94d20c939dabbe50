"""Cohort reports: CONTRACT.md's cohort report, and the paper-style report.

`cohort_report` is `GET /api/v1/reports/cohort/`; `paper_report` is every
table of the research report page, following van Essen et al., J Nucl Med
2010;51:383–390: patient characteristics, best response, worst toxicity
grades, median TTP, PFS and OS, follow-up, activity given, and TTP by
subgroup. Both read one `Cohort`, so the page and the API agree by
construction; every count of the page carries a drill-down key
(`registry.research.drill`) naming the patients behind it.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from registry.clinical import survival
from registry.derive.outcomes import GRADE_KEYS, TOXICITY_KEYS
from registry.models import Criteria, PrimarySite, ResponseCode, Sex, StopReason
from registry.research.analyses import endpoint_times, survival_analysis
from registry.research.cohort import Cohort, age_at, birth_date
from registry.research.filters import OWN_STRATA, RESPONSE_KEYS, ttp_regular_group


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def _summary(values: list[float], digits: int, *, names=("median", "min", "max")) -> dict:
    if not values:
        return dict.fromkeys(names)
    stats = (statistics.median(values), min(values), max(values))
    return {name: round(value, digits) for name, value in zip(names, stats, strict=True)}


def summary(values: list[float], digits: int = 1) -> dict[str, float | int | None]:
    """n, median and range, the paper's "median 16 (range 1–40)" form."""
    if not values:
        return {"n": 0, "median": None, "min": None, "max": None}
    return {"n": len(values), **_summary(values, digits)}


def _counts(values, keys) -> dict[str, int]:
    counted = Counter(values)
    return {k: counted.get(k, 0) for k in keys}


# ------------------------------------------------------------------ contract


def cohort_report(cohort: Cohort) -> dict[str, Any]:
    """The cohort report of CONTRACT.md ("Cohort report"), plus `stale_patients`."""
    rows, criteria, selection = cohort.rows, cohort.criteria, cohort.selection
    best_response = dict.fromkeys(RESPONSE_KEYS, 0)
    for row in rows:
        best_response[getattr(row, f"best_{criteria}")] += 1

    toxicity = {key: {**dict.fromkeys(GRADE_KEYS, 0), "not_assessed": 0} for key in TOXICITY_KEYS}
    for grades in cohort.worst_grades().values():
        for key in TOXICITY_KEYS:
            grade = grades[key]
            # Lab-derived grades stop at 4; anything else would be a bug upstream.
            toxicity[key]["not_assessed" if grade is None else str(min(grade, 4))] += 1

    times = list(endpoint_times(rows, "ttp", criteria))
    ttp: dict[str, Any] = {"n": len(times), "events": sum(e for _, _, e in times)}
    if times:
        km = survival.kaplan_meier(
            [t for _, t, _ in times], [e for _, _, e in times], conf_type=selection.conf_type
        )
        ttp["median_months"] = _round(km.median, 1)
        ttp["ci95"] = [_round(km.median_ci_lower, 1), _round(km.median_ci_upper, 1)]
    else:
        ttp["median_months"] = None
        ttp["ci95"] = [None, None]

    follow_up = [row.follow_up_months for row in rows if row.follow_up_months is not None]
    return {
        "phase": selection.phase,
        "criteria": criteria,
        "n_patients": len(rows),
        "best_response": best_response,
        "toxicity": toxicity,
        "ttp": ttp,
        "follow_up": _summary(follow_up, 1, names=("median_months", "min_months", "max_months")),
        "cumulative_activity_gbq": _summary([row.activity_gbq for row in rows], 2),
        "intended_activity_reached": sum(1 for row in rows if row.intended_activity_reached),
        "toxicity_window_days": selection.window_days,
        "stale_patients": cohort.stale_patients,
    }


# --------------------------------------------------------------------- paper


def paper_report(cohort: Cohort) -> dict[str, Any]:
    """Every table of the report page, as numbers (the template only lays them out)."""
    api = cohort_report(cohort)
    criteria = cohort.criteria
    other = Criteria.RECIST if criteria == Criteria.SWOG else Criteria.SWOG
    best_response = {
        criteria: api["best_response"],
        other: _counts((getattr(r, f"best_{other}") for r in cohort.rows), ResponseCode.values),
    }
    endpoints = {"ttp": {**api["ttp"], "median": api["ttp"]["median_months"]}}
    for ep in ("pfs", "os"):
        group = survival_analysis(cohort, endpoint=ep, strata=None)["groups"][0]
        endpoints[ep] = {
            "n": group["n"],
            "events": group["events"],
            "median": None if group["median"] is None else round(group["median"], 1),
            "ci95": [None if b is None else round(b, 1) for b in group["median_ci95"]],
        }
    return {
        "filter": cohort.filter,
        "criteria": criteria,
        "other_criteria": other,
        "api": api,
        "characteristics": _characteristics(cohort),
        "best_response": best_response,
        "toxicity": api["toxicity"],
        "endpoints": endpoints,
        "follow_up": api["follow_up"],
        "activity": _activity(cohort, api),
        "subgroups": _subgroups(cohort),
        "stale_patients": api["stale_patients"],
    }


def _characteristics(cohort: Cohort) -> dict[str, Any]:
    """The seed paper's Table 1: sex, age, primary, Ki-67, prior activity, TTP after regular."""
    rows, regular = cohort.rows, cohort.regular_ttp
    cutoff = cohort.filter.ttp_regular_cutoff
    ages = [a for r in rows if (a := age_at(birth_date(r), r.start)) is not None]
    ki67 = [r.patient.ki67_percent for r in rows if r.patient.ki67_percent is not None]
    regular_months = [regular[r.patient_id][0] for r in rows if r.patient_id in regular]
    regular_groups = [ttp_regular_group(regular.get(r.patient_id), cutoff) for r in rows]
    return {
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
            "cutoff": cutoff,
        },
    }


def _activity(cohort: Cohort, api: dict[str, Any]) -> dict[str, Any]:
    below = [r for r in cohort.rows if r.intended_activity_reached is False]
    return {
        "course_gbq": api["cumulative_activity_gbq"],
        "reached": api["intended_activity_reached"],
        "below": len(below),
        "no_intended": sum(1 for r in cohort.rows if r.intended_activity_reached is None),
        "below_by_reason": _counts(
            (r.course.stop_reason or "none" for r in below), [*StopReason.values, "none"]
        ),
    }


def _subgroups(cohort: Cohort) -> dict[str, Any]:
    """TTP by the seed paper's subgroups, with the log-rank p."""
    subgroups = {}
    for strata in OWN_STRATA:
        result = survival_analysis(cohort, endpoint="ttp", strata=strata)
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
    return subgroups
