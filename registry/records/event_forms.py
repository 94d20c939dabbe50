"""The clinician's forms for events: clinical progressions, adverse events (with the
late-toxicity details of `lutetia-cohort/2`) and prior treatments."""

from __future__ import annotations

from django import forms

from registry.clinical import vocabularies
from registry.models import AdverseEvent, ClinicalProgression, PriorTreatment
from registry.records.custom_forms import DashBlankMixin, DateInput, null_boolean
from registry.records.forms import CODED_HELP, SuggestingInput


class ClinicalProgressionForm(forms.ModelForm):
    class Meta:
        model = ClinicalProgression
        fields = ["date", "note"]
        widgets = {"date": DateInput, "note": forms.Textarea(attrs={"rows": 3})}


class AdverseEventForm(DashBlankMixin, forms.ModelForm):
    serious = null_boolean("Serious")
    grade = forms.TypedChoiceField(
        label="CTCAE grade", coerce=int, choices=[(g, str(g)) for g in range(1, 6)]
    )

    class Meta:
        model = AdverseEvent
        fields = [
            "term",
            "grade",
            "onset",
            "resolved",
            "category",
            "serious",
            "attribution",
            "note",
        ]
        labels = {
            "term": "CTCAE term",
            "category": "Late toxicity",
            "attribution": "Related to PRRT",
            "resolved": "Resolved on",
        }
        help_texts = {
            "term": CODED_HELP + " Describe anything else in the note.",
            "category": "MDS, AML, kidney failure …: what reports count as late toxicity.",
        }
        widgets = {
            "term": SuggestingInput(vocabularies.CTCAE_TERMS),
            "onset": DateInput,
            "resolved": DateInput,
            "note": forms.Textarea(attrs={"rows": 2}),
        }


class PriorTreatmentForm(DashBlankMixin, forms.ModelForm):
    class Meta:
        model = PriorTreatment
        fields = ["type", "start", "end", "note"]
        labels = {"type": "Treatment", "end": "End"}
        help_texts = {"start": "Leave empty if not known.", "end": "Empty while ongoing."}
        widgets = {
            "start": DateInput,
            "end": DateInput,
            "note": forms.Textarea(attrs={"rows": 2}),
        }
