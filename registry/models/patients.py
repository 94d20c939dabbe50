from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

from registry.models.base import ClinicalRecord
from registry.models.custom import CustomValues
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


class WhoGrade(models.TextChoices):
    G1 = "G1", "G1"
    G2 = "G2", "G2"
    G3 = "G3", "G3"
    NEC = "NEC", "NEC (neuroendocrine carcinoma)"


class FunctionalSyndrome(models.TextChoices):
    NONE = "none", "None (non-functioning)"
    CARCINOID = "carcinoid", "Carcinoid syndrome"
    INSULINOMA = "insulinoma", "Insulinoma"
    GASTRINOMA = "gastrinoma", "Gastrinoma"
    GLUCAGONOMA = "glucagonoma", "Glucagonoma"
    VIPOMA = "vipoma", "VIPoma"
    OTHER = "other", "Other"


class CauseOfDeath(models.TextChoices):
    DISEASE = "disease", "Disease (NET)"
    TREATMENT = "treatment", "Treatment"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class PriorTreatmentType(models.TextChoices):
    SURGERY = "surgery", "Surgery"
    SOMATOSTATIN_ANALOGUE = "somatostatin_analogue", "Somatostatin analogue"
    CHEMOTHERAPY = "chemotherapy", "Chemotherapy"
    EVEROLIMUS = "everolimus", "Everolimus"
    SUNITINIB = "sunitinib", "Sunitinib"
    LIVER_DIRECTED = "liver_directed", "Liver-directed therapy"
    EXTERNAL_BEAM = "external_beam", "External beam radiotherapy"
    OTHER = "other", "Other"


# What the interchange schema allows (`patients[].study_id`): letters, digits, `_` and `-`.
# A study ID ends up in URLs, file names, chart labels and other centres' spreadsheets.
STUDY_ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
study_id_validator = RegexValidator(
    STUDY_ID_PATTERN,
    "A study ID is 1 to 32 letters, digits, '_' or '-' (no spaces or other characters).",
    code="invalid_study_id",
)


class Patient(CustomValues, ClinicalRecord):
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
    who_grade = models.CharField(
        "WHO grade", max_length=3, choices=WhoGrade.choices, blank=True, default=""
    )
    functional_syndrome = models.CharField(
        max_length=12, choices=FunctionalSyndrome.choices, blank=True, default=""
    )
    cause_of_death = models.CharField(
        max_length=10, choices=CauseOfDeath.choices, blank=True, default=""
    )

    history = HistoricalRecords()

    not_future_dates = ("diagnosis_date", "last_follow_up", "death_date")
    custom_level = "patient"

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
            models.CheckConstraint(
                condition=models.Q(who_grade__in=[*WhoGrade.values, ""]),
                name="patient_who_grade_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(functional_syndrome__in=[*FunctionalSyndrome.values, ""]),
                name="patient_functional_syndrome_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(cause_of_death__in=[*CauseOfDeath.values, ""]),
                name="patient_cause_of_death_valid",
            ),
            # A cause of death belongs to a patient who died.
            models.CheckConstraint(
                condition=models.Q(cause_of_death="") | models.Q(death_date__isnull=False),
                name="patient_cause_of_death_needs_death",
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
        if self.cause_of_death and not self.death_date:
            raise ValidationError({"cause_of_death": ["A cause of death needs the death date."]})


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


class PriorTreatment(ClinicalRecord):
    """A treatment before (or between) PRRT courses: surgery, analogues, chemotherapy, …"""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="prior_treatments")
    type = models.CharField(max_length=24, choices=PriorTreatmentType.choices)
    start = models.DateField(null=True, blank=True)
    end = models.DateField(null=True, blank=True)
    note = models.TextField(blank=True)

    history = HistoricalRecords()

    not_future_dates = ("start", "end")

    class Meta:
        ordering = ["patient", "start", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(type__in=PriorTreatmentType.values),
                name="prior_treatment_type_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(start__isnull=True)
                | models.Q(end__isnull=True)
                | models.Q(end__gte=models.F("start")),
                name="prior_treatment_end_not_before_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.start or ''}".strip()

    def clean(self) -> None:
        super().clean()
        if self.start and self.end and self.end < self.start:
            raise ValidationError({"end": ["The end is before the start."]})
