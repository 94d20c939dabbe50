"""The centre's own variables (custom fields) on the clinician's forms, and form sections.

`CustomFieldsMixin` adds one form field per active definition of the form's
level (`custom__<code>`), typed as the definition says — a number with its
range and unit, a yes/no/unknown choice, a date, a text or a list — so a
bad value gets its error beside its own field, like any typed field. On
save the values go into the record's `custom` (retired fields' stored values
are kept: they are not on the form, and nothing removes them).
"""

from __future__ import annotations

from django import forms

from registry.models.custom import TEXT_MAX_LENGTH, Definition, FieldType, definitions_at

PREFIX = "custom__"


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class YesNoUnknown(forms.NullBooleanSelect):
    """Unknown / Yes / No: a box left unticked must not read as "no metastases"."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = [("unknown", "Unknown"), ("true", "Yes"), ("false", "No")]

    def value_from_datadict(self, data, files, name):
        raw = data.get(name)
        if raw is not None and str(raw) not in StrictNullBooleanField.ACCEPTED:
            return str(raw)  # handed on as typed, for the field to refuse
        return super().value_from_datadict(data, files, name)


class StrictNullBooleanField(forms.NullBooleanField):
    """Yes / no / unknown that refuses anything else (Django's reads junk as "unknown",
    which would silently clear a recorded answer)."""

    ACCEPTED = {"", "unknown", "true", "false", "True", "False", "1", "0", "2", "3"}

    def to_python(self, value):
        if value not in (None, True, False) and str(value) not in self.ACCEPTED:
            raise forms.ValidationError("Choose yes, no or unknown.", code="invalid")
        return super().to_python(value)

    def validate(self, value):
        pass


def null_boolean(label: str, **kwargs) -> forms.NullBooleanField:
    return StrictNullBooleanField(label=label, required=False, widget=YesNoUnknown, **kwargs)


def dash_blank_choices(form: forms.BaseForm) -> None:
    """A choice left open reads "—", not Django's "---------"."""
    for field in form.fields.values():
        if isinstance(field, forms.ModelChoiceField) or not isinstance(field, forms.ChoiceField):
            continue  # a model choice's list is the queryset's, read when shown
        choices = getattr(field, "choices", None)
        if choices:
            choices = list(choices)
            if choices and choices[0][0] == "" and choices[0][1] == "---------":
                field.choices = [("", "—"), *choices[1:]]


class DashBlankMixin:
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        dash_blank_choices(self)


def _limits(d: Definition) -> dict:
    unit = f" {d.unit}".replace("%", "%%") if d.unit else ""
    kwargs = {
        "error_messages": {
            "min_value": f"At least %(limit_value)s{unit}.",
            "max_value": f"At most %(limit_value)s{unit}.",
        }
    }
    if d.minimum is not None:
        kwargs["min_value"] = int(d.minimum) if d.type == FieldType.INTEGER else d.minimum
    if d.maximum is not None:
        kwargs["max_value"] = int(d.maximum) if d.type == FieldType.INTEGER else d.maximum
    return kwargs


def form_field(d: Definition) -> forms.Field:
    """The form field of one definition."""
    label = f"{d.label} ({d.unit})" if d.unit else d.label
    help_text = d.help
    if d.identifying:
        help_text = f"{help_text} Identifying: never shown to research staff.".strip()
    common = {"label": label, "required": False, "help_text": help_text}
    if d.type == FieldType.NUMBER:
        return forms.FloatField(**common, **_limits(d))
    if d.type == FieldType.INTEGER:
        return forms.IntegerField(**common, **_limits(d))
    if d.type == FieldType.BOOLEAN:
        return StrictNullBooleanField(**common, widget=YesNoUnknown)
    if d.type == FieldType.DATE:
        return forms.DateField(**common, widget=DateInput)
    if d.type == FieldType.CHOICE:
        return forms.ChoiceField(**common, choices=[("", "—"), *d.choices])
    return forms.CharField(
        **common, max_length=TEXT_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 2})
    )


def _stored(value, d: Definition):
    """A cleaned form value as it is stored in `custom` (None: no value)."""
    if value in (None, ""):
        return None
    if d.type == FieldType.DATE:
        return value.isoformat()
    if d.type == FieldType.TEXT:
        return value.strip() or None
    return value


class CustomFieldsMixin:
    """Adds the active custom fields of `custom_level` to a form (see the module's doc)."""

    custom_level = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        instance = getattr(self, "instance", None)
        stored = getattr(instance, "custom", None) or self.initial.get("custom") or {}
        dash_blank_choices(self)
        self.custom_definitions = definitions_at(self.custom_level)
        for d in self.custom_definitions:
            name = PREFIX + d.code
            self.fields[name] = form_field(d)
            if d.code in stored and name not in self.initial:
                self.initial[name] = stored[d.code]

    def custom_values(self) -> dict:
        """The record's custom values after this form: stored ones (retired fields
        included) updated with what the form holds."""
        instance = getattr(self, "instance", None)
        values = dict(getattr(instance, "custom", None) or self.initial.get("custom") or {})
        for d in self.custom_definitions:
            value = _stored(self.cleaned_data.get(PREFIX + d.code), d)
            if value is None:
                values.pop(d.code, None)
            else:
                values[d.code] = value
        return dict(sorted(values.items()))

    def clean(self):
        data = super().clean()
        instance = getattr(self, "instance", None)
        if instance is not None and hasattr(instance, "custom"):
            instance.custom = self.custom_values()
        return data

    def custom_bound_fields(self) -> list:
        return [self[PREFIX + d.code] for d in self.custom_definitions]


class SectionsMixin:
    """`sections`: (title, [field names]) in display order; fields not named go first."""

    sections: tuple[tuple[str, tuple[str, ...]], ...] = ()
    custom_title = "Centre's own fields"

    def grouped(self) -> list[tuple[str, list]]:
        named = {name for _, names in self.sections for name in names}
        custom = {f.name for f in getattr(self, "custom_bound_fields", list)()}
        first = [
            f
            for f in self.visible_fields()
            if f.name not in named and f.name not in custom and f.name != "change_reason"
        ]
        groups = [("", first)] if first else []
        for title, names in self.sections:
            fields = [self[name] for name in names if name in self.fields]
            if fields:
                groups.append((title, fields))
        if custom:
            groups.append((self.custom_title, self.custom_bound_fields()))
        if "change_reason" in self.fields:
            groups.append(("", [self["change_reason"]]))
        return groups
