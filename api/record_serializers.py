"""Serializers of the `lutetia-cohort/2` record: a course's metastases, prior treatments,
and the custom-field definitions."""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers

from api.fields import FreeTextField, NullableChoiceField, NullableTextField, VisiblePatientField
from api.strict import StrictSerializer
from registry.models import CustomField, LiverLoad, PriorTreatment, PriorTreatmentType


class MetastasesSerializer(serializers.Serializer):
    """`metastases` of `lutetia-cohort/2`: where the disease is at the course's start."""

    liver = serializers.BooleanField(source="liver_metastases", allow_null=True, required=False)
    liver_load = NullableChoiceField(
        choices=LiverLoad.values, help_text="Share of the liver replaced by tumour."
    )
    bone = serializers.BooleanField(source="bone_metastases", allow_null=True, required=False)
    lymph_node = serializers.BooleanField(
        source="lymph_node_metastases", allow_null=True, required=False
    )
    peritoneal = serializers.BooleanField(
        source="peritoneal_metastases", allow_null=True, required=False
    )
    lung = serializers.BooleanField(source="lung_metastases", allow_null=True, required=False)
    other = serializers.BooleanField(source="other_metastases", allow_null=True, required=False)

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


class CustomFieldSerializer(serializers.ModelSerializer):
    """A custom-field definition, in the shape of `lutetia-cohort/2` `fields` (+ `retired`)."""

    unit = NullableTextField(max_length=32)
    help = NullableTextField(max_length=1000)

    class Meta:
        model = CustomField
        fields = [
            "id",
            "code",
            "level",
            "type",
            "label",
            "unit",
            "minimum",
            "maximum",
            "choices",
            "identifying",
            "help",
            "retired",
        ]
        read_only_fields = fields


class PriorTreatmentSerializer(StrictSerializer):
    """A treatment before (or between) PRRT courses."""

    patient = VisiblePatientField()
    type = serializers.ChoiceField(choices=PriorTreatmentType.values)
    note = FreeTextField()
    owner_fields = ("patient",)

    class Meta:
        model = PriorTreatment
        fields = ["id", "patient", "type", "start", "end", "note", "version"]
        read_only_fields = ["version"]
