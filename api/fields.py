"""Serializer fields for the interchange format's conventions."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from registry.access import may_see_identifiers, visible_patients, visible_sites
from registry.interchange.build import is_infinite
from registry.models import Course


class BlankAsNullMixin:
    """`null` in JSON is the empty string in the database (CONTRACT.md: "unknown is null").

    The columns are NOT NULL text with a blank default, so an unknown value
    round-trips as `null` without a second spelling of "unknown".
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def validate_empty_values(self, data):
        if data is None:
            return True, ""
        return super().validate_empty_values(data)

    def to_representation(self, value):
        return None if value in ("", None) else super().to_representation(value)


class NullableChoiceField(BlankAsNullMixin, serializers.ChoiceField):
    pass


class NullableTextField(BlankAsNullMixin, serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)


def _user(field):
    """The caller; anonymous while the schema is generated, which sees nothing."""
    request = field.context.get("request")
    return getattr(request, "user", None) or AnonymousUser()


class _NullForResearch:
    """Free text a clinician typed: `null` in the answers to research roles.

    Names and hospital numbers get typed into notes and reasons, so research staff,
    who never see direct identifiers, get no free text at all (as in the exports).
    """

    def to_representation(self, value):
        if not may_see_identifiers(_user(self)):
            return None
        return super().to_representation(value)


class FreeTextField(_NullForResearch, NullableTextField):
    """An optional note (`null` when empty, and always `null` for research roles)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "Free text; `null` for research roles.")
        super().__init__(**kwargs)


class RequiredFreeTextField(_NullForResearch, serializers.CharField):
    """A required, non-blank text (an override's reason); `null` for research roles."""


class RequiredFreeTextFieldExtension(OpenApiSerializerFieldExtension):
    """Documents the `null` research roles get: nullable in responses, not in requests."""

    target_class = RequiredFreeTextField

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        return {**schema, "nullable": True} if direction == "response" else schema


class _IdField(serializers.PrimaryKeyRelatedField):
    """A primary key; a JSON number beyond the float range (`1e309`, read as infinity)
    is an id of the wrong type, named by its field, not an OverflowError (500)."""

    def to_internal_value(self, data):
        if is_infinite(data):
            self.fail("incorrect_type", data_type="number too large")
        return super().to_internal_value(data)


class VisiblePatientField(_IdField):
    """A patient id the caller may see; any other id is "does not exist" (400)."""

    def get_queryset(self):
        return visible_patients(_user(self))


class VisibleCourseField(_IdField):
    """A course of a patient the caller may see."""

    def get_queryset(self):
        return Course.objects.filter(patient__in=visible_patients(_user(self)))


class VisibleSiteField(serializers.SlugRelatedField):
    """A site by code, among the caller's sites (all of them for admins)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "code")
        super().__init__(**kwargs)

    def get_queryset(self):
        return visible_sites(_user(self))


class CodedForResearch:
    """Free text research roles read coded (`registry.clinical.vocabularies`, finding 8).

    `coded_fields` maps a field to its coder: a listed value in its listed spelling,
    `other` for anything else, so a name typed there never reaches research staff.
    """

    coded_fields: ClassVar[dict[str, Any]] = {}

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not may_see_identifiers(_user(self)):
            for name, coder in self.coded_fields.items():
                if name in data:
                    data[name] = coder(data[name])
        return data


def _definitions(field) -> dict:
    """The registry's custom-field definitions (read once per request by
    `registry.middleware.CustomFieldsMiddleware`, however many items a list has)."""
    from registry.models.custom import stored_definitions

    return stored_definitions()


class CustomValuesField(serializers.JSONField):
    """A record's custom values, `{CODE: value}` (CONTRACT.md, `lutetia-cohort/2`).

    Checked against the definitions of the record's level; an error names its
    code: `{"custom": {"suv_max": ["At most 300 SUV."]}}`. A field marked
    identifying is `null` for research roles, as names are absent for them.
    A PATCH merges into the stored values (`null` clears one); a PUT replaces them.
    """

    def __init__(self, level: str, **kwargs):
        self.level = level
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text",
            "The centre's own variables of this record, {code: value}; definitions: "
            "the admin's custom fields. Identifying ones are null for research roles.",
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        from registry.models.custom import check_values

        if data is None:
            data = {}
        instance = getattr(self.parent, "instance", None)
        if (
            getattr(self.parent, "partial", False)
            and instance is not None
            and isinstance(data, dict)
        ):
            merged = {**(instance.custom or {}), **data}
            data = {code: value for code, value in merged.items() if value is not None}
        cleaned, errors = check_values(self.level, data, _definitions(self))
        if errors:
            raise serializers.ValidationError(
                {code or "custom": messages for code, messages in errors.items()}
            )
        return cleaned

    def to_representation(self, value):
        values = dict(sorted((value or {}).items()))
        if not may_see_identifiers(_user(self)):
            definitions = _definitions(self)
            for code in values:
                d = definitions.get(code)
                if d is None or d.identifying:
                    values[code] = None
        return values
