from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from registry.models.base import ClinicalRecord
from registry.models.patients import Patient
from registry.models.treatment import Course


class ClinicalProgression(ClinicalRecord):
    """Progression recorded by a clinician without (or before) a scan showing it."""

    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="clinical_progressions"
    )
    date = models.DateField()
    note = models.TextField(blank=True)

    history = HistoricalRecords()

    not_future_dates = ("date",)

    class Meta:
        ordering = ["patient", "date"]

    def __str__(self) -> str:
        return f"clinical progression {self.date}"


class AdverseEventCategory(models.TextChoices):
    """The late toxicities PRRT reports count ("no kidney failure or MDS")."""

    MDS = "mds", "Myelodysplastic syndrome"
    AML = "aml", "Acute myeloid leukaemia"
    KIDNEY_FAILURE = "kidney_failure", "Kidney failure"
    HEPATOTOXICITY = "hepatotoxicity", "Hepatotoxicity"
    HORMONAL_CRISIS = "hormonal_crisis", "Hormonal crisis"
    OTHER = "other", "Other"


class Attribution(models.TextChoices):
    UNRELATED = "unrelated", "Unrelated"
    UNLIKELY = "unlikely", "Unlikely"
    POSSIBLE = "possible", "Possible"
    PROBABLE = "probable", "Probable"
    DEFINITE = "definite", "Definite"


class AdverseEvent(ClinicalRecord):
    """A manually recorded adverse event (CTCAE term and grade), not derived from labs."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="adverse_events")
    term = models.CharField(max_length=200)
    grade = models.PositiveSmallIntegerField()
    onset = models.DateField()
    note = models.TextField(blank=True)
    category = models.CharField(
        max_length=16, choices=AdverseEventCategory.choices, blank=True, default=""
    )
    resolved = models.DateField(null=True, blank=True)
    serious = models.BooleanField(null=True, blank=True)
    attribution = models.CharField(
        max_length=10, choices=Attribution.choices, blank=True, default=""
    )

    history = HistoricalRecords()

    not_future_dates = ("onset", "resolved")

    class Meta:
        ordering = ["patient", "onset"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(grade__gte=1, grade__lte=5), name="adverse_event_grade_range"
            ),
            models.CheckConstraint(
                condition=models.Q(category__in=[*AdverseEventCategory.values, ""]),
                name="adverse_event_category_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(attribution__in=[*Attribution.values, ""]),
                name="adverse_event_attribution_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(resolved__isnull=True)
                | models.Q(resolved__gte=models.F("onset")),
                name="adverse_event_resolved_not_before_onset",
            ),
        ]

    def clean(self) -> None:
        super().clean()
        if self.resolved and self.onset and self.resolved < self.onset:
            raise ValidationError({"resolved": ["The event cannot resolve before its onset."]})

    def __str__(self) -> str:
        return f"{self.term} grade {self.grade}"


class Criteria(models.TextChoices):
    SWOG = "swog", "SWOG with minor response"
    RECIST = "recist", "RECIST 1.1"


class ResponseCode(models.TextChoices):
    CR = "CR", "Complete response"
    PR = "PR", "Partial response"
    MR = "MR", "Minor response"
    SD = "SD", "Stable disease"
    PD = "PD", "Progressive disease"
    NE = "NE", "Not evaluable"


class ResponseOverride(ClinicalRecord):
    """A clinician's override of a computed best response, with the reason (§2c)."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="overrides")
    criteria = models.CharField(max_length=8, choices=Criteria.choices)
    response = models.CharField(max_length=2, choices=ResponseCode.choices)
    reason = models.TextField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["course", "criteria"], name="override_once_per_course_criteria"
            ),
            models.CheckConstraint(condition=~models.Q(reason=""), name="override_reason_required"),
            models.CheckConstraint(
                condition=models.Q(response__in=ResponseCode.values),
                name="override_response_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(criteria__in=Criteria.values),
                name="override_criteria_valid",
            ),
            # MR does not exist in RECIST (CLINICAL.md §2b).
            models.CheckConstraint(
                condition=~models.Q(criteria="recist", response="MR"),
                name="override_no_mr_in_recist",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.criteria} override {self.response}"
