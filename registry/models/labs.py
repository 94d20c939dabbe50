from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from registry.models.base import ClinicalRecord
from registry.models.patients import Patient


class Analyte(models.TextChoices):
    HEMOGLOBIN = "hemoglobin", "Hemoglobin"
    PLATELETS = "platelets", "Platelets"
    WBC = "wbc", "White blood cells"
    NEUTROPHILS = "neutrophils", "Neutrophils"
    LYMPHOCYTES = "lymphocytes", "Lymphocytes"
    CREATININE = "creatinine", "Creatinine"
    EGFR = "egfr", "eGFR"
    ALT = "alt", "ALT"
    AST = "ast", "AST"
    BILIRUBIN = "bilirubin", "Bilirubin"
    ALP = "alp", "Alkaline phosphatase"
    CHROMOGRANIN_A = "chromogranin_a", "Chromogranin A"
    NSE = "nse", "Neuron-specific enolase"
    U_5HIAA = "u_5hiaa", "Urine 5-HIAA (24 h)"


# `Analyte.values` builds a new list on every access (a third of an import's lab checks).
ANALYTES = frozenset(Analyte.values)


class LabResult(ClinicalRecord):
    """One lab value, kept as entered and in its analyte's canonical unit (§6)."""

    # No index of its own: lab_patient_date starts with the patient (one index fewer for
    # every lab row an import writes).
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="labs", db_index=False
    )
    date = models.DateField()
    analyte = models.CharField(max_length=16, choices=Analyte.choices)
    value = models.FloatField()
    unit = models.CharField(max_length=16)
    # Computed in `clean` from value and unit; blank so validation reaches `clean`.
    canonical_value = models.FloatField(blank=True)
    lln = models.FloatField(null=True, blank=True)
    uln = models.FloatField(null=True, blank=True)

    history = HistoricalRecords()

    not_future_dates = ("date",)

    class Meta:
        ordering = ["patient", "date", "analyte"]
        indexes = [
            # The patient page and recompute read a patient's labs by date.
            models.Index(fields=["patient", "date"], name="lab_patient_date"),
            # The API's list order (api.views.facts): pages without a sort of every lab.
            models.Index(fields=["date", "analyte", "id"], name="lab_list_order"),
            # The dashboard's platelet time course: each cohort patient's platelets near
            # its cycles, read from the index alone (a tenth of the labs; at 30,000
            # patients 0.52 -> 0.13 s in PostgreSQL, which read every lab of each patient).
            models.Index(
                fields=["patient", "date"],
                include=["canonical_value"],
                condition=models.Q(analyte="platelets"),
                name="lab_platelets",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(value__gte=0), name="lab_value_not_negative"),
            models.CheckConstraint(
                condition=models.Q(canonical_value__gte=0), name="lab_canonical_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(lln__isnull=True) | models.Q(lln__gte=0),
                name="lab_lln_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(uln__isnull=True) | models.Q(uln__gte=0),
                name="lab_uln_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(analyte__in=Analyte.values), name="lab_analyte_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.analyte} {self.value} {self.unit} on {self.date}"

    def clean(self) -> None:
        """Convert to the canonical unit once, on entry, and refuse what cannot be (§6)."""
        super().clean()
        if self.analyte not in ANALYTES or self.value is None or not self.unit:
            return  # clean_fields reports these
        self.canonical_value = self.canonical_of(self.analyte, self.value, self.unit)

    @staticmethod
    def canonical_of(analyte: str, value: float, unit: str) -> float:
        """The value in the analyte's canonical unit, if that unit converts and the result
        is plausible; else the `ValidationError` `clean` raises (the import's fast path
        calls this directly)."""
        from registry.clinical import units

        try:
            canonical = units.to_canonical(analyte, value, unit)
        except units.UnitError as exc:
            raise ValidationError({"unit": [str(exc)]}) from exc
        try:
            units.check_plausible(analyte, canonical)
        except units.PlausibilityError as exc:
            raise ValidationError({"value": [str(exc)]}) from exc
        return canonical
