"""Saving and deleting clinical facts: one path for every caller.

Every write validates the whole object (`full_clean`, which runs the model's
`clean` with the CLINICAL.md checks), saves inside one transaction with the
audit row written by django-simple-history (who, when, before, after), and
schedules the patient's recomputation once the transaction has committed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from django.db import models, transaction

from registry.derive.schedule import schedule_recompute
from registry.models.locking import check_unlocked

Fact = TypeVar("Fact", bound=models.Model)


class StaleVersion(Exception):
    """The object changed since the caller read it (a stale ETag / If-Match)."""

    def __init__(self, current_version: int):
        super().__init__(
            f"This record was changed by someone else (now version {current_version})."
        )
        self.current_version = current_version


def patient_id_of(instance: models.Model) -> int:
    """The patient a clinical fact belongs to, without loading more than needed."""
    for path in ("patient_id", "course.patient_id", "scan.patient_id"):
        obj = instance
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        if obj is not None:
            return obj
    if instance._meta.model_name == "patient":
        return instance.pk
    raise TypeError(f"{type(instance).__name__} is not a clinical fact of a patient")


def save_fact(
    instance: Fact,
    *,
    by=None,
    expected_version: int | None = None,
    reason: str = "",
    exclude_validation: Iterable[str] = (),
) -> Fact:
    """Validate and save one fact, audited, and schedule the patient's recomputation.

    `expected_version` (from an `If-Match`) makes the update conditional: the
    row is locked and a different version raises `StaleVersion`, so two people
    editing the same record never silently overwrite each other.
    """
    instance.full_clean(exclude=list(exclude_validation) or None)
    model = type(instance)
    with transaction.atomic():
        check_unlocked(instance)  # a verified course's facts refuse every write
        if instance.pk is not None and hasattr(instance, "version"):
            current = model.objects.select_for_update().only("version").get(pk=instance.pk)
            if expected_version is not None and current.version != expected_version:
                raise StaleVersion(current.version)
            instance.version = current.version + 1
        instance._history_user = by
        if reason:
            instance._change_reason = reason
        instance.save()
        schedule_recompute([patient_id_of(instance)])
    return instance


def delete_fact(
    instance: models.Model, *, by=None, expected_version: int | None = None, reason: str = ""
) -> None:
    """Delete one fact (audited) and schedule the patient's recomputation."""
    model = type(instance)
    patient_id = None if model._meta.model_name == "patient" else patient_id_of(instance)
    with transaction.atomic():
        check_unlocked(instance)
        if hasattr(instance, "version"):
            current = model.objects.select_for_update().only("version").get(pk=instance.pk)
            if expected_version is not None and current.version != expected_version:
                raise StaleVersion(current.version)
        instance._history_user = by
        if reason:
            instance._change_reason = reason
        instance.delete()
        if patient_id is not None:
            schedule_recompute([patient_id])
