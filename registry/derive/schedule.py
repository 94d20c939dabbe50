"""Marking patients stale inside the writer's transaction, queuing them on commit.

Every write marks the patient stale *inside* its transaction and queues the
recomputation *after* commit (`schedule_recompute`); `registry.derive.tasks`
sends the messages and `registry.derive.recompute` does the work. Why the
generation counter that `mark_stale` moves: see `registry.derive.recompute`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from registry.derive import tasks
from registry.derive.recompute import chunks
from registry.derive.version import data_changed
from registry.models import Patient, PatientState

MARK_CHUNK = 500


def schedule_recompute(patient_ids: Iterable[int]) -> None:
    """Mark the patients stale and queue their recomputation after commit.

    Called inside the writer's transaction. However many facts a transaction
    saves for a patient (a pasted blood-count panel, a whole-cohort import),
    the patient is queued once, when it commits, and many patients go out in
    batches of `LUTETIA_RECOMPUTE_BATCH_SIZE` per task message.
    """
    ids = sorted({int(pk) for pk in patient_ids})
    if not ids:
        return
    with transaction.atomic(savepoint=False):
        mark_stale(ids)
        _pending_for_this_transaction().update(ids)


def mark_stale(patient_ids: Sequence[int]) -> None:
    """Set `stale` and move the generation, creating missing state rows (bulk)."""
    data_changed()  # the facts change in this transaction (an import's COPY has no signals)
    now = timezone.now()
    for chunk in chunks(patient_ids, MARK_CHUNK):
        marked = PatientState.objects.filter(patient_id__in=chunk).update(
            stale=True,
            stale_generation=F("stale_generation") + 1,
            stale_since=Coalesce("stale_since", Value(now, output_field=DateTimeField())),
        )
        if marked == len(chunk):
            continue
        have = set(
            PatientState.objects.filter(patient_id__in=chunk).values_list("patient_id", flat=True)
        )
        missing = [pk for pk in chunk if pk not in have]
        # A deleted patient gets no state row (the foreign key would fail at commit).
        existing = Patient.objects.filter(pk__in=missing).values_list("pk", flat=True)
        PatientState.objects.bulk_create(
            [
                PatientState(patient_id=pk, stale=True, stale_since=now, stale_generation=1)
                for pk in existing
            ],
            ignore_conflicts=True,  # a concurrent writer created it: it is stale either way
        )


class _PendingRecomputes:
    """The patients a transaction has scheduled, queued once when it commits."""

    def __init__(self) -> None:
        self.ids: set[int] = set()
        self.flushed = False

    def update(self, ids: Iterable[int]) -> None:
        self.ids.update(ids)

    def flush(self) -> None:
        self.flushed = True
        ids, self.ids = sorted(self.ids), set()
        if ids:
            tasks.enqueue_recompute(ids)


_PENDING_ATTR = "_lutetia_pending_recomputes"


def _pending_for_this_transaction() -> _PendingRecomputes:
    """The set collecting this transaction's patients, with its on_commit flush.

    A new set is started when the flush is no longer registered: the previous
    transaction committed or rolled back, or the savepoint that registered it
    was rolled back (Django then drops the callback).
    """
    conn = transaction.get_connection()
    pending: _PendingRecomputes | None = getattr(conn, _PENDING_ATTR, None)
    registered = (
        pending is not None
        and not pending.flushed
        and any(entry[1] == pending.flush for entry in conn.run_on_commit)
    )
    if not registered:
        pending = _PendingRecomputes()
        setattr(conn, _PENDING_ATTR, pending)
        transaction.on_commit(pending.flush)
    assert pending is not None
    return pending
