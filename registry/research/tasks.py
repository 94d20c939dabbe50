"""Celery tasks for cohort exports: thin wrappers over registry.research.exports."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from registry.models import ExportJob, JobStatus
from registry.research import exports

log = logging.getLogger(__name__)


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


@shared_task(name="registry.export_tasks.sweep_queued_exports", soft_time_limit=60, time_limit=90)
def sweep_queued_exports() -> int:
    """Queue again the export jobs still waiting after LUTETIA_STALE_SWEEP_SECONDS (beat).

    A broker outage when the job was created leaves it queued with no message;
    a second message is harmless, since a job is claimed only once.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.LUTETIA_STALE_SWEEP_SECONDS)
    job_ids = list(
        ExportJob.objects.filter(status=JobStatus.QUEUED, created_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    for job_id in job_ids:
        enqueue_export(job_id)
    return len(job_ids)


def enqueue_export(job_id: int) -> None:
    """Send the job's message; a broker that is down is logged, never raised: the job
    stays queued (the page says so) and the sweep sends it again (finding 4)."""
    try:
        run_export.delay(job_id)
    except Exception:
        log.warning("export %s stays queued: the broker is unreachable", job_id, exc_info=True)


def start_export(job: ExportJob) -> None:
    """Run the job once the request's transaction has committed."""
    transaction.on_commit(lambda: enqueue_export(job.pk))
