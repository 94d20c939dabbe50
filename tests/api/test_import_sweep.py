"""An import queued while the broker was down is picked up by the periodic sweep."""

from datetime import timedelta

from django.utils import timezone

from registry.interchange import tasks
from registry.models import ImportJob, JobStatus


def test_sweep_runs_jobs_left_queued(db, reference, admin_user, settings):
    settings.LUTETIA_STALE_SWEEP_SECONDS = 60
    old = ImportJob.objects.create(document=reference("example_cohort.json"), created_by=admin_user)
    ImportJob.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    fresh = ImportJob.objects.create(document={"format": "x"}, created_by=admin_user)

    assert tasks.sweep_queued_imports() == 1  # eager mode: the job runs now

    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.status == JobStatus.DONE and old.created == 2
    assert fresh.status == JobStatus.QUEUED  # too recent: its own message may still come
    assert tasks.sweep_queued_imports() == 0
