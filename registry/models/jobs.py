"""Long-running work a user started: cohort imports and large exports."""

from django.conf import settings
from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Job(models.Model):
    """Bookkeeping shared by background jobs a user polls: status, progress, who, when."""

    status = models.CharField(max_length=8, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.FloatField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0, progress__lte=1),
                name="%(class)s_progress_range",
            ),
        ]


class ImportJob(Job):
    """A `lutetia-cohort/1` or `/2` import (CONTRACT.md, "Import"): all or nothing, polled by id."""

    document = models.JSONField(null=True, blank=True)  # dropped once the import has run
    # A large document streamed to disk instead (interchange.uploads); deleted once run.
    upload_path = models.CharField(max_length=500, blank=True)
    errors = models.JSONField(default=list, blank=True)  # [{"path": …, "message": …}, …]
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)

    class Meta(Job.Meta):
        pass

    def __str__(self) -> str:
        return f"import {self.pk} ({self.status})"


class ExportJob(Job):
    """A de-identified cohort export built by a task and streamed to a file."""

    params = models.JSONField(default=dict, blank=True)  # the cohort filter and format
    file_path = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)

    class Meta(Job.Meta):
        permissions = [
            ("export_pseudonymised", "Can export pseudonymised data (study ID and exact dates)")
        ]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.status})"

    @property
    def expired(self) -> bool:
        """Built, and its file since deleted (LUTETIA_EXPORT_RETENTION_DAYS)."""
        return self.status == JobStatus.DONE and not self.file_path
