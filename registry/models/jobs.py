"""Long-running work a user started: cohort imports and large exports."""

from django.conf import settings
from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ImportJob(models.Model):
    """A `lutetia-cohort/1` import (CONTRACT.md, "Import"): all or nothing, polled by id."""

    status = models.CharField(max_length=8, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.FloatField(default=0)
    document = models.JSONField(null=True, blank=True)  # dropped once the import has run
    errors = models.JSONField(default=list, blank=True)  # [{"path": …, "message": …}, …]
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0, progress__lte=1),
                name="importjob_progress_range",
            ),
        ]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.status})"


class ExportJob(models.Model):
    """A de-identified cohort export built by a task and streamed to a file."""

    status = models.CharField(max_length=8, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.FloatField(default=0)
    params = models.JSONField(default=dict, blank=True)  # the cohort filter and format
    file_path = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0, progress__lte=1),
                name="exportjob_progress_range",
            ),
        ]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.status})"
