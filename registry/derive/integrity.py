"""Do the stored derived rows say what the facts say? (`manage.py check_integrity`)

After a restore, a migration, a hand edit in the database or a bug, the derived
rows (course outcomes, time-point responses, the cumulative activity) could
drift from the facts without anyone noticing, since every page reads them. This
recomputes each patient in memory, with the same engine and settings as the
recompute, and compares, writing nothing. Patients still marked stale are
counted, not compared: their recompute is pending and the pages say so.

The data-quality findings are not compared: they depend on today's date
("follow-up overdue"), so yesterday's are not wrong today.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from django.db.models import Model
from django.utils import timezone

from registry.derive.loading import load_patients
from registry.derive.recompute import (
    COURSE_FIELDS,
    POINT_FIELDS,
    chunks,
    course_row,
    evaluate,
    time_point_rows,
)
from registry.models import CourseOutcome, PatientState, TimePointResponse

BATCH = 200


@dataclass(frozen=True)
class Drift:
    patient_id: int
    study_id: str
    where: str  # "course 12", "course 12, scan 40, swog", "patient"
    what: str  # the field, or "missing" / "not derived"
    stored: object = None
    expected: object = None

    def __str__(self) -> str:
        if self.what in ("missing", "not derived"):
            return f"{self.study_id}: {self.where}: row {self.what}"
        return (
            f"{self.study_id}: {self.where}: {self.what} is {self.stored!r}, "
            f"the facts give {self.expected!r}"
        )


@dataclass
class IntegrityReport:
    checked: int = 0
    stale: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (study_id, error)
    drift: list[Drift] = field(default_factory=list)

    @property
    def drifted_patient_ids(self) -> list[int]:
        return sorted({d.patient_id for d in self.drift})

    @property
    def clean(self) -> bool:
        return not self.drift and not self.failed


def _same(stored, expected) -> bool:
    if isinstance(stored, float) and isinstance(expected, float):
        return math.isclose(stored, expected, rel_tol=1e-9, abs_tol=1e-12)
    return stored == expected


def _values(row: Model, names: Sequence[str]) -> dict[str, object]:
    return {name: getattr(row, name if name != "patient" else "patient_id") for name in names}


def check_integrity(patient_ids: Sequence[int]) -> IntegrityReport:
    """Compare the derived rows of these patients with a recompute in memory."""
    report = IntegrityReport()
    today = timezone.localdate()
    for batch in chunks(list(patient_ids), BATCH):
        loaded = load_patients(batch)
        courses: dict[int, dict[int, CourseOutcome]] = {}
        for row in CourseOutcome.objects.filter(patient_id__in=batch):
            courses.setdefault(row.patient_id, {})[row.course_id] = row
        points: dict[int, dict[tuple, TimePointResponse]] = {}
        for row in TimePointResponse.objects.filter(course__patient_id__in=batch).select_related(
            "course"
        ):
            key = (row.course_id, row.scan_id, row.criteria)
            points.setdefault(row.course.patient_id, {})[key] = row
        states = {s.patient_id: s for s in PatientState.objects.filter(patient_id__in=batch)}
        for patient_id in batch:
            if patient_id not in loaded:
                continue  # deleted meanwhile
            facts = loaded[patient_id]
            state = states.get(patient_id)
            if state is None or state.stale:
                report.stale += 1
                continue
            report.checked += 1
            try:
                outcome = evaluate(facts, today=today)
            except Exception as exc:
                report.failed.append((facts.facts.study_id, f"{type(exc).__name__}: {exc}"))
                continue
            report.drift.extend(
                _compare(
                    patient_id,
                    facts.facts.study_id,
                    outcome,
                    state,
                    courses.get(patient_id, {}),
                    points.get(patient_id, {}),
                )
            )
    return report


def _compare(
    patient_id, study_id, outcome, state, stored_courses, stored_points
) -> Iterator[Drift]:
    def drift(where, what, stored=None, expected=None):
        return Drift(patient_id, study_id, where, what, stored, expected)

    if not _same(state.cumulative_activity_gbq, outcome.cumulative_activity_gbq):
        yield drift(
            "patient",
            "cumulative_activity_gbq",
            state.cumulative_activity_gbq,
            outcome.cumulative_activity_gbq,
        )
    expected_courses = {c.course_key: course_row(patient_id, c) for c in outcome.courses}
    for course_id, expected in expected_courses.items():
        stored = stored_courses.get(course_id)
        if stored is None:
            yield drift(f"course {course_id}", "missing")
            continue
        stored_values, expected_values = (
            _values(stored, COURSE_FIELDS),
            _values(expected, COURSE_FIELDS),
        )
        for name in COURSE_FIELDS:
            if not _same(stored_values[name], expected_values[name]):
                yield drift(f"course {course_id}", name, stored_values[name], expected_values[name])
    for course_id in stored_courses.keys() - expected_courses.keys():
        yield drift(f"course {course_id}", "not derived")
    expected_points = {
        (p.course_id, p.scan_id, p.criteria): p for c in outcome.courses for p in time_point_rows(c)
    }
    for key, expected in expected_points.items():
        where = f"course {key[0]}, scan {key[1]}, {key[2]}"
        stored = stored_points.get(key)
        if stored is None:
            yield drift(where, "missing")
            continue
        for name in POINT_FIELDS:
            if not _same(getattr(stored, name), getattr(expected, name)):
                yield drift(where, name, getattr(stored, name), getattr(expected, name))
    for key in stored_points.keys() - expected_points.keys():
        yield drift(f"course {key[0]}, scan {key[1]}, {key[2]}", "not derived")
