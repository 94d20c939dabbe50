"""A centre's own variables (custom fields), and the rule that checks their values.

**Storage decision**: values live in a `custom` JSON column on the record they
describe (patient, course, cycle, scan) — `jsonb` on PostgreSQL, with a GIN
index (`jsonb_path_ops`, migration 0011), so `custom @> {"code": value}` (the
research filter) is an index scan. A typed value table (EAV) would index as
well but costs a join per field on every page, export and filter, and would
split one record's history over many rows; with JSON the record's own
django-simple-history row keeps its custom values too. The price is that the
database cannot type-check a JSON value: every write path validates it here,
against the definitions (`check_values`) — forms, API, import and admin.

A definition is never deleted: it is *retired*. A retired field leaves the
forms, but its stored values stay, are exported and may be imported again.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

CODE_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
CHOICE_CODE_PATTERN = r"^[A-Za-z0-9_.-]{1,40}$"
TEXT_MAX_LENGTH = 2000


class Level(models.TextChoices):
    PATIENT = "patient", "Patient"
    COURSE = "course", "Course"
    CYCLE = "cycle", "Cycle"
    SCAN = "scan", "Scan"


class FieldType(models.TextChoices):
    NUMBER = "number", "Number"
    INTEGER = "integer", "Integer"
    BOOLEAN = "boolean", "Yes / no"
    DATE = "date", "Date"
    TEXT = "text", "Text"
    CHOICE = "choice", "Choice"


class CustomField(models.Model):
    """One variable a centre defines for itself (CONTRACT.md, `lutetia-cohort/2` `fields`)."""

    code = models.CharField(
        max_length=40,
        unique=True,
        validators=[RegexValidator(CODE_PATTERN, "A code is a-z, 0-9 and _, starting a-z.")],
        help_text="The key in `custom: {…}` and in exports; fixed once values exist.",
    )
    level = models.CharField(max_length=8, choices=Level.choices)
    type = models.CharField(max_length=8, choices=FieldType.choices)
    label = models.CharField(max_length=200)
    unit = models.CharField(max_length=32, blank=True)
    minimum = models.FloatField(null=True, blank=True)
    maximum = models.FloatField(null=True, blank=True)
    # [{"code": "a", "label": "A"}, …] for a choice field.
    choices = models.JSONField(default=list, blank=True)
    identifying = models.BooleanField(
        default=False,
        help_text="Handled like a name: never shown to research roles, null in "
        "de-identified exports.",
    )
    help = models.CharField(max_length=1000, blank=True)
    retired = models.BooleanField(
        default=False, help_text="Gone from the forms; stored values are kept and exported."
    )
    position = models.PositiveSmallIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["level", "position", "code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(code__regex=CODE_PATTERN), name="custom_field_code_pattern"
            ),
            models.CheckConstraint(
                condition=models.Q(level__in=Level.values), name="custom_field_level_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(type__in=FieldType.values), name="custom_field_type_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(minimum__isnull=True)
                | models.Q(maximum__isnull=True)
                | models.Q(minimum__lte=models.F("maximum")),
                name="custom_field_range_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.code})"

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        _request.definitions = None

    def clean(self) -> None:
        super().clean()
        errors = definition_errors(self.as_definition())
        if self.pk is not None:
            stored = CustomField.objects.filter(pk=self.pk).first()
            if (
                stored
                and (stored.code, stored.level, stored.type)
                != (
                    self.code,
                    self.level,
                    self.type,
                )
                and values_exist(stored.level, stored.code)
            ):
                errors.setdefault("type", []).append(
                    "Values are stored under this field: its code, level and type stay. "
                    "Retire it and define a new field instead."
                )
        if errors:
            raise ValidationError(errors)

    def as_definition(self) -> Definition:
        return Definition(
            code=self.code,
            level=self.level,
            type=self.type,
            label=self.label,
            unit=self.unit,
            minimum=self.minimum,
            maximum=self.maximum,
            choices=tuple(
                (c.get("code"), c.get("label")) for c in self.choices if isinstance(c, dict)
            )
            if isinstance(self.choices, list)
            else (),
            identifying=self.identifying,
            retired=self.retired,
            help=self.help,
            position=self.position,
        )


@dataclass(frozen=True)
class Definition:
    """A custom field's definition as plain data (from the database or a document)."""

    code: str
    level: str
    type: str
    label: str
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[tuple[str, str], ...] = ()
    identifying: bool = False
    retired: bool = False
    help: str = ""
    position: int = 0

    @property
    def choice_codes(self) -> tuple[str, ...]:
        return tuple(code for code, _ in self.choices)

    def choice_label(self, code: Any) -> str:
        return dict(self.choices).get(code, str(code))


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def definition_errors(d: Definition) -> dict[str, list[str]]:
    """What is wrong with a definition itself, by field name."""
    errors: dict[str, list[str]] = {}
    if d.type == FieldType.CHOICE:
        codes = [code for code, _ in d.choices]
        if not codes:
            errors["choices"] = ["A choice field needs at least one choice."]
        elif len(set(codes)) != len(codes):
            errors["choices"] = ["Each choice code may appear once."]
        elif any(
            not isinstance(c, str) or not RegexValidator(CHOICE_CODE_PATTERN).regex.match(c)
            for c in codes
        ):
            errors["choices"] = ["A choice code is 1–40 letters, digits, '_', '.' or '-'."]
    elif d.choices:
        errors["choices"] = ["Only a choice field has choices."]
    if (d.minimum is not None or d.maximum is not None) and d.type not in (
        FieldType.NUMBER,
        FieldType.INTEGER,
    ):
        errors["minimum"] = ["Only a number or integer field has a range."]
    if d.minimum is not None and d.maximum is not None and d.minimum > d.maximum:
        errors["maximum"] = ["The maximum is below the minimum."]
    return errors


# ------------------------------------------------------------------ values


def check_value(d: Definition, value: Any) -> tuple[Any, str | None]:
    """`(cleaned value, None)` or `(None, message)` for one value of field `d`."""
    if value is None:
        return None, None
    kind = d.type
    if kind in (FieldType.NUMBER, FieldType.INTEGER):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, "A number is required."
        if isinstance(value, float) and not math.isfinite(value):
            return None, "A finite number is required."
        if kind == FieldType.INTEGER:
            if isinstance(value, float) and not value.is_integer():
                return None, "A whole number is required."
            value = int(value)
        if d.minimum is not None and value < d.minimum:
            return None, f"At least {_number(d.minimum)}{' ' + d.unit if d.unit else ''}."
        if d.maximum is not None and value > d.maximum:
            return None, f"At most {_number(d.maximum)}{' ' + d.unit if d.unit else ''}."
        return value, None
    if kind == FieldType.BOOLEAN:
        if not isinstance(value, bool):
            return None, "true or false is required."
        return value, None
    if kind == FieldType.DATE:
        if isinstance(value, dt.date):
            value = value.isoformat()
        try:
            day = (
                dt.date.fromisoformat(value)
                if isinstance(value, str) and len(value) == 10
                else None
            )
        except ValueError:
            day = None
        if day is None:
            return None, f"{value!r} is not a valid date (YYYY-MM-DD)."
        if day.year < 1900:
            return None, f"{value} is before 1900."
        return value, None
    if kind == FieldType.TEXT:
        if not isinstance(value, str):
            return None, "Text is required."
        value = value.strip()
        if len(value) > TEXT_MAX_LENGTH:
            return None, f"At most {TEXT_MAX_LENGTH} characters."
        return (value or None), None
    if kind == FieldType.CHOICE:
        if not isinstance(value, str) or value not in d.choice_codes:
            allowed = ", ".join(d.choice_codes)
            return None, f"{value!r} is not one of the choices ({allowed})."
        return value, None
    return None, f"Unknown field type {kind!r}."


def check_values(
    level: str, values: Any, definitions: Mapping[str, Definition]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """A record's custom values cleaned (nulls dropped), and the errors by field code."""
    if values is None:
        return {}, {}
    if not isinstance(values, Mapping):
        return {}, {"": ["Custom values are an object {code: value}."]}
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for code, value in values.items():
        d = definitions.get(code)
        if d is None:
            errors[str(code)] = [f"No custom field {code!r} is defined."]
            continue
        if d.level != level:
            errors[str(code)] = [f"{code!r} is a {d.level} field, not a {level} field."]
            continue
        value, message = check_value(d, value)
        if message:
            errors[str(code)] = [message]
        elif value is not None:
            cleaned[str(code)] = value
    return dict(sorted(cleaned.items())), errors


_request = threading.local()  # the definitions read during the current request


@contextmanager
def definitions_read_once():
    """Within the block (a request: `registry.middleware.CustomFieldsMiddleware`), the
    definitions are read from the database once; a saved definition drops the copy."""
    _request.active, _request.definitions = True, None
    try:
        yield
    finally:
        _request.active, _request.definitions = False, None


def stored_definitions() -> dict[str, Definition]:
    """Every definition in the registry, retired ones included, by code."""
    if getattr(_request, "active", False):
        if _request.definitions is None:
            _request.definitions = {f.code: f.as_definition() for f in CustomField.objects.all()}
        return _request.definitions
    return {f.code: f.as_definition() for f in CustomField.objects.all()}


def definitions_at(level: str, *, include_retired: bool = False) -> list[Definition]:
    """The definitions of one level in form order."""
    return [
        d
        for d in sorted(stored_definitions().values(), key=lambda d: (d.position, d.code))
        if d.level == level and (include_retired or not d.retired)
    ]


def values_exist(level: str, code: str) -> bool:
    from django.apps import apps

    model = apps.get_model("registry", LEVEL_MODELS[level])
    return model.objects.filter(custom__has_key=code).exists()


LEVEL_MODELS = {"patient": "Patient", "course": "Course", "cycle": "Cycle", "scan": "Scan"}


class CustomValues(models.Model):
    """A record that carries custom values (`custom`), checked in `clean`."""

    custom = models.JSONField(default=dict, blank=True)

    custom_level: str = ""

    class Meta:
        abstract = True

    def clean(self) -> None:
        super().clean()
        definitions = getattr(self, "_custom_definitions", None)
        if definitions is None:
            definitions = stored_definitions() if self.custom else {}
        cleaned, errors = check_values(self.custom_level, self.custom, definitions)
        if errors:
            raise ValidationError(
                {
                    "custom": [
                        f"{code}: {m}" if code else m for code, ms in errors.items() for m in ms
                    ]
                }
            )
        self.custom = cleaned
