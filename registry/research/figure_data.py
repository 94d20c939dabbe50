"""What the dashboard's figures draw, read from a cohort's derived rows.

Waterfall bars (best change of the tumour sum per patient), swimmer lanes
(cycles, responses, progression and death along each course) and the
platelet time course by week since the latest cycle. Each reads the
`Cohort`'s rows, plus one or two queries for the whole cohort (cycles, time
points, platelet values), never one per patient.
"""

from __future__ import annotations

import datetime as dt
import statistics
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator

from django.db import connection

from registry.models import Cycle, LabResult, TimePointResponse
from registry.research.cohort import Cohort
from registry.research.figures import SwimLane, WaterfallBar, WeekSummary, finite, text

MONTHS_PER_DAY = 1 / 30.4375

SWIMMER_MAX = 120
PLATELET_WEEKS_AFTER = 12
PLATELET_WEEKS_BEFORE = 4


def waterfall_bars(cohort: Cohort) -> list[WaterfallBar]:
    criteria = cohort.criteria
    return [
        WaterfallBar(text(r.patient.study_id), pct, getattr(r, f"best_{criteria}"))
        for r in cohort.rows
        if finite(pct := getattr(r, f"best_{criteria}_pct_change"))
    ]


def swim_lanes(cohort: Cohort) -> tuple[list[SwimLane], int]:
    """Lanes of the longest-followed patients (at most SWIMMER_MAX), and how many were left out.

    Two queries for the whole cohort: the courses' cycles and their responding time points.
    """
    rows, criteria = cohort.rows, cohort.criteria
    chosen = sorted(
        (r for r in rows if r.follow_up_months is not None),
        key=lambda r: (-r.follow_up_months, r.patient.study_id),
    )[:SWIMMER_MAX]
    by_course = {r.course_id: r for r in chosen}
    cycles: dict[int, list[float]] = defaultdict(list)
    for course_id, day in Cycle.objects.filter(course_id__in=by_course).values_list(
        "course_id", "date"
    ):
        cycles[course_id].append((day - by_course[course_id].start).days * MONTHS_PER_DAY)
    responses: dict[int, list[tuple[float, str]]] = defaultdict(list)
    for course_id, days, code in TimePointResponse.objects.filter(
        course_id__in=by_course, criteria=criteria, response__in=("CR", "PR", "MR")
    ).values_list("course_id", "days_from_start", "response"):
        responses[course_id].append((days * MONTHS_PER_DAY, code))
    lanes = []
    for r in chosen:
        progression = getattr(r, f"progression_date_{criteria}")
        lanes.append(
            SwimLane(
                study_id=text(r.patient.study_id),
                follow_up_months=r.follow_up_months,
                cycles=sorted(cycles[r.course_id]),
                responses=sorted(responses[r.course_id]),
                progression=None
                if progression is None
                else (progression - r.start).days * MONTHS_PER_DAY,
                death=r.os_months if r.os_event else None,
            )
        )
    return lanes, len(rows) - len(chosen)


def platelet_weeks(cohort: Cohort) -> list[WeekSummary]:
    """Platelets by whole weeks since the latest cycle of each cohort course.

    Each value belongs to one cycle only — the latest on or before its date —
    up to PLATELET_WEEKS_AFTER weeks after it; values up to
    PLATELET_WEEKS_BEFORE weeks before the first cycle are "cycle 0", the
    pre-treatment baseline.  Labs are streamed, so the cohort's size does not
    matter.
    """
    rows = cohort.rows
    starts = {r.patient_id: r for r in rows}
    cycle_dates: dict[int, list] = defaultdict(list)
    for patient_id, day in (
        Cycle.objects.filter(course_id__any=[r.course_id for r in rows])
        .order_by("date")
        .values_list("course__patient_id", "date")
    ):
        cycle_dates[patient_id].append(day)
    values: dict[tuple[int, int], list[float]] = defaultdict(list)
    for patient_id, day, value in _platelets_near_cycles(cycle_dates, starts):
        dates = cycle_dates.get(patient_id)
        if not dates:
            continue
        window_end = starts[patient_id].window_end
        if window_end is not None and day > window_end:
            continue
        # A value on a cycle's day was drawn before that cycle (CLINICAL.md §5): the
        # cycles strictly before the value's day are the first `before` (dates sorted).
        before = bisect_left(dates, day)
        if before:
            i = before - 1
            week = (day - dates[i]).days // 7
            if week <= PLATELET_WEEKS_AFTER:
                values[(i + 1, week)].append(value)
        else:
            week = (day - dates[0]).days // 7  # floor: 1–7 days before is week −1
            if week >= -PLATELET_WEEKS_BEFORE:
                values[(0, week)].append(value)
    return [
        WeekSummary(cycle, week, len(v), statistics.median(v), min(v), max(v))
        for (cycle, week), v in sorted(values.items())
    ]


# Each patient's platelets from PLATELET_WEEKS_BEFORE weeks before the first cycle to
# PLATELET_WEEKS_AFTER weeks (and 6 days) after the last, read through the (patient,
# date) index: most of a cohort's platelet values are follow-up outside every window.
_PLATELETS_IN_WINDOWS = (
    "SELECT l.patient_id, l.date, l.canonical_value "
    f"FROM {LabResult._meta.db_table} AS l "
    "JOIN unnest(%s::bigint[], %s::date[], %s::date[]) AS b(patient_id, lo, hi) "
    "ON l.patient_id = b.patient_id "
    "WHERE l.analyte = 'platelets' AND l.date >= b.lo AND l.date <= b.hi"
)


def _platelets_near_cycles(cycle_dates: dict[int, list], starts: dict) -> Iterator[tuple]:
    """(patient id, date, value) of the platelets `platelet_weeks` may use: on
    PostgreSQL only those near the cohort course's cycles (a superset of what it
    keeps, each still checked there); elsewhere every platelet of the patients."""
    if connection.vendor != "postgresql":
        labs = LabResult.objects.filter(patient_id__in=list(starts), analyte="platelets")
        yield from labs.values_list("patient_id", "date", "canonical_value").iterator(
            chunk_size=5000
        )
        return
    ids, lows, highs = [], [], []
    for patient_id, dates in cycle_dates.items():
        high = dates[-1] + dt.timedelta(days=7 * PLATELET_WEEKS_AFTER + 6)
        window_end = starts[patient_id].window_end
        ids.append(patient_id)
        lows.append(dates[0] - dt.timedelta(days=7 * PLATELET_WEEKS_BEFORE))
        highs.append(high if window_end is None else min(high, window_end))
    with connection.cursor() as cursor:
        cursor.execute(_PLATELETS_IN_WINDOWS, [ids, lows, highs])
        while chunk := cursor.fetchmany(5000):
            yield from chunk
