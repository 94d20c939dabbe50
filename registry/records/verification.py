"""Record status, locking and data queries (REDCap's record status; GCP source verification).

Each course has a status: `incomplete` (the default), `complete` (the
clinician says the data entry is done) and `verified` (a monitor or an admin
checked it against the source). A verified course is locked: its facts refuse
every edit and delete — from a form, the API (409 with `"locked": true`, CONTRACT.md) or an import —
until an admin unlocks it, giving a reason that is kept in its history.

Which facts belong to a course: the course itself, its cycles and response
overrides, and the labs, scans (with their lesions), adverse events and
clinical progressions dated inside its window (from its first cycle to the
day before the patient's next course starts), read from the cycles as they
are now. A fact moved into or out of a locked window is refused too. The
patient's own fields (demographics, follow-up, death) are not locked by a
course: they change after verification by nature.

A monitor (or an admin) opens a *query* on one recorded fact; the clinician
answers it on the patient page; the monitor closes it. Every step is audited.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone

from registry.access import role_of
from registry.models import (
    AdverseEvent,
    ClinicalProgression,
    Course,
    Cycle,
    DataQuery,
    FactKind,
    LabResult,
    Patient,
    QueryStatus,
    RecordStatus,
    Role,
    Scan,
)
from registry.models.locking import courses_of, describe_course

# ------------------------------------------------------------------ status


def set_course_status(course: Course, status: str, *, by, reason: str = "") -> Course:
    """Move a course to `status`, checking who may (clinicians: incomplete ↔ complete;
    monitors and admins: complete → verified; admins: unlock, with a reason)."""
    if status not in RecordStatus.values:
        raise ValidationError({"status": [f"Must be one of: {', '.join(RecordStatus.values)}."]})
    role = role_of(by)
    reason = (reason or "").strip()
    with transaction.atomic():
        course = Course.objects.select_for_update().get(pk=course.pk)
        old = course.record_status
        if old == status:
            return course
        if old == RecordStatus.VERIFIED:
            if role != Role.ADMIN:
                raise PermissionDenied("Only an admin can unlock a verified course.")
            if not reason:
                raise ValidationError({"reason": ["Give the reason for unlocking the course."]})
        elif status == RecordStatus.VERIFIED:
            if role not in (Role.MONITOR, Role.ADMIN):
                raise PermissionDenied("Only a monitor or an admin can verify a course.")
            if old != RecordStatus.COMPLETE:
                raise ValidationError({"status": ["Mark the course complete before verifying it."]})
        elif role not in (Role.CLINICIAN, Role.ADMIN):
            raise PermissionDenied("Only clinicians and admins mark a course complete.")
        course.record_status = status
        course.status_changed_by = by
        course.status_changed_at = timezone.now()
        course.version += 1
        course._history_user = by
        course._change_reason = reason or f"status {old} → {status}"
        course.save(
            update_fields=[
                "record_status", "status_changed_by", "status_changed_at", "version", "updated_at"
            ]
        )  # fmt: skip
    return course


# ------------------------------------------------------------------ queries

QUERY_MODELS: dict[str, type[models.Model]] = {
    FactKind.PATIENT: Patient,
    FactKind.COURSE: Course,
    FactKind.CYCLE: Cycle,
    FactKind.LAB: LabResult,
    FactKind.SCAN: Scan,
    FactKind.PROGRESSION: ClinicalProgression,
    FactKind.ADVERSE: AdverseEvent,
}


def _fact(patient: Patient, kind: str, fact_id) -> models.Model:
    model = QUERY_MODELS.get(kind)
    if model is None:
        raise ValidationError({"fact_kind": [f"Must be one of: {', '.join(QUERY_MODELS)}."]})
    lookup = {"pk": patient.pk} if model is Patient else {"pk": fact_id}
    if model is Cycle:
        lookup["course__patient"] = patient
    elif model is not Patient:
        lookup["patient"] = patient
    try:
        return model.objects.get(**lookup)
    except (model.DoesNotExist, ValueError, TypeError) as exc:
        raise ValidationError({"fact_id": ["No such record of this patient."]}) from exc


def describe_fact(kind: str, fact: models.Model) -> str:
    if kind == FactKind.PATIENT:
        return f"patient {fact.study_id}"
    if kind == FactKind.COURSE:
        return describe_course(fact)
    if kind == FactKind.LAB:
        return f"{fact.get_analyte_display()} {fact.date:%Y-%m-%d}"
    if kind == FactKind.ADVERSE:
        return f"adverse event grade {fact.grade}, {fact.onset:%Y-%m-%d}"
    return f"{FactKind(kind).label.lower()} {fact.date:%Y-%m-%d}"


def _save_query(query: DataQuery, by, reason: str) -> DataQuery:
    query._history_user = by
    query._change_reason = reason
    query.save()
    return query


def open_query(patient: Patient, *, kind: str, fact_id, text: str, by) -> DataQuery:
    if role_of(by) not in (Role.MONITOR, Role.ADMIN):
        raise PermissionDenied("Only monitors and admins open queries.")
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": ["Write the question."]})
    fact = _fact(patient, kind, fact_id)
    course_ids = courses_of(fact)
    query = DataQuery(
        patient=patient,
        course_id=next(iter(course_ids), None),
        fact_kind=kind,
        fact_id=fact.pk,
        subject=describe_fact(kind, fact)[:200],
        text=text,
        opened_by=by,
    )
    return _save_query(query, by, "query opened")


def answer_query(query: DataQuery, *, text: str, by) -> DataQuery:
    if role_of(by) not in (Role.CLINICIAN, Role.ADMIN):
        raise PermissionDenied("Only clinicians and admins answer queries.")
    text = (text or "").strip()
    if not text:
        raise ValidationError({"answer": ["Write the answer."]})
    if query.status != QueryStatus.OPEN:
        raise ValidationError({"status": ["Only an open query can be answered."]})
    query.answer, query.status = text, QueryStatus.ANSWERED
    query.answered_by, query.answered_at = by, timezone.now()
    query.version += 1
    return _save_query(query, by, "query answered")


def close_query(query: DataQuery, *, by) -> DataQuery:
    if role_of(by) not in (Role.MONITOR, Role.ADMIN):
        raise PermissionDenied("Only monitors and admins close queries.")
    if query.status == QueryStatus.CLOSED:
        raise ValidationError({"status": ["The query is already closed."]})
    query.status = QueryStatus.CLOSED
    query.closed_by, query.closed_at = by, timezone.now()
    query.version += 1
    return _save_query(query, by, "query closed")


def reopen_query(query: DataQuery, *, text: str, by) -> DataQuery:
    """The monitor asks again after an answer: the question grows, the status is open."""
    if role_of(by) not in (Role.MONITOR, Role.ADMIN):
        raise PermissionDenied("Only monitors and admins reopen queries.")
    text = (text or "").strip()
    if query.status != QueryStatus.ANSWERED or not text:
        raise ValidationError({"text": ["Reopen an answered query with a further question."]})
    query.text = f"{query.text}\n\n{text}"
    query.status = QueryStatus.OPEN
    query.version += 1
    return _save_query(query, by, "query reopened")


def fact_choices(patient: Patient) -> list[tuple[str, str]]:
    """("kind:id", words) of every fact of the patient a query may be opened on."""
    choices = [(f"{FactKind.PATIENT}:{patient.pk}", describe_fact(FactKind.PATIENT, patient))]
    sources = (
        (FactKind.COURSE, Course.objects.filter(patient=patient).order_by("pk")),
        (FactKind.CYCLE, Cycle.objects.filter(course__patient=patient).order_by("date", "pk")),
        (FactKind.LAB, LabResult.objects.filter(patient=patient).order_by("-date", "pk")[:300]),
        (FactKind.SCAN, Scan.objects.filter(patient=patient).order_by("date", "pk")),
        (FactKind.PROGRESSION, ClinicalProgression.objects.filter(patient=patient)),
        (FactKind.ADVERSE, AdverseEvent.objects.filter(patient=patient)),
    )
    for kind, facts in sources:
        choices += [(f"{kind}:{fact.pk}", describe_fact(kind, fact)) for fact in facts]
    return choices
