"""Data queries: a monitor's question about one recorded fact, and the clinician's answer.

A query names its fact by kind and id (`course`, `cycle`, `lab`, `scan`,
`progression`, `adverse`, `patient`) with the words the page showed for it,
so it stays readable after the fact is corrected or deleted. Status goes
open → answered (the clinician replied) → closed (the monitor accepted), or
back to open when the monitor asks again; every step is in its history.
"""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from registry.models.patients import Patient
from registry.models.treatment import Course


class QueryStatus(models.TextChoices):
    OPEN = "open", "Open"
    ANSWERED = "answered", "Answered"
    CLOSED = "closed", "Closed"


class FactKind(models.TextChoices):
    PATIENT = "patient", "Patient"
    COURSE = "course", "Course"
    CYCLE = "cycle", "Cycle"
    LAB = "lab", "Lab value"
    SCAN = "scan", "Scan"
    PROGRESSION = "progression", "Clinical progression"
    ADVERSE = "adverse", "Adverse event"


class DataQuery(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="queries")
    course = models.ForeignKey(
        Course, on_delete=models.SET_NULL, null=True, blank=True, related_name="queries"
    )
    fact_kind = models.CharField(max_length=12, choices=FactKind.choices)
    fact_id = models.PositiveBigIntegerField()
    subject = models.CharField(max_length=200)  # the fact as the page named it
    text = models.TextField()
    status = models.CharField(max_length=8, choices=QueryStatus.choices, default=QueryStatus.OPEN)
    answer = models.TextField(blank=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "-opened_at", "-id"]
        verbose_name_plural = "data queries"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=QueryStatus.values), name="dataquery_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(fact_kind__in=FactKind.values),
                name="dataquery_fact_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"query {self.pk} on {self.subject} ({self.status})"
