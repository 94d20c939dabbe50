"""Celery tasks of the API: thin, ids in, queued only on commit (STYLE.md rule 6)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from registry.interchange import jobs
from registry.models import ImportJob, JobStatus


@shared_task(name="api.tasks.run_import", acks_late=True, soft_time_limit=3600, time_limit=3700)
def run_import(job_id: int) -> None:
    """Run an import job (`jobs.run_import_job`); a redelivered job is a no-op."""
    jobs.run_import_job(job_id)


@shared_task(name="api.tasks.sweep_queued_imports", soft_time_limit=60, time_limit=90)
def sweep_queued_imports() -> int:
    """Queue again the import jobs still waiting after LUTETIA_STALE_SWEEP_SECONDS (beat).

    A broker outage when the job was created leaves it queued with no message;
    sending a second message is harmless, since a job is claimed only once.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.LUTETIA_STALE_SWEEP_SECONDS)
    job_ids = list(
        ImportJob.objects.filter(status=JobStatus.QUEUED, created_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    for job_id in job_ids:
        run_import.delay(job_id)
    return len(job_ids)


def start_import(document: dict | None = None, *, by, upload_path: str = "") -> ImportJob:
    """Store the document (or the path of its upload) as a queued job; run it after commit."""
    job = ImportJob.objects.create(document=document, upload_path=upload_path, created_by=by)
    transaction.on_commit(lambda: run_import.delay(job.pk), robust=True)
    return job
