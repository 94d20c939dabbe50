"""Forms for correcting and removing recorded facts (the edit and delete pages).

Every edit form carries the version of the record as it was when the page
was opened (a hidden field) and passes it to the services as
`expected_version`: if someone saved the record in between, the save is
refused instead of silently overwriting their change.
"""

from __future__ import annotations

import contextlib

from django import forms

from registry.clinical import units
from registry.models import LabResult, ResponseCode
from registry.records import event_forms, lab_forms
from registry.records import forms as entry_forms

REASON_MAX_LENGTH = 100  # simple_history's change-reason column
VERSION_MISSING = "This form lacks the record's version; reload the page and try again."
STALE_MESSAGE = (
    "This record was changed by someone else since you opened it — reload the page to see "
    "their change, then make yours again. Nothing was saved."
)


def _version_field(version: int) -> forms.IntegerField:
    return forms.IntegerField(
        widget=forms.HiddenInput,
        min_value=1,
        initial=version,
        error_messages={"required": VERSION_MISSING, "invalid": VERSION_MISSING},
    )


class CorrectionMixin:
    """Adds the hidden `version` and an optional reason kept in the change history."""

    def __init__(self, *args, version: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"] = _version_field(version)
        self.fields["change_reason"] = forms.CharField(
            label="Reason for the correction",
            required=False,
            max_length=REASON_MAX_LENGTH,
            help_text="Optional; kept in the change history.",
        )


class CourseEditForm(CorrectionMixin, entry_forms.CourseForm):
    pass


class CycleEditForm(CorrectionMixin, entry_forms.CycleForm):
    pass


class LabResultForm(CorrectionMixin, lab_forms.PlausibilityMixin, forms.ModelForm):
    """One recorded lab value; the analyte stays (a wrong analyte is a delete and a new value).

    An implausible corrected value needs the confirmation the panel asks for (§6)."""

    value = forms.FloatField(min_value=0)
    unit = forms.ChoiceField()

    class Meta:
        model = LabResult
        fields = ["date", "value", "unit"]
        widgets = {"date": entry_forms.DateInput}

    def __init__(self, *args, history: lab_forms.LabHistory | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup_plausibility(history)
        accepted = list(units.accepted_units(self.instance.analyte))
        if self.instance.unit and self.instance.unit not in accepted:
            accepted.insert(0, self.instance.unit)  # imported spelling: keep it selectable
        self.fields["unit"].choices = [
            (u, u.replace("umol", "µmol").replace("ug/", "µg/")) for u in accepted
        ]

    def clean(self):
        data = super().clean()
        value, unit = data.get("value"), data.get("unit")
        if value is not None and unit and not self.has_error("value"):
            with contextlib.suppress(units.UnitError):  # the model names a unit error
                self.check_plausible(self.instance.analyte, value, unit, data.get("date"), "value")
        return data


class ScanEditForm(CorrectionMixin, entry_forms.ScanForm):
    pass


class BaseLesionEditFormSet(entry_forms.BaseLesionFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = "Remove"


LesionEditFormSet = forms.formset_factory(
    entry_forms.LesionForm, formset=BaseLesionEditFormSet, extra=1, can_delete=True, max_num=60
)


def lesion_rows(lesions) -> list[dict]:
    """A scan's recorded lesions as the lesion table's initial rows, sizes included."""
    return [
        {
            "lesion": lesion.lesion,
            "organ": lesion.organ,
            "lymph_node": lesion.lymph_node,
            "target": lesion.target,
            "new": lesion.new,
            "long_mm": lesion.long_mm,
            "short_mm": lesion.short_mm,
            "status": lesion.status,
            # Stored without a size (a target) or a status (a non-target): not assessed.
            "not_assessed": (lesion.long_mm is None) if lesion.target else not lesion.status,
        }
        for lesion in lesions
    ]


class ClinicalProgressionEditForm(CorrectionMixin, event_forms.ClinicalProgressionForm):
    pass


class PriorTreatmentEditForm(CorrectionMixin, event_forms.PriorTreatmentForm):
    pass


class AdverseEventEditForm(CorrectionMixin, event_forms.AdverseEventForm):
    pass


class OverrideEditForm(forms.Form):
    """A new best response and reason for an existing override (course and criteria stay)."""

    response = forms.ChoiceField(label="Best response", choices=ResponseCode.choices)
    reason = forms.CharField(
        label="Reason for the override", widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, version: int, criteria: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.criteria = criteria
        self.fields["version"] = _version_field(version)

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required to override a computed response.")
        return reason

    def clean(self):
        data = super().clean()
        if self.criteria == "recist" and data.get("response") == ResponseCode.MR:
            self.add_error("response", "Minor response does not exist in RECIST 1.1.")
        return data


class DeleteForm(forms.Form):
    """The confirmation of a deletion: the version seen and why (kept in the history)."""

    reason = forms.CharField(
        label="Reason for deleting",
        max_length=REASON_MAX_LENGTH,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text="Required; kept in the change history (at most 100 characters).",
        error_messages={"required": "Say why this record is deleted; the history keeps it."},
    )

    def __init__(self, *args, version: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"] = _version_field(version)
