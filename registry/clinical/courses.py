"""Courses, phases, windows, activity and months (CLINICAL.md §1)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from registry.clinical.facts import CourseFact

DAYS_PER_MONTH = 30.4375
DEFAULT_INTENDED_ACTIVITY_FRACTION = 0.9
PHASES: tuple[str, ...] = ("regular", "salvage")


@dataclass(frozen=True, slots=True)
class ScheduledCourse:
    """A course placed on the patient's timeline (CLINICAL.md §1)."""

    course: CourseFact
    key: int
    phase: str
    round: int  # 1, 2, … per phase in date order
    start: date  # first cycle date
    last_cycle: date
    window_end: date | None  # day before the next course starts; None = open
    n_cycles: int
    activity_gbq: float
    cumulative_activity_gbq: float  # lifetime, up to and including this course
    intended_activity_gbq: float | None
    intended_reached: bool | None  # None without an intended activity


def months(days: int | float) -> float:
    """Days as months of 30.4375 days (CLINICAL.md §1)."""
    return days / DAYS_PER_MONTH


def months_between(start: date, end: date) -> float:
    """Months from `start` to `end` (CLINICAL.md §1)."""
    return months((end - start).days)


def course_start(course: CourseFact) -> date | None:
    """A course starts on its first cycle's date (CLINICAL.md §1); None without cycles."""
    return min((c.date for c in course.cycles), default=None)


def course_last_cycle(course: CourseFact) -> date | None:
    """The date of a course's last cycle (CLINICAL.md §1); None without cycles."""
    return max((c.date for c in course.cycles), default=None)


def activity_sum(activities: Iterable[float]) -> float:
    """Cumulative administered activity in GBq, rounded to 6 decimals (CLINICAL.md §1)."""
    return round(sum(activities), 6)


def intended_reached(
    activity_gbq: float,
    intended_gbq: float | None,
    fraction: float = DEFAULT_INTENDED_ACTIVITY_FRACTION,
) -> bool | None:
    """Course sum ≥ `fraction` × intended activity (CLINICAL.md §1 **Decision**, the
    setting `LUTETIA_INTENDED_ACTIVITY_FRACTION`, default 0.9).

    Administered activity varies by about ±10 % around the prescription, so
    7.4 + 7.3 GBq is a full 14.8 GBq course (14.7 ≥ 13.32), while a missing or
    halved cycle is not (7.4 < 13.32).  Both sides are rounded to 6 decimals,
    so exactly 90 % reaches it.  None when no intended activity is recorded.
    """
    if intended_gbq is None:
        return None
    return round(activity_gbq, 6) >= round(fraction * intended_gbq, 6)


def schedule_courses(
    courses: Iterable[CourseFact],
    *,
    intended_fraction: float = DEFAULT_INTENDED_ACTIVITY_FRACTION,
) -> list[ScheduledCourse]:
    """Courses with cycles, ordered by start date, with round, window and activity (§1).

    `intended_fraction` is the share of the intended activity that counts as
    reached (`intended_reached`).

    Courses without any cycle have no start and are left out (data quality
    reports them).  Equal start dates are ordered by key.
    """
    dated = [c for c in courses if c.cycles]
    dated.sort(key=lambda c: (course_start(c), c.key))
    rounds: dict[str, int] = {}
    lifetime = 0.0
    scheduled: list[ScheduledCourse] = []
    for i, course in enumerate(dated):
        start = course_start(course)
        last = course_last_cycle(course)
        assert start is not None and last is not None
        next_start = course_start(dated[i + 1]) if i + 1 < len(dated) else None
        rounds[course.phase] = rounds.get(course.phase, 0) + 1
        activity = activity_sum(c.activity_gbq for c in course.cycles)
        lifetime = round(lifetime + activity, 6)
        scheduled.append(
            ScheduledCourse(
                course=course,
                key=course.key,
                phase=course.phase,
                round=rounds[course.phase],
                start=start,
                last_cycle=last,
                window_end=None if next_start is None else next_start - timedelta(days=1),
                n_cycles=len(course.cycles),
                activity_gbq=activity,
                cumulative_activity_gbq=lifetime,
                intended_activity_gbq=course.intended_activity_gbq,
                intended_reached=intended_reached(
                    activity, course.intended_activity_gbq, intended_fraction
                ),
            )
        )
    return scheduled


def in_window(day: date, start: date, window_end: date | None) -> bool:
    """True if `day` is after `start` and inside the course window (CLINICAL.md §1, §2)."""
    return day > start and (window_end is None or day <= window_end)
