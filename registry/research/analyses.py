"""Survival analysis of a cohort: Kaplan–Meier per stratum and the log-rank test.

`survival_analysis(cohort)` answers CONTRACT.md's "Survival analysis" for the
contract's strata (patient fields and the best response) and, for the
research pages, the seed paper's own (`ttp_regular`, `pancreas`). Both use
the same pieces (`km_group`, `survival.logrank`) on the cohort's rows, read
once (`registry.research.cohort.Cohort`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from registry.clinical import survival
from registry.derive.outcomes import endpoint_columns
from registry.models import CourseOutcome
from registry.research.cohort import Cohort
from registry.research.filters import OWN_STRATA, OWN_STRATA_GROUPS, ttp_regular_group


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def endpoint_times(rows: Iterable[CourseOutcome], endpoint: str, criteria: str):
    """(row, months, event) of every row with a time for the endpoint."""
    months_column, event_column = endpoint_columns(endpoint, criteria)
    for row in rows:
        months = getattr(row, months_column)
        if months is not None:
            yield row, float(months), bool(getattr(row, event_column))


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


def survival_analysis(
    cohort: Cohort, *, endpoint: str | None = None, strata: str | None = ...
) -> dict[str, Any]:
    """Kaplan–Meier per stratum and the log-rank test (CONTRACT.md, "Survival analysis").

    `endpoint` and `strata` default to the filter's; `strata=None` asks for one
    group. The seed paper's own strata leave out the patients outside every
    group (a TTP after regular therapy censored before the cut-off), as R
    drops NA strata.
    """
    selection = cohort.selection
    endpoint = endpoint or selection.endpoint
    if strata is ...:
        strata = cohort.filter.strata if cohort.filter.strata in OWN_STRATA else selection.strata
    if strata in OWN_STRATA:
        groups, logrank = _own_strata(cohort, endpoint, strata)
    else:
        groups, logrank = _contract_strata(cohort, endpoint, strata)
    return {
        "endpoint": endpoint,
        "phase": selection.phase,
        "criteria": selection.criteria,
        "conf_type": selection.conf_type,
        "time_unit": "months",
        "groups": groups,
        "logrank": logrank,
        "stale_patients": cohort.stale_patients,
    }


def _contract_strata(cohort: Cohort, endpoint: str, strata: str | None):
    criteria, conf_type = cohort.criteria, cohort.selection.conf_type
    data = list(endpoint_times(cohort.rows, endpoint, criteria))
    by_group: dict[str, tuple[list[float], list[bool]]] = defaultdict(lambda: ([], []))
    for row, months, event in data:
        label = "all" if strata is None else _stratum(row, strata, criteria)
        by_group[label][0].append(months)
        by_group[label][1].append(event)
    if strata is None:
        by_group.setdefault("all", ([], []))
    groups = [
        km_group(label, times, events, conf_type)
        for label, (times, events) in sorted(by_group.items())
    ]
    logrank = None
    if strata is not None:
        test = survival.logrank(
            [m for _, m, _ in data],
            [e for _, _, e in data],
            [_stratum(row, strata, criteria) for row, _, _ in data],
        )
        logrank = {"chi2": round(test.chi2, 4), "df": test.df, "p": _round(test.p, 4)}
    return groups, logrank


def _own_labeller(cohort: Cohort, strata: str) -> Callable[[CourseOutcome], str | None]:
    if strata == "pancreas":
        return lambda row: "pancreas" if row.patient.primary_site == "pancreas" else "other"
    if strata == "ttp_regular":
        regular, cutoff = cohort.regular_ttp, cohort.filter.ttp_regular_cutoff
        return lambda row: ttp_regular_group(regular.get(row.patient_id), cutoff)
    raise ValueError(strata)


def _own_strata(cohort: Cohort, endpoint: str, strata: str):
    label_of = _own_labeller(cohort, strata)
    data = [
        (label, months, event)
        for row, months, event in endpoint_times(cohort.rows, endpoint, cohort.criteria)
        if (label := label_of(row)) is not None
    ]
    groups = []
    for label in [g for g in OWN_STRATA_GROUPS[strata] if any(d[0] == g for d in data)]:
        mine = [d for d in data if d[0] == label]
        groups.append(
            km_group(label, [d[1] for d in mine], [d[2] for d in mine], cohort.selection.conf_type)
        )
    logrank = None
    if data:
        test = survival.logrank([d[1] for d in data], [d[2] for d in data], [d[0] for d in data])
        logrank = {
            "chi2": round(test.chi2, 4),
            "df": test.df,
            "p": None if test.p is None else round(test.p, 4),
        }
    return groups, logrank
