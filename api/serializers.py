"""Serializers of the clinical facts, with the interchange format's field names.

(The parts only `lutetia-cohort/2` has are in `api.record_serializers`.)

Writes go through `registry.records.facts.save_fact` / `delete_fact`, the one
path every caller takes (validation with `full_clean`, audit with the acting
user, recomputation after commit); a model's validation error comes back as
DRF's `{"field": [...]}` under the API's field names. Unknown keys in a body
are refused by name, as the interchange format refuses them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.exceptions import validation_detail
from api.fields import (
    CodedForResearch,
    CustomValuesField,
    FreeTextField,
    NullableChoiceField,
    NullableTextField,
    RequiredFreeTextField,
    VisibleCourseField,
    VisiblePatientField,
    VisibleSiteField,
)
from api.record_serializers import MetastasesSerializer
from api.strict import StrictSerializer
from registry.clinical import units, vocabularies
from registry.models import (
    AdverseEvent,
    AdverseEventCategory,
    Attribution,
    CauseOfDeath,
    ClinicalProgression,
    Course,
    Cycle,
    FunctionalSyndrome,
    LabResult,
    LesionMeasurement,
    NonTargetStatus,
    Patient,
    PatientIdentity,
    ReducedReason,
    ResponseOverride,
    Scan,
    Sex,
    Site,
    StopReason,
    UptakeModality,
    WhoGrade,
)
from registry.models.locking import RecordLocked
from registry.records.facts import save_fact

# ------------------------------------------------------------------------ sites


class SiteSerializer(StrictSerializer):
    class Meta:
        model = Site
        fields = ["id", "code", "name"]

    def save_instance(self, instance, *, expected_version=None):
        # Sites are not clinical facts of a patient: validated and saved directly.
        try:
            instance.full_clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(validation_detail(exc, model=Site)) from exc
        instance.save()
        return instance


# --------------------------------------------------------------------- patients

IDENTITY_FIELDS: tuple[str, ...] = ("name", "hospital_number", "birth_date")


class PatientResearchSerializer(StrictSerializer):
    """A patient without direct identifiers: what research roles get (DESIGN.md)."""

    site = VisibleSiteField(help_text="Code of the treating site.")
    sex = NullableChoiceField(choices=[c for c in Sex.values], help_text="F, M, U or null.")
    who_grade = NullableChoiceField(choices=WhoGrade.values)
    functional_syndrome = NullableChoiceField(choices=FunctionalSyndrome.values)
    cause_of_death = NullableChoiceField(
        choices=CauseOfDeath.values, help_text="Only with a death date."
    )
    custom = CustomValuesField("patient")

    class Meta:
        model = Patient
        fields = [
            "id",
            "study_id",
            "site",
            "sex",
            "primary_site",
            "diagnosis_date",
            "ki67_percent",
            "weight_kg",
            "last_follow_up",
            "death_date",
            "who_grade",
            "functional_syndrome",
            "cause_of_death",
            "custom",
            "version",
        ]
        read_only_fields = ["version"]


class PatientSerializer(PatientResearchSerializer):
    """A patient with the direct identifiers, for clinicians and admins.

    The identifiers live in their own table (`PatientIdentity`); they are
    written with the patient, in the same transaction, each audited.
    """

    name = NullableTextField(source="identity.name", max_length=200)
    hospital_number = NullableTextField(source="identity.hospital_number", max_length=64)
    birth_date = serializers.DateField(
        source="identity.birth_date", allow_null=True, required=False
    )

    class Meta(PatientResearchSerializer.Meta):
        fields = [
            *PatientResearchSerializer.Meta.fields[:3],
            *IDENTITY_FIELDS,
            *PatientResearchSerializer.Meta.fields[3:],
        ]

    def _save_identity(self, patient: Patient, identity: dict[str, Any]) -> None:
        try:
            record = patient.identity
        except PatientIdentity.DoesNotExist:
            if not any(identity.values()):
                return
            record = PatientIdentity(patient=patient)
        for name, value in identity.items():
            setattr(record, name, value)
        self.save_instance(record)

    def create(self, validated_data):
        identity = validated_data.pop("identity", {})
        patient = self.save_instance(Patient(**validated_data))
        self._save_identity(patient, identity)
        return patient

    def update(self, instance, validated_data):
        identity = validated_data.pop("identity", None)
        patient = super().update(instance, validated_data)
        if identity is not None:
            self._save_identity(patient, identity)
        return patient


# ---------------------------------------------------------------------- courses


class CourseSerializer(StrictSerializer):
    patient = VisiblePatientField()
    stop_reason = NullableChoiceField(choices=StopReason.values)
    ecog = serializers.IntegerField(min_value=0, max_value=4, allow_null=True, required=False)
    karnofsky = serializers.IntegerField(
        min_value=0, max_value=100, allow_null=True, required=False, help_text="In tens."
    )
    krenning_score = serializers.IntegerField(
        min_value=0, max_value=4, allow_null=True, required=False
    )
    uptake_modality = NullableChoiceField(
        choices=UptakeModality.values, help_text="SRS (OctreoScan) or PET."
    )
    metastases = MetastasesSerializer(source="*", required=False)
    custom = CustomValuesField("course")
    owner_fields = ("patient",)
    api_names = {
        "liver_metastases": "metastases",
        "liver_load": "metastases",
        "bone_metastases": "metastases",
    }

    class Meta:
        model = Course
        fields = [
            "id",
            "patient",
            "phase",
            "intended_activity_gbq",
            "stop_reason",
            "ecog",
            "karnofsky",
            "krenning_score",
            "uptake_modality",
            "metastases",
            "custom",
            "version",
        ]
        read_only_fields = ["version"]


class CycleSerializer(CodedForResearch, StrictSerializer):
    coded_fields: ClassVar[dict[str, Any]] = {
        "radiopharmaceutical": vocabularies.coded_radiopharmaceutical
    }
    course = VisibleCourseField()
    patient = serializers.IntegerField(source="course.patient_id", read_only=True)
    activity_gbq = serializers.FloatField(
        source="administered_gbq", help_text="Administered activity in GBq (0 < x ≤ 15)."
    )
    note = FreeTextField()
    warning_reason = FreeTextField(
        help_text="Why the cycle was given despite pre-cycle warnings (CLINICAL.md §7); "
        "`null` for research roles."
    )
    amino_acids = serializers.BooleanField(
        allow_null=True, required=False, help_text="Kidney protection given with the cycle."
    )
    reduced_reason = NullableChoiceField(
        choices=ReducedReason.values, help_text="Why less than the standard activity."
    )
    custom = CustomValuesField("cycle")
    api_names = {"administered_gbq": "activity_gbq"}
    owner_fields = ("course",)

    class Meta:
        model = Cycle
        fields = [
            "id",
            "course",
            "patient",
            "date",
            "activity_gbq",
            "radiopharmaceutical",
            "note",
            "warning_reason",
            "amino_acids",
            "reduced_reason",
            "custom",
            "version",
        ]
        read_only_fields = ["version"]


# ------------------------------------------------------------------------- labs


class LabSerializer(StrictSerializer):
    patient = VisiblePatientField()
    canonical_unit = serializers.SerializerMethodField()
    owner_fields = ("patient",)

    class Meta:
        model = LabResult
        fields = [
            "id",
            "patient",
            "date",
            "analyte",
            "value",
            "unit",
            "lln",
            "uln",
            "canonical_value",
            "canonical_unit",
            "version",
        ]
        read_only_fields = ["canonical_value", "version"]
        extra_kwargs = {
            "unit": {"help_text": "As entered; the accepted units per analyte: CLINICAL.md §6."},
            "canonical_value": {"help_text": "The value in the analyte's canonical unit."},
        }

    @extend_schema_field(serializers.CharField())
    def get_canonical_unit(self, lab: LabResult) -> str:
        return units.CANONICAL_UNIT.get(lab.analyte, "")

    def to_internal_value(self, data):
        attrs = super().to_internal_value(data)
        # Computed from value and unit by the model's `clean`; never taken from the body.
        attrs.setdefault("canonical_value", None)
        return attrs


# ------------------------------------------------------------------------ scans


class LesionSerializer(CodedForResearch, StrictSerializer):
    coded_fields: ClassVar[dict[str, Any]] = {
        "lesion": vocabularies.coded_lesion_label,
        "organ": vocabularies.coded_organ,
    }
    organ = NullableTextField(max_length=64)
    status = NullableChoiceField(
        choices=NonTargetStatus.values, help_text="Non-target lesions only."
    )

    class Meta:
        model = LesionMeasurement
        fields = ["lesion", "organ", "lymph_node", "target", "new", "long_mm", "short_mm", "status"]


class ScanSerializer(StrictSerializer):
    """A scan with its lesions, written together: a lesion error undoes the whole scan."""

    patient = VisiblePatientField()
    lesions = LesionSerializer(many=True, required=False)
    custom = CustomValuesField("scan")
    owner_fields = ("patient",)

    class Meta:
        model = Scan
        fields = ["id", "patient", "date", "modality", "lesions", "custom", "version"]
        read_only_fields = ["version"]

    def validate_lesions(self, lesions: list[dict]) -> list[dict]:
        labels = [lesion["lesion"] for lesion in lesions]
        if len(set(labels)) != len(labels):
            raise serializers.ValidationError("A lesion label may appear once per scan.")
        return lesions

    def _save_lesions(self, scan: Scan, lesions: list[dict], *, replace: bool) -> None:
        """Create, update or (when replacing) delete lesions so the scan has exactly `lesions`."""
        from registry.records.facts import delete_fact

        existing = {lesion.lesion: lesion for lesion in scan.lesions.all()} if replace else {}
        # Keyed by position, as DRF reports errors of a nested list.
        errors: dict[str, dict] = {}
        for i, data in enumerate(lesions):
            record = existing.pop(data["lesion"], None) or LesionMeasurement(scan=scan)
            for name, value in data.items():
                setattr(record, name, value)
            try:
                save_fact(record, by=self.acting_user)
            except RecordLocked:
                raise
            except DjangoValidationError as exc:
                errors[str(i)] = validation_detail(exc, model=LesionMeasurement)
        if errors:
            raise serializers.ValidationError({"lesions": errors})
        for stale in existing.values():
            delete_fact(stale, by=self.acting_user)
        if hasattr(scan, "_prefetched_objects_cache"):
            scan._prefetched_objects_cache.pop("lesions", None)

    def create(self, validated_data):
        lesions = validated_data.pop("lesions", [])
        scan = self.save_instance(Scan(**validated_data))
        self._save_lesions(scan, lesions, replace=False)
        return scan

    def update(self, instance, validated_data):
        lesions = validated_data.pop("lesions", None)
        scan = super().update(instance, validated_data)
        if lesions is not None:
            self._save_lesions(scan, lesions, replace=True)
        return scan


# ----------------------------------------------------------------------- events


class ClinicalProgressionSerializer(StrictSerializer):
    patient = VisiblePatientField()
    note = FreeTextField()
    owner_fields = ("patient",)

    class Meta:
        model = ClinicalProgression
        fields = ["id", "patient", "date", "note", "version"]
        read_only_fields = ["version"]


class AdverseEventSerializer(CodedForResearch, StrictSerializer):
    coded_fields: ClassVar[dict[str, Any]] = {"term": vocabularies.coded_term}
    patient = VisiblePatientField()
    note = FreeTextField()
    category = NullableChoiceField(
        choices=AdverseEventCategory.values, help_text="Late toxicity: mds, aml, kidney_failure, …"
    )
    serious = serializers.BooleanField(allow_null=True, required=False)
    attribution = NullableChoiceField(
        choices=Attribution.values, help_text="Relation to the treatment."
    )
    owner_fields = ("patient",)

    class Meta:
        model = AdverseEvent
        fields = [
            "id",
            "patient",
            "term",
            "grade",
            "onset",
            "note",
            "category",
            "resolved",
            "serious",
            "attribution",
            "version",
        ]
        read_only_fields = ["version"]
        extra_kwargs = {"grade": {"min_value": 1, "max_value": 5}}


class ResponseOverrideSerializer(StrictSerializer):
    """A clinician's override of a computed best response; the reason is required (§2c)."""

    course = VisibleCourseField()
    patient = serializers.IntegerField(source="course.patient_id", read_only=True)
    reason = RequiredFreeTextField(
        allow_blank=False,
        help_text="Why the computed response is wrong; `null` for research roles.",
    )
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    decided_at = serializers.DateTimeField(source="updated_at", read_only=True)
    owner_fields = ("course",)

    class Meta:
        model = ResponseOverride
        fields = [
            "id",
            "course",
            "patient",
            "criteria",
            "response",
            "reason",
            "decided_by",
            "decided_at",
            "version",
        ]
        read_only_fields = ["version"]

    def create(self, validated_data):
        return super().create({**validated_data, "decided_by": self.acting_user})

    def update(self, instance, validated_data):
        return super().update(instance, {**validated_data, "decided_by": self.acting_user})
