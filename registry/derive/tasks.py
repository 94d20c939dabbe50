"""Celery tasks: ids in, thin wrappers over registry.derive (STYLE.md §6).

Queued only through `transaction.on_commit` (schedule.schedule_recompute).
Settings give every task `acks_late` and `reject_on_worker_lost`, so a task
whose worker dies is redelivered; recomputing is idempotent, so running one
twice is harmless. A database that is briefly unreachable (or a lock a writer
holds, see recompute) makes the task retry with exponential back-off
and jitter.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.db import InterfaceError, OperationalError

from registry.derive import recompute
from registry.derive.recompute import chunks

logger = logging.getLogger(__name__)

RETRY_ON = (OperationalError, InterfaceError)
RETRY_BACKOFF = 2  # seconds, doubled on each retry
RETRY_BACKOFF_MAX = 300
MAX_RETRIES = 8


def _test_delay() -> None:
    """TEST ONLY (LUTETIA_TEST_TASK_DELAY): let a test kill the worker mid-task."""
    if settings.LUTETIA_TEST_TASK_DELAY > 0:
        time.sleep(settings.LUTETIA_TEST_TASK_DELAY)


@shared_task(
    name="registry.tasks.recompute_patient",
    bind=True,
    autoretry_for=RETRY_ON,
    retry_backoff=RETRY_BACKOFF,
    retry_backoff_max=RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
    soft_time_limit=60,
    time_limit=90,
)
def recompute_patient(self, patient_id: int, force: bool = False) -> str:
    """Recompute one patient's derived rows (skipped if no longer stale, unless forced)."""
    _test_delay()
    return recompute.recompute_patient(patient_id, force=force)


@shared_task(
    name="registry.tasks.recompute_patients",
    bind=True,
    autoretry_for=RETRY_ON,  # loading the batch failed: retry it whole
    retry_backoff=RETRY_BACKOFF,
    retry_backoff_max=RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
    soft_time_limit=300,
    time_limit=360,
)
def recompute_patients(self, patient_ids: list[int], force: bool = False) -> dict[str, int]:
    """Recompute a batch of patients (an import queues ~200 per message).

    One patient's failure does not hold up the others: database errors are
    retried for the patients that hit them only, any other error is logged
    (the patient stays stale, with `last_error`). On the soft time limit the
    batch is queued again (patients already done are then skipped as fresh).
    """
    _test_delay()
    counts: dict[str, int] = {}
    retry: list[int] = []
    try:
        results = recompute.recompute_patients(patient_ids, force=force)
    except SoftTimeLimitExceeded:
        # Those already done are skipped as fresh by the new task.
        logger.warning("Time limit: %d patient(s) queued again", len(patient_ids))
        enqueue_recompute(patient_ids, force=force)
        return {"requeued": len(patient_ids)}
    for patient_id, result in results.items():
        if isinstance(result, RETRY_ON):
            logger.warning("Recompute of patient %s will be retried: %s", patient_id, result)
            retry.append(patient_id)
            status = "retry"
        elif isinstance(result, Exception):
            logger.error("Recompute of patient %s failed", patient_id, exc_info=result)
            status = "failed"
        else:
            status = result
        counts[status] = counts.get(status, 0) + 1
    if retry:
        countdown = get_exponential_backoff_interval(
            RETRY_BACKOFF, self.request.retries, RETRY_BACKOFF_MAX, full_jitter=True
        )
        raise self.retry(args=[retry], kwargs={"force": force}, countdown=countdown)
    return counts


@shared_task(name="registry.tasks.sweep_stale_patients", soft_time_limit=120, time_limit=150)
def sweep_stale_patients() -> int:
    """Queue patients stale for longer than LUTETIA_STALE_SWEEP_SECONDS (celery beat).

    Catches what a lost message or a broker outage left behind. Queuing a
    patient twice costs one query: the task skips a patient no longer stale.
    """
    ids = recompute.stale_patient_ids(settings.LUTETIA_STALE_SWEEP_SECONDS)
    enqueue_recompute(ids)
    if ids:
        logger.info("Sweep queued %d stale patient(s)", len(ids))
    return len(ids)


# ------------------------------------------------------------------ enqueueing


def _broker_errors() -> tuple[type[BaseException], ...]:
    from kombu.exceptions import OperationalError as KombuOperationalError

    errors: list[type[BaseException]] = [KombuOperationalError, ConnectionError, OSError]
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        errors += [RedisConnectionError, RedisTimeoutError]
    except ImportError:  # pragma: no cover - redis is a dependency of celery[redis]
        pass
    return tuple(errors)


def enqueue_recompute(patient_ids: Sequence[int], *, force: bool = False) -> int:
    """Queue the patients' recomputation: one message per patient, or per batch.

    Returns the number of messages sent. A broker outage is logged, never
    raised: the facts are already committed, the patients stay stale and the
    periodic sweep queues them once the broker is back. Without a broker the
    tasks run here, eagerly; a failure there is logged for the same reason.
    """
    ids = list(patient_ids)
    if not ids:
        return 0
    size = max(1, settings.LUTETIA_RECOMPUTE_BATCH_SIZE)
    sent = 0
    try:
        if len(ids) == 1:
            recompute_patient.delay(ids[0], force=force)
            return 1
        for chunk in chunks(ids, size):
            recompute_patients.delay(list(chunk), force=force)
            sent += 1
    except _broker_errors() as exc:
        logger.warning(
            "Broker unreachable, %d patient(s) left stale for the sweep: %s",
            len(ids) - sent * size,
            exc,
        )
    except Exception:
        logger.exception("Recomputing patients %s failed; they stay stale", ids[:20])
    return sent
