from django.db import models
from simple_history.models import HistoricalRecords

from registry.models.base import ClinicalRecord
from registry.models.custom import CustomValues
from registry.models.patients import Patient


class Modality(models.TextChoices):
    CT = "CT", "CT"
    MRI = "MRI", "MRI"
    SRS = "SRS", "Somatostatin receptor scintigraphy"
    PET = "PET", "PET"


class NonTargetStatus(models.TextChoices):
    PRESENT = "present", "Present"
    ABSENT = "absent", "Absent"
    PROGRESSION = "progression", "Unequivocal progression"


class Scan(CustomValues, ClinicalRecord):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="scans")
    date = models.DateField()
    modality = models.CharField(max_length=3, choices=Modality.choices)

    history = HistoricalRecords()

    not_future_dates = ("date",)
    custom_level = "scan"

    class Meta:
        ordering = ["patient", "date"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(modality__in=Modality.values), name="scan_modality_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.modality} {self.date}"


class LesionMeasurement(ClinicalRecord):
    """One lesion on one scan; `lesion` is the label stable across the patient's scans."""

    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="lesions")
    lesion = models.CharField(max_length=16)
    organ = models.CharField(max_length=64, blank=True)
    lymph_node = models.BooleanField(default=False)
    target = models.BooleanField(default=True)
    new = models.BooleanField(default=False)
    long_mm = models.FloatField(null=True, blank=True)
    short_mm = models.FloatField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=NonTargetStatus.choices, blank=True, default=""
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["scan", "lesion"]
        constraints = [
            models.UniqueConstraint(fields=["scan", "lesion"], name="lesion_once_per_scan"),
            models.CheckConstraint(
                condition=models.Q(long_mm__isnull=True)
                | models.Q(long_mm__gte=0, long_mm__lte=1000),
                name="lesion_long_mm_range",
            ),
            models.CheckConstraint(
                condition=models.Q(short_mm__isnull=True)
                | models.Q(short_mm__gte=0, short_mm__lte=1000),
                name="lesion_short_mm_range",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=[*NonTargetStatus.values, ""]),
                name="lesion_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.lesion
