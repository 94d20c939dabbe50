from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

from registry.models.base import ClinicalRecord
from registry.models.sites import Site


class Sex(models.TextChoices):
    FEMALE = "F", "Female"
    MALE = "M", "Male"
    UNKNOWN = "U", "Unknown"


class PrimarySite(models.TextChoices):
    PANCREAS = "pancreas", "Pancreas"
    MIDGUT = "midgut", "Midgut"
    HINDGUT = "hindgut", "Hindgut"
    FOREGUT_OTHER = "foregut_other", "Foregut, other"
    BRONCHIAL = "bronchial", "Bronchial"
    UNKNOWN_PRIMARY = "unknown_primary", "Unknown primary"
    OTHER = "other", "Other"


# What the interchange schema allows (`patients[].study_id`): letters, digits, `_` and `-`.
# A study ID ends up in URLs, file names, chart labels and other centres' spreadsheets.
STUDY_ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
study_id_validator = RegexValidator(
    STUDY_ID_PATTERN,
    "A study ID is 1 to 32 letters, digits, '_' or '-' (no spaces or other characters).",
    code="invalid_study_id",
)


class Patient(ClinicalRecord):
    """A patient, known to research by the pseudonymous study ID only.

    Direct identifiers live in `PatientIdentity`, a separate table, so that
    research queries never select them by accident.
    """

    study_id = models.CharField(max_length=32, unique=True, validators=[study_id_validator])
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="patients")
    sex = models.CharField(max_length=1, choices=Sex.choices, blank=True, default="")
    primary_site = models.CharField(max_length=20, choices=PrimarySite.choices)
    diagnosis_date = models.DateField(null=True, blank=True)
    ki67_percent = models.FloatField(null=True, blank=True)
    weight_kg = models.FloatField(null=True, blank=True)
    last_follow_up = models.DateField(null=True, blank=True)
    death_date = models.DateField(null=True, blank=True)

    history = HistoricalRecords()

    not_future_dates = ("diagnosis_date", "last_follow_up", "death_date")

    class Meta:
        ordering = ["study_id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(death_date__isnull=True)
                | models.Q(diagnosis_date__isnull=True)
                | models.Q(death_date__gte=models.F("diagnosis_date")),
                name="patient_death_not_before_diagnosis",
            ),
            models.CheckConstraint(
                condition=models.Q(ki67_percent__isnull=True)
                | models.Q(ki67_percent__gte=0, ki67_percent__lte=100),
                name="patient_ki67_percent_range",
            ),
            models.CheckConstraint(
                condition=models.Q(weight_kg__isnull=True)
                | models.Q(weight_kg__gt=0, weight_kg__lte=500),
                name="patient_weight_plausible",
            ),
            models.CheckConstraint(
                condition=models.Q(sex__in=["F", "M", "U", ""]), name="patient_sex_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(primary_site__in=PrimarySite.values),
                name="patient_primary_site_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(study_id__regex=STUDY_ID_PATTERN),
                name="patient_study_id_characters",
            ),
        ]

    def __str__(self) -> str:
        return self.study_id

    def clean(self) -> None:
        super().clean()
        if self.death_date and self.diagnosis_date and self.death_date < self.diagnosis_date:
            raise ValidationError(
                {"death_date": ["The death date cannot be before the diagnosis date."]}
            )


class PatientIdentity(ClinicalRecord):
    """Direct identifiers: never shown to research roles nor exported de-identified."""

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="identity")
    name = models.CharField(max_length=200, blank=True)
    hospital_number = models.CharField(max_length=64, blank=True, db_index=True)
    birth_date = models.DateField(null=True, blank=True)

    history = HistoricalRecords()

    not_future_dates = ("birth_date",)

    class Meta:
        verbose_name_plural = "patient identities"

    def __str__(self) -> str:
        return f"identity of {self.patient_id}"
