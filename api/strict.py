"""The base of the API's serializers: unknown keys refused, writes through the fact services.

Writes go through `registry.records.facts.save_fact`, the one path every caller
takes (validation with `full_clean`, audit with the acting user, recomputation
after commit); a model's validation error comes back as DRF's
`{"field": [...]}` under the API's field names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from api.exceptions import validation_detail
from registry.models.locking import RecordLocked
from registry.records.facts import save_fact


class StrictSerializer(serializers.ModelSerializer):
    """A ModelSerializer that refuses unknown keys and saves through the fact services.

    `api_names` maps model field names to the API's where they differ, for
    errors raised by the model's own validation.
    """

    api_names: ClassVar[dict[str, str]] = {}
    # Fields that name the owner of a fact: fixed once the fact exists, since
    # moving it would leave the old owner's derived results unrecomputed.
    owner_fields: ClassVar[tuple[str, ...]] = ()

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
            numeric = (serializers.FloatField, serializers.IntegerField, serializers.DecimalField)
            booleans = sorted(
                str(k)
                for k, v in data.items()
                if isinstance(v, bool) and isinstance(self.fields[k], numeric)
            )
            if booleans:
                # DRF reads true/false as 1/0; a number field wants a number (finding 13).
                raise serializers.ValidationError(
                    {key: ["A number is required, not true or false."] for key in booleans}
                )
            read_only = sorted(str(k) for k in data if self.fields[k].read_only)
            if self.partial and read_only and len(read_only) == len(data):
                # A PATCH that could change nothing must not write a version and an audit
                # row that change nothing (security review, finding 12).
                raise serializers.ValidationError(
                    {key: ["Read-only: it cannot be changed."] for key in read_only}
                )
        return super().to_internal_value(data)

    def validate(self, attrs):
        if self.instance is not None:
            for name in self.owner_fields:
                if name in attrs and attrs[name] != getattr(self.instance, name):
                    raise serializers.ValidationError(
                        {name: ["Cannot be changed; delete the record and create it anew."]}
                    )
        return attrs

    @property
    def acting_user(self):
        return self.context["request"].user

    def save_instance(self, instance, *, expected_version: int | None = None):
        """`save_fact` with the caller as the audited user, errors in the API's names."""
        try:
            return save_fact(instance, by=self.acting_user, expected_version=expected_version)
        except RecordLocked:
            raise  # 409 locked, not a 400: nothing is wrong with the request itself
        except DjangoValidationError as exc:
            raise serializers.ValidationError(
                validation_detail(exc, self.api_names, type(instance))
            ) from exc

    def create(self, validated_data):
        return self.save_instance(self.Meta.model(**validated_data))

    def update(self, instance, validated_data):
        # The serializer's declared fields are the whitelist of what may change.
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self.save_instance(instance, expected_version=self.context.get("expected_version"))
