"""Survival analysis of a cohort: Kaplan–Meier per stratum and the log-rank test.

`survival_analysis(cohort)` answers CONTRACT.md's "Survival analysis": one
group (`all`), or a group per value of a stratum — a patient field, the best
response, or the seed paper's own (`ttp_regular`: short, long, unclassified;
`pancreas`: pancreas, other) — with the log-rank test over the groups. A
patient without a value for the stratum is in the group `unknown`, never
dropped from the table; the log-rank test compares the classified groups
only — `unknown` and `unclassified` (a TTP after regular therapy censored
before the cut-off, CLINICAL.md §3) are shown but not compared, as R's
`survdiff` drops NA strata, so the seed paper's short-vs-long p stays what the
paper computes. With `times` each group gains R's `summary(fit, times=…)` rows, with
`rmst_tau` the restricted mean and its standard error. Numbers leave at full
precision; pages round for display.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from registry.clinical import survival
from registry.derive.outcomes import endpoint_columns
from registry.models import CourseOutcome
from registry.research import record_filters
from registry.research.cohort import Cohort
from registry.research.filters import OWN_STRATA_GROUPS, UNKNOWN, ttp_regular_group

NOT_COMPARED = frozenset({UNKNOWN, "unclassified"})


def endpoint_times(rows: Iterable[CourseOutcome], endpoint: str, criteria: str):
    """(row, months, event) of every row with a time for the endpoint."""
    months_column, event_column = endpoint_columns(endpoint, criteria)
    for row in rows:
        months = getattr(row, months_column)
        if months is not None:
            yield row, float(months), bool(getattr(row, event_column))


def stratum_labeller(cohort: Cohort, strata: str) -> Callable[[CourseOutcome], str]:
    """The label of each row's group under a stratum (`unknown` without a value)."""
    criteria = cohort.criteria
    if strata == "primary_site":
        return lambda row: row.patient.primary_site or UNKNOWN
    if strata == "sex":
        return lambda row: row.patient.sex or "U"  # blank is recorded as unknown sex
    if strata == "site":
        return lambda row: row.patient.site.code
    if strata == "best_response":
        return lambda row: getattr(row, f"best_{criteria}")
    if strata == "pancreas":
        return lambda row: "pancreas" if row.patient.primary_site == "pancreas" else "other"
    if strata == "ttp_regular":
        regular, cutoff = cohort.regular_ttp, cohort.selection.ttp_regular_cutoff
        return lambda row: ttp_regular_group(regular.get(row.patient_id), cutoff) or UNKNOWN
    record = record_filters.labeller(strata)  # who_grade, ecog, krenning_score, custom.CODE
    return lambda row: record(row) or UNKNOWN


# The columns each stratum's label reads (`stratum_labeller`), and the relations they are on.
_STRATUM_READS: dict[str | None, tuple[tuple[str, ...], tuple[str, ...]]] = {
    None: ((), ()),
    "ttp_regular": ((), ()),  # the patient id, always read
    "primary_site": (("patient",), ("patient__primary_site",)),
    "pancreas": (("patient",), ("patient__primary_site",)),
    "sex": (("patient",), ("patient__sex",)),
    "site": (("patient__site",), ("patient__site__code",)),
    "who_grade": (("patient",), ("patient__who_grade",)),
    "ecog": (("course",), ("course__ecog",)),
    "krenning_score": (("course",), ("course__krenning_score",)),
}


def survival_reads(
    selection, endpoint: str | None = None, strata: str | None = ...
) -> dict[str, tuple[str, ...]]:
    """What `survival_analysis` reads of each row, as `Cohort`'s `related` and `columns`:
    the endpoint's two columns and what the stratum's label needs. At 30,000 patients the
    analysis by itself then parses 3–4 columns a row instead of ~85. A custom field's
    stratum reads the `custom` JSON of its level (patient or course).
    """
    endpoint = endpoint or selection.endpoint
    strata = selection.strata if strata is ... else strata
    if strata == "best_response":
        related, columns = (), (f"best_{selection.criteria}",)
    elif strata in _STRATUM_READS:
        related, columns = _STRATUM_READS[strata]
    elif (custom := record_filters.custom_definition(strata)) is not None:
        owner = "patient" if custom.level == "patient" else "course"
        related, columns = (owner,), (f"{owner}__custom",)
    else:
        return {}  # not a stratum: the analysis says so
    return {
        "related": related,
        "columns": (*endpoint_columns(endpoint, selection.criteria), *columns),
    }


def group_order(strata: str | None, labels: Iterable[str]) -> list[str]:
    """The groups to report: the fixed groups of our own strata (even if empty) in the
    paper's order, then any other label present, sorted."""
    fixed = list(OWN_STRATA_GROUPS.get(strata or "", ()))
    return fixed + sorted(set(labels) - set(fixed))


def km_group(
    label: str,
    times: list[float],
    events: list[bool],
    conf_type: str,
    *,
    at_times: tuple[float, ...] = (),
    rmst_tau: float | None = None,
) -> dict:
    """One group of the survival analysis: counts, median with CI, and R's table (§4)."""
    if not times:
        group = {
            "label": label,
            "n": 0,
            "events": 0,
            "median": None,
            "median_ci95": [None, None],
            "table": [],
        }
        if at_times:
            group["at_times"] = [
                {"time": t, "n_risk": 0, "survival": None, "ci_lower": None, "ci_upper": None}
                for t in at_times
            ]
        if rmst_tau is not None:
            group["rmst"] = {"tau": rmst_tau, "estimate": None, "se": None}
        return group
    km = survival.kaplan_meier(times, events, conf_type=conf_type)
    group = {
        "label": label,
        "n": km.n,
        "events": km.events,
        "median": km.median,
        "median_ci95": [km.median_ci_lower, km.median_ci_upper],
        "table": [r._asdict() for r in km.table],
    }
    if at_times:
        group["at_times"] = [r._asdict() for r in survival.survival_at_times(km, at_times)]
    if rmst_tau is not None:
        group["rmst"] = survival.restricted_mean(km, rmst_tau)._asdict()
    return group


def survival_analysis(
    cohort: Cohort, *, endpoint: str | None = None, strata: str | None = ...
) -> dict[str, Any]:
    """Kaplan–Meier per stratum and the log-rank test (CONTRACT.md, "Survival analysis").

    `endpoint` and `strata` default to the filter's; `strata=None` asks for one
    group.
    """
    selection = cohort.selection
    endpoint = endpoint or selection.endpoint
    if strata is ...:
        strata = selection.strata
    data = list(endpoint_times(cohort.rows, endpoint, cohort.criteria))
    label_of = (lambda row: "all") if strata is None else stratum_labeller(cohort, strata)
    labels = [label_of(row) for row, _, _ in data]
    by_group: dict[str, tuple[list[float], list[bool]]] = defaultdict(lambda: ([], []))
    for label, (_, months, event) in zip(labels, data, strict=True):
        by_group[label][0].append(months)
        by_group[label][1].append(event)
    order = ["all"] if strata is None else group_order(strata, labels)
    groups = [
        km_group(
            label,
            *by_group[label],
            selection.conf_type,
            at_times=selection.times,
            rmst_tau=selection.rmst_tau,
        )
        for label in order
    ]
    logrank = None
    if strata is not None:
        compared = [
            (months, event, label)
            for label, (_, months, event) in zip(labels, data, strict=True)
            if label not in NOT_COMPARED
        ]
        test = survival.logrank(
            [c[0] for c in compared], [c[1] for c in compared], [c[2] for c in compared]
        )
        logrank = {"chi2": test.chi2, "df": test.df, "p": test.p}
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
