"""Background exports (`ExportJob`): building the file in a worker, and purging old files."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from registry.models import ExportJob, JobStatus
from registry.research.exports.options import FORMATS, export_options
from registry.research.exports.tables import count_rows, tables_for
from registry.research.exports.writers import write_csv_zip, write_xlsx

logger = logging.getLogger(__name__)


def export_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


# A `.part` file older than this belongs to a worker that died while writing it.
ORPHAN_PART_AGE = dt.timedelta(days=1)


def purge_expired_exports(now: dt.datetime | None = None) -> int:
    """Delete the files of exports built more than LUTETIA_EXPORT_RETENTION_DAYS ago.

    The job stays (status done, no file: `expired`), so the export page and the
    admin still show who exported what and when. Partial files left by a killed
    worker go too. Only files inside the export folder are ever deleted. Returns
    the number of jobs whose file was purged.
    """
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.LUTETIA_EXPORT_RETENTION_DAYS)
    folder = export_dir().resolve()
    purged = 0
    due = ExportJob.objects.filter(status=JobStatus.DONE, finished_at__lt=cutoff)
    for job in due.exclude(file_path="").only("pk", "file_path"):
        path = Path(job.file_path).resolve()
        if path.parent == folder:
            path.unlink(missing_ok=True)
        else:
            logger.warning("export %s: %s is outside %s, not deleted", job.pk, path, folder)
        purged += ExportJob.objects.filter(pk=job.pk).update(file_path="")
    for part in folder.glob("export-*.part"):
        modified = dt.datetime.fromtimestamp(part.stat().st_mtime, tz=dt.UTC)
        if modified < now - ORPHAN_PART_AGE:
            part.unlink(missing_ok=True)
    if purged:
        logger.info("purged %s expired export files", purged)
    return purged


def run_export_job(job_id: int) -> None:
    """Build a queued ExportJob's file; a second run of the same job changes nothing.

    The job is claimed with a conditional UPDATE (queued -> running) that must
    hit exactly one row, so two workers never build the same file.  The cohort
    is selected again with the creator's current access: someone who lost a
    site since asking does not get its patients.
    """
    if not ExportJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING
    ):
        return
    job = ExportJob.objects.get(pk=job_id)
    try:
        user = get_user_model().objects.get(pk=job.created_by_id)
        # Checked again with the creator's current rights (a grant may have been withdrawn).
        options = export_options(user, job.params.get("filter", {}), job.params)
        scope = options.scope(created_at=job.created_at)
        tables = tables_for(scope, job.params.get("tables"))
        # Each stat-package format writes every row once more after the CSVs.
        passes = 1 + len(FORMATS[options.format].stat)
        total = max(count_rows(tables, scope) * passes, 1)

        def progress(done: int) -> None:
            ExportJob.objects.filter(pk=job_id).update(progress=min(done / total, 0.99))

        fmt = options.format
        suffix = FORMATS[fmt].suffix
        final = export_dir() / f"export-{job_id}-{secrets.token_hex(8)}{suffix}"
        partial = final.with_suffix(final.suffix + ".part")
        with partial.open("wb") as out:
            if fmt == "xlsx":
                write_xlsx(out, scope, tables, progress)
            else:
                write_csv_zip(out, scope, tables, progress, stat_formats=FORMATS[fmt].stat)
        partial.replace(final)
    except Exception as exc:
        # Recorded on the job, which the page shows; not re-raised, because a
        # retry would fail the same way and an eager run would turn it into a 500.
        logger.exception("export %s failed", job_id)
        ExportJob.objects.filter(pk=job_id).update(
            status=JobStatus.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        return
    ExportJob.objects.filter(pk=job_id).update(
        status=JobStatus.DONE, progress=1, file_path=str(final), finished_at=timezone.now()
    )
