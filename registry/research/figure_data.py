"""What the dashboard's figures draw, read from a cohort's derived rows.

Waterfall bars (best change of the tumour sum per patient), swimmer lanes
(cycles, responses, progression and death along each course) and the
platelet time course by week since the latest cycle. Each reads the
`Cohort`'s rows, plus one or two queries for the whole cohort (cycles, time
points, platelet values), never one per patient.
"""

from __future__ import annotations

import functools
import heapq
import statistics
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable
from operator import attrgetter

from django.db import connection
from django.db.models import QuerySet

from registry.models import Cycle, LabResult, TimePointResponse
from registry.research.ahead import ahead
from registry.research.cohort import Cohort
from registry.research.figures import SwimLane, WaterfallBar, WeekSummary, finite, text

MONTHS_PER_DAY = 1 / 30.4375

SWIMMER_MAX = 120
PLATELET_WEEKS_AFTER = 12
PLATELET_WEEKS_BEFORE = 4


def figure_reads(criteria: str) -> dict[str, tuple[str, ...]]:
    """What the waterfall, the swimmer lanes and the platelet panel read of each row, as
    `Cohort`'s `related` and `columns`."""
    columns = (
        "patient__study_id",
        f"best_{criteria}",
        f"best_{criteria}_pct_change",
        "follow_up_months",
        "start",
        f"progression_date_{criteria}",
        "os_months",
        "os_event",
        "window_end",
    )
    return {"related": ("patient",), "columns": columns}


def waterfall_bars(cohort: Cohort) -> list[WaterfallBar]:
    pct_of = attrgetter(f"best_{cohort.criteria}_pct_change")
    response_of = attrgetter(f"best_{cohort.criteria}")
    return [
        WaterfallBar(text(r.patient.study_id), pct, response_of(r))
        for r in cohort.rows
        if finite(pct := pct_of(r))
    ]


def swim_lanes(cohort: Cohort) -> tuple[list[SwimLane], int]:
    """Lanes of the longest-followed patients (at most SWIMMER_MAX), and how many were left out.

    Two queries for the whole cohort: the courses' cycles and their responding time points.
    """
    rows, criteria = cohort.rows, cohort.criteria
    chosen = heapq.nsmallest(  # sorted(…)[:SWIMMER_MAX], without sorting the cohort
        SWIMMER_MAX,
        (r for r in rows if r.follow_up_months is not None),
        key=lambda r: (-r.follow_up_months, r.patient.study_id),
    )
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

    Each value belongs to one cycle only — the latest strictly before its date
    (a value on a cycle's day was drawn before that cycle, CLINICAL.md §5) — up
    to PLATELET_WEEKS_AFTER weeks after it, and not after the course's
    toxicity window; values up to PLATELET_WEEKS_BEFORE weeks before the first
    cycle, or on its day, are "cycle 0", the pre-treatment baseline.

    On PostgreSQL the database bins and summarises the values (one query, a
    row per week drawn); elsewhere they are streamed and binned here. Both give
    the same summaries: the median of an even count is the mean of its two
    middle values in both.
    """
    if connection.vendor == "postgresql":
        return _platelet_weeks_in_database(platelet_courses(cohort))
    return _platelet_weeks_streamed(cohort.rows)


def platelet_weeks_ahead(cohort: Cohort) -> Callable[[], list[WeekSummary]]:
    """`platelet_weeks(cohort)`, started now on a second connection where `ahead` can: on
    PostgreSQL the summary needs only the cohort's selection, so it runs while this
    process reads the rows and builds the other panels. Call the result for the weeks."""
    if connection.vendor == "postgresql":
        return ahead(functools.partial(_platelet_weeks_in_database, platelet_courses(cohort)))
    return functools.partial(platelet_weeks, cohort)


def platelet_courses(cohort: Cohort) -> QuerySet:
    """The cohort's courses as (patient, course, window end), for the summary's SQL: its
    own copy of the selection, so another thread may compile it."""
    courses = cohort.queryset.select_related(None).order_by()
    return courses.values_list("patient_id", "course_id", "window_end")


def _platelet_weeks_streamed(rows) -> list[WeekSummary]:
    starts = {r.patient_id: r for r in rows}
    cycle_dates: dict[int, list] = defaultdict(list)
    for patient_id, day in (
        Cycle.objects.filter(course_id__any=[r.course_id for r in rows])
        .order_by("date")
        .values_list("course__patient_id", "date")
    ):
        cycle_dates[patient_id].append(day)
    values: dict[tuple[int, int], list[float]] = defaultdict(list)
    labs = LabResult.objects.filter(patient_id__in=list(starts), analyte="platelets")
    values_of = labs.values_list("patient_id", "date", "canonical_value")
    for patient_id, day, value in values_of.iterator(chunk_size=5000):
        dates = cycle_dates.get(patient_id)
        if not dates:
            continue
        window_end = starts[patient_id].window_end
        if window_end is not None and day > window_end:
            continue
        # The cycles strictly before the value's day are the first `before` (dates sorted).
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


# The same bins as `_platelet_weeks_streamed`, as day windows: cycle n owns the days
# after it up to the next cycle's day, at most PLATELET_WEEKS_AFTER weeks and 6 days;
# cycle 0 the PLATELET_WEEKS_BEFORE weeks before the first cycle and its day; neither
# past the course's window end (LEAST skips a missing bound). The median is the mean of
# the lower and upper middle values (`percentile_disc` ascending and descending), as
# `statistics.median` computes it.
# After "WITH course AS (the cohort's courses: patient_id, course_id, window_end)":
_PLATELET_WEEKS = (
    ", numbered AS ("
    " SELECT b.patient_id, b.window_end, c.date AS day,"
    " row_number() OVER w AS number, lead(c.date) OVER w AS next_day"
    f" FROM course AS b JOIN {Cycle._meta.db_table} AS c ON c.course_id = b.course_id"
    " WINDOW w AS (PARTITION BY b.course_id ORDER BY c.date)"
    "), windows AS ("
    " SELECT patient_id, number AS cycle, day AS anchor, day + 1 AS lo,"
    " LEAST(next_day, day + %s::int, window_end) AS hi FROM numbered"
    " UNION ALL"
    " SELECT patient_id, 0, day, day - %s::int, LEAST(day, window_end)"
    " FROM numbered WHERE number = 1"
    ") "
    "SELECT w.cycle, floor((l.date - w.anchor) / 7.0)::int AS week, count(*),"
    " (percentile_disc(0.5) WITHIN GROUP (ORDER BY l.canonical_value)"
    " + percentile_disc(0.5) WITHIN GROUP (ORDER BY l.canonical_value DESC)) / 2,"
    " min(l.canonical_value), max(l.canonical_value) "
    f"FROM windows AS w JOIN {LabResult._meta.db_table} AS l ON l.patient_id = w.patient_id"
    " AND l.analyte = 'platelets' AND l.date >= w.lo AND l.date <= w.hi "
    "GROUP BY 1, 2 ORDER BY 1, 2"
)


def _platelet_weeks_in_database(courses: QuerySet) -> list[WeekSummary]:
    selection, params = courses.query.sql_with_params()
    after, before = 7 * PLATELET_WEEKS_AFTER + 6, 7 * PLATELET_WEEKS_BEFORE
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH course AS (" + selection + ")" + _PLATELET_WEEKS, [*params, after, before]
        )
        return [WeekSummary(*found) for found in cursor.fetchall()]
