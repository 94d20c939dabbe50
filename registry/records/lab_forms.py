"""The lab forms: a blood-count panel and the plausibility confirmation (CLINICAL.md §6).

A value outside the usual range, or a jump from the patient's previous value,
is reported next to its field with the likely intended unit and saved only
once the clinician ticks the confirmation; the analytes so confirmed are
never learnt as the user's preferred unit.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError

from registry.clinical import plausibility, units
from registry.models import Analyte
from registry.records.forms import DateInput

PANEL_ANALYTES: tuple[str, ...] = (
    "hemoglobin",
    "platelets",
    "wbc",
    "neutrophils",
    "lymphocytes",
    "creatinine",
    "bilirubin",
    "alt",
    "ast",
    "alp",
    # Tumour markers (CLINICAL.md §6): often drawn with the blood count.
    "chromogranin_a",
    "nse",
    "u_5hiaa",
)


LabHistory = list[tuple[dt.date, str, float]]  # (date, analyte, canonical value)
CONFIRM_LABEL = "The values flagged above are right: save them as entered"


def plausibility_warnings(
    analyte: str, value: float, unit: str, on: dt.date | None, history: LabHistory
) -> list[str]:
    """What CLINICAL.md §6 asks a clinician to confirm about one entered value."""
    warnings = []
    odd = plausibility.check_value(analyte, value, unit)
    if odd is not None:
        warnings.append(odd.message)
    if on is not None:
        canonical = units.to_canonical(analyte, value, unit)
        before = plausibility.previous_value(history, analyte, on)
        jump = plausibility.check_change(analyte, canonical, on, before)
        if jump is not None:
            warnings.append(jump.message)
    return warnings


class PlausibilityMixin:
    """An implausible value needs an explicit confirmation (CLINICAL.md §6).

    `check_plausible(analyte, value, unit, field)` adds the warnings as errors on
    `field` until `confirm_implausible` is ticked; `implausible` then holds the
    analytes that were confirmed, so that they never become a remembered unit.
    """

    def setup_plausibility(self, history: LabHistory | None) -> None:
        self.history = history or []
        self.implausible: set[str] = set()
        self.needs_confirmation = False
        # Hidden until a value needs it (then shown by `check_plausible`).
        self.fields["confirm_implausible"] = forms.BooleanField(
            label=CONFIRM_LABEL, required=False, widget=forms.HiddenInput
        )

    def check_plausible(self, analyte, value, unit, on, field) -> None:
        warnings = plausibility_warnings(analyte, value, unit, on, self.history)
        if not warnings:
            return
        self.implausible.add(analyte)
        if not self.cleaned_data.get("confirm_implausible"):
            self.needs_confirmation = True
            self.fields["confirm_implausible"].widget = forms.CheckboxInput()
            for message in warnings:
                self.add_error(field, f"{message} Tick the confirmation below to save it.")


class BloodPanelForm(PlausibilityMixin, forms.Form):
    """All analytes of one blood draw: a value and a unit per analyte."""

    drawn_on = forms.DateField(label="Date of the blood draw", widget=DateInput)

    def __init__(
        self,
        *args,
        preferred_units: dict | None = None,
        history: LabHistory | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.setup_plausibility(history)
        preferred = preferred_units or {}
        # No date by default: panels are often entered after the day they were drawn.
        for analyte in PANEL_ANALYTES:
            accepted = units.accepted_units(analyte)
            self.fields[f"value_{analyte}"] = forms.FloatField(
                label=Analyte(analyte).label, required=False, min_value=0
            )
            unit = preferred.get(analyte)
            self.fields[f"unit_{analyte}"] = forms.ChoiceField(
                label=f"{Analyte(analyte).label} unit",
                required=False,
                choices=[(u, u.replace("umol", "µmol").replace("ug/", "µg/")) for u in accepted],
                initial=unit if unit in accepted else accepted[0],
            )

    def rows(self) -> list[tuple[str, forms.BoundField, forms.BoundField]]:
        return [
            (analyte, self[f"value_{analyte}"], self[f"unit_{analyte}"])
            for analyte in PANEL_ANALYTES
        ]

    def clean(self):
        data = super().clean()
        for analyte in PANEL_ANALYTES:
            value, unit = data.get(f"value_{analyte}"), data.get(f"unit_{analyte}")
            if value is None:
                continue
            if not unit:
                self.add_error(f"unit_{analyte}", "Choose the unit of this value.")
                continue
            # The model checks this again; here so that every error shows at once.
            try:
                units.measure(analyte, value, unit)
            except units.UnitError as exc:
                self.add_error(f"unit_{analyte}", str(exc))
                continue
            except units.PlausibilityError as exc:
                self.add_error(f"value_{analyte}", str(exc))
                continue
            self.check_plausible(analyte, value, unit, data.get("drawn_on"), f"value_{analyte}")
        if not self.errors and not any(data.get(f"value_{a}") is not None for a in PANEL_ANALYTES):
            raise ValidationError("Enter at least one value.")
        return data

    def entered(self) -> list[tuple[str, float, str]]:
        return [
            (a, self.cleaned_data[f"value_{a}"], self.cleaned_data[f"unit_{a}"])
            for a in PANEL_ANALYTES
            if self.cleaned_data.get(f"value_{a}") is not None
        ]

    def add_panel_errors(self, errors: dict[str, dict[str, list[str]]]) -> None:
        for analyte, by_field in errors.items():
            target = {"value": f"value_{analyte}", "unit": f"unit_{analyte}", "date": "drawn_on"}
            for name, messages in by_field.items():
                for message in messages:
                    self.add_error(target.get(name, f"value_{analyte}"), message)
