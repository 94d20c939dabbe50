"""Cohort imports through the API: start a job, run it, check who may import what.

The import itself is `registry.interchange.documents.import_document` — the
same all-or-nothing code as `manage.py import_cohort`; this module keeps the
job's bookkeeping (status, progress, errors). The job imports with
`check_scope=True`: who may import what (`scope`) is checked again inside the
write transaction, whatever happened while the job waited.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.db import connections
from django.utils import timezone

from registry.interchange.documents import import_document, import_file
from registry.interchange.uploads import discard_upload
from registry.models import ImportJob, JobStatus

log = logging.getLogger(__name__)


def run_import_job(job_id: int) -> None:
    """Run a queued import job; a second delivery of the same job does nothing.

    The job is claimed with a conditional UPDATE that must hit exactly one row,
    so two workers never run it twice. The document is dropped once imported;
    one uploaded to disk is read from there a batch of patients at a time.
    """
    claimed = ImportJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING
    )
    if not claimed:
        return
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    try:
        with ProgressWriter(job_id) as progress:
            if job.upload_path:  # a large body, on disk: streamed, never wholly in memory
                if not Path(job.upload_path).exists():
                    _finish(job_id, status=JobStatus.FAILED, errors=[_gone()])
                    return
                result = import_file(
                    job.upload_path, by=job.created_by, progress=progress, check_scope=True
                )
            else:
                result = import_document(
                    job.document, by=job.created_by, progress=progress, check_scope=True
                )
    except Exception:
        # Logged, and the job says so; not re-raised, because a retry would
        # find the job no longer queued, and in eager mode (no broker) the
        # error would otherwise surface as the POST's 500.
        log.exception("import job %s failed", job_id)
        _finish(job_id, status=JobStatus.FAILED, errors=[_internal_error()])
        return
    if result.errors:
        _finish(job_id, status=JobStatus.FAILED, errors=[e.as_dict() for e in result.errors])
    else:
        _finish(
            job_id,
            status=JobStatus.DONE,
            progress=1.0,
            created=result.created,
            updated=result.updated,
        )


class ProgressWriter:
    """Writes a running job's progress where pollers can see it.

    The import writes inside one transaction, so an UPDATE on the request's
    own connection would stay invisible until the end. On PostgreSQL the
    progress goes through a second, autocommitting connection. SQLite allows
    one writer at a time, so there the update waits for the import's commit
    (the embedded set-up runs imports in-process anyway). Updates are sent
    only when the value moved by at least a percent.
    """

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.sent = -1.0
        self.side = None

    def __enter__(self) -> ProgressWriter:
        if connections["default"].vendor == "postgresql":
            self.side = connections.create_connection("default")
        return self

    def __exit__(self, *exc_info) -> None:
        if self.side is not None:
            self.side.close()

    def __call__(self, fraction: float) -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        if fraction - self.sent < 0.01 and fraction < 1.0:
            return
        self.sent = fraction
        if self.side is None or not connections["default"].in_atomic_block:
            ImportJob.objects.filter(pk=self.job_id).update(progress=fraction)
            return
        with self.side.cursor() as cursor:
            cursor.execute(
                f"UPDATE {ImportJob._meta.db_table} SET progress = %s WHERE id = %s",
                [fraction, self.job_id],
            )


def _gone() -> dict[str, str]:
    return {
        "path": "$",
        "message": "The uploaded document is gone (deleted before the import ran).",
    }


def _internal_error() -> dict[str, str]:
    return {"path": "$", "message": "The import failed on the server; nothing was changed."}


def _finish(job_id: int, *, status: str, **fields) -> None:
    job = ImportJob.objects.filter(pk=job_id)
    discard_upload(job.values_list("upload_path", flat=True).first())
    job.update(status=status, document=None, upload_path="", finished_at=timezone.now(), **fields)
