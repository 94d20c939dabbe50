"""Celery tasks for cohort exports: thin wrappers over registry.services.exports."""

from __future__ import annotations

from celery import shared_task

from .services import exports


# A million-row export takes minutes, more than the default limits allow.
@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3700)
def run_export(job_id: int) -> None:
    exports.run_export_job(job_id)


@shared_task
def purge_expired_exports() -> int:
    """Beat, hourly: delete export files past their retention."""
    return exports.purge_expired_exports()
