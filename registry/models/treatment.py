from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from registry.models.base import ClinicalRecord
from registry.models.custom import CustomValues
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


class UptakeModality(models.TextChoices):
    SRS = "SRS", "OctreoScan (SRS)"
    PET = "PET", "68Ga-PET"


class LiverLoad(models.TextChoices):
    LT25 = "lt25", "< 25 %"
    FROM25TO50 = "25to50", "25–50 %"
    GT50 = "gt50", "> 50 %"


class ReducedReason(models.TextChoices):
    TOXICITY = "toxicity", "Toxicity"
    RENAL = "renal", "Kidney function"
    BODY_WEIGHT = "body_weight", "Body weight"
    SUPPLY = "supply", "Supply"
    OTHER = "other", "Other"


# The metastasis sites of `lutetia-cohort/2` (`courses[].metastases`), as course columns.
METASTASIS_SITES = ("liver", "bone", "lymph_node", "peritoneal", "lung", "other")
KARNOFSKY_VALUES = list(range(0, 101, 10))


class RecordStatus(models.TextChoices):
    """Where a course's data entry stands (REDCap's record status; GCP source verification)."""

    INCOMPLETE = "incomplete", "Incomplete"
    COMPLETE = "complete", "Complete"
    VERIFIED = "verified", "Verified (locked)"


class Course(CustomValues, ClinicalRecord):
    """A run of cycles of one phase (CLINICAL.md §1).

    Its start and its `round` (1, 2, … among the patient's courses of the same
    phase) follow from the cycles' dates; they are derived, not stored. The
    performance status, uptake score and metastases describe the patient at
    the course's start.
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
    ecog = models.PositiveSmallIntegerField("ECOG", null=True, blank=True)
    karnofsky = models.PositiveSmallIntegerField("Karnofsky", null=True, blank=True)
    krenning_score = models.PositiveSmallIntegerField("Krenning score", null=True, blank=True)
    uptake_modality = models.CharField(
        max_length=3, choices=UptakeModality.choices, blank=True, default=""
    )
    liver_metastases = models.BooleanField(null=True, blank=True)
    liver_load = models.CharField(
        "liver tumour load", max_length=6, choices=LiverLoad.choices, blank=True, default=""
    )
    bone_metastases = models.BooleanField(null=True, blank=True)
    lymph_node_metastases = models.BooleanField(null=True, blank=True)
    peritoneal_metastases = models.BooleanField(null=True, blank=True)
    lung_metastases = models.BooleanField(null=True, blank=True)
    other_metastases = models.BooleanField(null=True, blank=True)

    history = HistoricalRecords()

    custom_level = "course"

    class Meta:
        ordering = ["patient", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ecog__isnull=True) | models.Q(ecog__lte=4),
                name="course_ecog_range",
            ),
            models.CheckConstraint(
                condition=models.Q(karnofsky__isnull=True)
                | models.Q(karnofsky__in=KARNOFSKY_VALUES),
                name="course_karnofsky_tens",
            ),
            models.CheckConstraint(
                condition=models.Q(krenning_score__isnull=True) | models.Q(krenning_score__lte=4),
                name="course_krenning_range",
            ),
            models.CheckConstraint(
                condition=models.Q(uptake_modality__in=[*UptakeModality.values, ""]),
                name="course_uptake_modality_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(liver_load__in=[*LiverLoad.values, ""]),
                name="course_liver_load_valid",
            ),
            # A liver tumour load is of liver metastases: not with "no liver metastases".
            models.CheckConstraint(
                condition=models.Q(liver_load="") | ~models.Q(liver_metastases=False),
                name="course_liver_load_needs_liver",
            ),
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

    def clean(self) -> None:
        super().clean()
        errors = {}
        if self.ecog is not None and self.ecog > 4:
            errors["ecog"] = ["ECOG is 0 to 4."]
        if self.karnofsky is not None and self.karnofsky not in KARNOFSKY_VALUES:
            errors["karnofsky"] = ["Karnofsky is 0 to 100 in steps of 10."]
        if self.krenning_score is not None and self.krenning_score > 4:
            errors["krenning_score"] = ["The Krenning score is 0 to 4."]
        if self.liver_load and self.liver_metastases is False:
            errors["liver_load"] = ["A liver tumour load needs liver metastases."]
        if errors:
            raise ValidationError(errors)


def metastases_of(course) -> dict[str, object]:
    """`{"liver", "liver_load", "bone", …}` of a course (model instance or row)."""
    out: dict[str, object] = {
        "liver": course.liver_metastases,
        "liver_load": course.liver_load or None,
    }
    for site in METASTASIS_SITES[1:]:
        out[site] = getattr(course, f"{site}_metastases")
    return out


class Cycle(CustomValues, ClinicalRecord):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="cycles")
    date = models.DateField()
    administered_gbq = models.FloatField()
    radiopharmaceutical = models.CharField(max_length=64, default=DEFAULT_RADIOPHARMACEUTICAL)
    note = models.TextField(blank=True)
    # Why the cycle was given despite pre-cycle warnings (CLINICAL.md §7).
    warning_reason = models.TextField(blank=True)
    # Kidney protection (an amino-acid infusion) given with the cycle.
    amino_acids = models.BooleanField("amino acids", null=True, blank=True)
    reduced_reason = models.CharField(
        "reason for a reduced activity",
        max_length=12,
        choices=ReducedReason.choices,
        blank=True,
        default="",
    )

    history = HistoricalRecords()

    not_future_dates = ("date",)
    custom_level = "cycle"

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
            models.CheckConstraint(
                condition=models.Q(reduced_reason__in=[*ReducedReason.values, ""]),
                name="cycle_reduced_reason_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"cycle {self.date} ({self.administered_gbq} GBq)"
