"""Celery tasks for cohort exports: thin wrappers over registry.research.exports."""

from __future__ import annotations

from celery import shared_task

from registry.research import exports


# A million-row export takes minutes, more than the default limits allow.
@shared_task(
    name="registry.export_tasks.run_export", acks_late=True, soft_time_limit=3600, time_limit=3700
)
def run_export(job_id: int) -> None:
    exports.run_export_job(job_id)


@shared_task(name="registry.export_tasks.purge_expired_exports")
def purge_expired_exports() -> int:
    """Beat, hourly: delete export files past their retention."""
    return exports.purge_expired_exports()
