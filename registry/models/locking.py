"""Locking: a verified course's facts refuse every write (see `records.verification`).

The rule lives beside the models because every write path checks it: the
fact services (forms and the API) and the interchange import, which are
sibling layers that do not import each other.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Min

from registry.models.imaging import Scan
from registry.models.treatment import Course, Cycle, RecordStatus

LOCKED_MESSAGE = (
    "The {course} is verified and locked: nothing of it can change until an admin "
    "unlocks it (with a reason)."
)


class RecordLocked(ValidationError):
    """A write to a fact of a verified course: a form error on the pages, and from the
    API a 409 `{"detail", "locked": true}` (CONTRACT.md)."""

    def __init__(self, course: Course):
        super().__init__(LOCKED_MESSAGE.format(course=describe_course(course)), code="locked")
        self.course = course


def describe_course(course: Course, *, without: str = "") -> str:
    """ "salvage course from 2005-06-01"; `without` is said of a course with no cycles."""
    start = course.cycles.aggregate(start=Min("date"))["start"]
    when = f" from {start:%Y-%m-%d}" if start else without
    return f"{course.get_phase_display().lower()} course{when}"


# ------------------------------------------------------------------ which course a fact is of

DATED = {
    "labresult": "date",
    "scan": "date",
    "adverseevent": "onset",
    "clinicalprogression": "date",
    "priortreatment": "start",
}


def window_course(patient_id: int, day: date | None) -> int | None:
    """The course whose window holds `day`: the latest started on or before it."""
    if day is None:
        return None
    starts = (
        Cycle.objects.filter(course__patient_id=patient_id)
        .values("course_id")
        .annotate(start=Min("date"))
        .filter(start__lte=day)
        .order_by("-start", "-course_id")
    )
    first = starts.first()
    return first["course_id"] if first else None


def courses_of(instance: models.Model) -> set[int]:
    name = instance._meta.model_name
    if name == "course":
        return {instance.pk} if instance.pk else set()
    if name in ("cycle", "responseoverride"):
        return {instance.course_id} if instance.course_id else set()
    if name in DATED:
        found = window_course(instance.patient_id, getattr(instance, DATED[name]))
        return {found} if found else set()
    if name == "lesionmeasurement" and instance.scan_id:
        scan = Scan.objects.only("patient_id", "date").get(pk=instance.scan_id)
        return courses_of(scan)
    return set()


def check_unlocked(instance: models.Model) -> None:
    """Raise `RecordLocked` if writing or deleting `instance` touches a verified course,
    as it is now or as it was stored (a fact moved out of a locked window)."""
    ids = courses_of(instance)
    if instance.pk is not None and instance._meta.model_name != "course":
        stored = type(instance).objects.filter(pk=instance.pk).first()
        if stored is not None:
            ids |= courses_of(stored)
    if not ids:
        return
    locked = Course.objects.filter(pk__in=ids, record_status=RecordStatus.VERIFIED).first()
    if locked is not None:
        raise RecordLocked(locked)


def locked_patient_ids(patient_ids) -> set[int]:
    """The patients among `patient_ids` with a verified course (imports refuse them)."""
    return set(
        Course.objects.filter(patient_id__in=patient_ids, record_status=RecordStatus.VERIFIED)
        .values_list("patient_id", flat=True)
        .distinct()
    )
