"""Correcting and removing recorded facts: the write paths behind the edit and delete pages.

Single facts go straight through `facts.save_fact` / `facts.delete_fact`; this
module holds the writes that touch several rows at once (a course with its
cycles, a scan with its lesion table), each in one transaction and with the
parent's version checked under a row lock *before* anything is written, so a
stale page changes nothing.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import models, transaction

from registry.models import Course, LesionMeasurement, ResponseOverride, Scan
from registry.records.clinic import ScanError
from registry.records.facts import StaleVersion, delete_fact, save_fact

# simple_history keeps the change reason in a CharField(max_length=100).
REASON_MAX_LENGTH = 100

LESION_FIELDS = ("organ", "lymph_node", "target", "new", "long_mm", "short_mm", "status")


def _check_version(instance: models.Model, expected_version: int | None) -> None:
    """Lock the row and refuse a stale version (the lock is held until the transaction ends)."""
    current = type(instance).objects.select_for_update().only("version").get(pk=instance.pk)
    if expected_version is not None and current.version != expected_version:
        raise StaleVersion(current.version)


def _child_reason(parent: str, reason: str) -> str:
    return f"{parent} deleted: {reason}"[:REASON_MAX_LENGTH]


@transaction.atomic
def delete_course(course: Course, *, by, expected_version: int | None, reason: str) -> None:
    """A course, its cycles and its response overrides, each deletion audited with the reason.

    The children are deleted one by one (not left to the database cascade) so
    that each history row names the user and the reason.
    """
    _check_version(course, expected_version)
    child_reason = _child_reason("Course", reason)
    for override in course.overrides.all():
        delete_fact(override, by=by, reason=child_reason)
    for cycle in course.cycles.all():
        delete_fact(cycle, by=by, reason=child_reason)
    delete_fact(course, by=by, reason=reason)


@transaction.atomic
def delete_scan(scan: Scan, *, by, expected_version: int | None, reason: str) -> None:
    """A scan and its lesion measurements, each deletion audited with the reason."""
    _check_version(scan, expected_version)
    child_reason = _child_reason("Scan", reason)
    for lesion in scan.lesions.all():
        delete_fact(lesion, by=by, reason=child_reason)
    delete_fact(scan, by=by, reason=reason)


@transaction.atomic
def update_scan(
    scan: Scan,
    *,
    scanned_on: date,
    modality: str,
    lesions: list[dict],
    by,
    expected_version: int | None,
    reason: str = "",
    custom: dict | None = None,
) -> Scan:
    """Correct a scan and its lesion table: rows are matched by lesion label.

    A label no longer listed is deleted, a new label is created, a listed one
    updated if anything changed. Every row is validated before anything is
    written (`ScanError` carries the errors by row index, as for a new scan),
    and the scan's version moves on every save, so two people editing the
    same lesion table through the pages conflict instead of overwriting.
    """
    _check_version(scan, expected_version)
    existing = {lesion.lesion: lesion for lesion in scan.lesions.all()}
    scan.date = scanned_on
    scan.modality = modality
    if custom is not None:
        scan.custom = custom
    scan_errors: dict[str, list[str]] = {}
    try:
        scan.full_clean()
    except ValidationError as exc:
        scan_errors = exc.message_dict

    rows: list[tuple[LesionMeasurement, bool]] = []  # (row, changed)
    lesion_errors: dict[int, dict] = {}
    for i, data in enumerate(lesions):
        row = existing.get(data["lesion"])
        if row is None:
            row, changed = LesionMeasurement(scan=scan, **data), True
        else:
            changed = any(getattr(row, name) != data[name] for name in LESION_FIELDS)
            for name in LESION_FIELDS:
                setattr(row, name, data[name])
        try:
            row.full_clean(exclude=["scan"])
        except ValidationError as exc:
            lesion_errors[i] = exc.message_dict
        rows.append((row, changed))
    if scan_errors or lesion_errors:
        raise ScanError(scan_errors, lesion_errors)

    save_fact(scan, by=by, reason=reason)
    kept = {data["lesion"] for data in lesions}
    for label, row in existing.items():
        if label not in kept:
            delete_fact(row, by=by, reason=reason or "Removed from the scan's lesion table")
    for row, changed in rows:
        if changed:
            save_fact(row, by=by, reason=reason)
    return scan


def replace_override(
    override: ResponseOverride,
    *,
    response: str,
    reason: str,
    by,
    expected_version: int | None,
) -> ResponseOverride:
    """A new response and reason for an existing override; the deciding clinician is `by`."""
    override.response = response
    override.reason = reason
    override.decided_by = by if by is not None and by.is_authenticated else None
    return save_fact(override, by=by, expected_version=expected_version)
