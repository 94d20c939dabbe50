"""Cumulative incidence of progression with death competing (CONTRACT.md, CLINICAL.md §4c).

Each course's TTP is an event (progression), or — when the patient died
without progression inside the course window, which is a PFS event that is
not a TTP event — the competing event at the death, or else censored at the
TTP's censoring time. `registry.clinical.competing.aalen_johansen` then gives
R's `survfit(Surv(time, factor(event)) ~ strata)` per group.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from registry.clinical.competing import CENSORED, DEATH, PROGRESSION, aalen_johansen
from registry.derive.outcomes import endpoint_columns
from registry.research.analyses import group_order, stratum_labeller, survival_reads
from registry.research.cohort import Cohort, combined_reads


def incidence_reads(selection) -> dict[str, tuple[str, ...]]:
    """What `cumulative_incidence` reads of each row: TTP and PFS, and the stratum's label."""
    return combined_reads(
        survival_reads(selection, endpoint="ttp"), survival_reads(selection, endpoint="pfs")
    )


def competing_events(cohort: Cohort) -> list[tuple[Any, float, int]]:
    """(row, months, 0 | 1 | 2) for every course with a TTP."""
    ttp_months, ttp_event = endpoint_columns("ttp", cohort.criteria)
    pfs_months, pfs_event = endpoint_columns("pfs", cohort.criteria)
    data = []
    for row in cohort.rows:
        months = getattr(row, ttp_months)
        if months is None:
            continue
        if getattr(row, ttp_event):
            data.append((row, float(months), PROGRESSION))
        elif getattr(row, pfs_event) and getattr(row, pfs_months) is not None:
            data.append((row, float(getattr(row, pfs_months)), DEATH))
        else:
            data.append((row, float(months), CENSORED))
    return data


def cumulative_incidence(cohort: Cohort) -> dict[str, Any]:
    """Aalen–Johansen per group, with its table at every event time and `at_times` rows."""
    selection = cohort.selection
    strata = selection.strata
    data = competing_events(cohort)
    label_of = (lambda row: "all") if strata is None else stratum_labeller(cohort, strata)
    by_group: dict[str, tuple[list[float], list[int]]] = defaultdict(lambda: ([], []))
    for row, months, event in data:
        times, events = by_group[label_of(row)]
        times.append(months)
        events.append(event)
    order = ["all"] if strata is None else group_order(strata, by_group)
    groups = []
    for label in order:
        times, events = by_group[label]
        estimate = aalen_johansen(times, events)
        group = {
            "label": label,
            "n": len(times),
            "progressions": sum(e == PROGRESSION for e in events),
            "deaths": sum(e == DEATH for e in events),
            "table": estimate.rows(),
        }
        if selection.times:
            group["at_times"] = estimate.at(selection.times, times)
        groups.append(group)
    return {
        "endpoint": "ttp",
        "phase": selection.phase,
        "criteria": selection.criteria,
        "time_unit": "months",
        "competing_event": "death without progression",
        "groups": groups,
        "stale_patients": cohort.stale_patients,
    }
