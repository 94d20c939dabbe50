from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from registry.models.base import ClinicalRecord
from registry.models.patients import Patient

DEFAULT_RADIOPHARMACEUTICAL = "177Lu-octreotate"


class Phase(models.TextChoices):
    REGULAR = "regular", "Regular"
    SALVAGE = "salvage", "Salvage"


class StopReason(models.TextChoices):
    COMPLETED = "completed", "Completed"
    PROGRESSION = "progression", "Progression"
    TOXICITY = "toxicity", "Toxicity"
    PATIENT_CHOICE = "patient_choice", "Patient's choice"
    DEATH = "death", "Death"
    OTHER = "other", "Other"


class RecordStatus(models.TextChoices):
    """Where a course's data entry stands (REDCap's record status; GCP source verification)."""

    INCOMPLETE = "incomplete", "Incomplete"
    COMPLETE = "complete", "Complete"
    VERIFIED = "verified", "Verified (locked)"


class Course(ClinicalRecord):
    """A run of cycles of one phase (CLINICAL.md §1).

    Its start and its `round` (1, 2, … among the patient's courses of the same
    phase) follow from the cycles' dates; they are derived, not stored.
    """

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="courses")
    phase = models.CharField(max_length=8, choices=Phase.choices)
    intended_activity_gbq = models.FloatField(null=True, blank=True)
    stop_reason = models.CharField(
        max_length=16, choices=StopReason.choices, blank=True, default=""
    )
    # Set only through `records.locks.set_course_status`: a verified course is locked.
    record_status = models.CharField(
        max_length=10, choices=RecordStatus.choices, default=RecordStatus.INCOMPLETE
    )
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(record_status__in=RecordStatus.values),
                name="course_record_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(intended_activity_gbq__isnull=True)
                | models.Q(intended_activity_gbq__gt=0, intended_activity_gbq__lte=100),
                name="course_intended_activity_range",
            ),
            models.CheckConstraint(
                condition=models.Q(phase__in=Phase.values), name="course_phase_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(stop_reason__in=[*StopReason.values, ""]),
                name="course_stop_reason_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient_id} {self.phase} course {self.pk}"


class Cycle(ClinicalRecord):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="cycles")
    date = models.DateField()
    administered_gbq = models.FloatField()
    radiopharmaceutical = models.CharField(max_length=64, default=DEFAULT_RADIOPHARMACEUTICAL)
    note = models.TextField(blank=True)
    # Why the cycle was given despite pre-cycle warnings (CLINICAL.md §7).
    warning_reason = models.TextField(blank=True)

    history = HistoricalRecords()

    not_future_dates = ("date",)

    class Meta:
        ordering = ["course", "date"]
        indexes = [
            # The API's list order (api.views.facts).
            models.Index(fields=["date", "id"], name="cycle_list_order"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(administered_gbq__gt=0, administered_gbq__lte=15),
                name="cycle_activity_range",
            ),
            models.UniqueConstraint(fields=["course", "date"], name="cycle_one_per_course_date"),
        ]

    def __str__(self) -> str:
        return f"cycle {self.date} ({self.administered_gbq} GBq)"
