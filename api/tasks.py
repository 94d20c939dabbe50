"""Celery tasks of the API: thin, ids in, queued only on commit (STYLE.md rule 6)."""

from __future__ import annotations

from celery import shared_task

from . import jobs


@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3700)
def run_import(job_id: int) -> None:
    """Run an import job (`api.jobs.run_import_job`); a redelivered job is a no-op."""
    jobs.run_import_job(job_id)
