"""Form rules that do not need a page: lesions, blood-count panel, override, error mapping."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from registry.clinical import ctcae
from registry.models import Course
from registry.records import event_forms, forms, lab_forms
from registry.records.figures import grade_bands, lab_figure
from tests import factories


def lesion(**data):
    form = forms.LesionForm(data={"lesion": "L1", "target": "on", **data})
    form.is_valid()
    return form


def test_target_lesion_needs_sizes_or_zero():
    assert "long_mm" in lesion().errors
    assert "short_mm" in lesion(long_mm="12").errors
    gone = lesion(long_mm="0")
    assert gone.is_valid() and gone.cleaned_data["short_mm"] == 0.0
    assert "short_mm" in lesion(long_mm="10", short_mm="11").errors
    assert "long_mm" in lesion(long_mm="-1", short_mm="0").errors
    assert lesion(long_mm="40", short_mm="30").is_valid()


def test_non_target_needs_status_unless_new():
    form = forms.LesionForm(data={"lesion": "N1"})
    assert not form.is_valid() and "status" in form.errors
    assert forms.LesionForm(data={"lesion": "N1", "new": "on"}).is_valid()
    ok = forms.LesionForm(data={"lesion": "N1", "status": "present", "long_mm": "9"})
    assert ok.is_valid() and ok.cleaned_data["long_mm"] is None


def test_unlabelled_row_is_ignored_unless_measured():
    assert forms.LesionForm(data={"target": "on"}).is_valid()
    assert "lesion" in forms.LesionForm(data={"target": "on", "long_mm": "3"}).errors


def test_panel_checks_every_value_at_once():
    form = lab_forms.BloodPanelForm(
        data={
            "drawn_on": "2005-01-01",
            "value_hemoglobin": "26",
            "unit_hemoglobin": "g/dL",
            "value_platelets": "6000",
            "unit_platelets": "10^9/L",
            "value_creatinine": "1.2",
            "unit_creatinine": "mg/dL",
        }
    )
    assert not form.is_valid()
    assert set(form.errors) == {"value_hemoglobin", "value_platelets"}


def test_panel_units_start_from_the_users_preference():
    form = lab_forms.BloodPanelForm(preferred_units={"hemoglobin": "mmol/L", "wbc": "bogus"})
    assert form["unit_hemoglobin"].initial == "mmol/L"
    assert form["unit_wbc"].initial == "10^9/L"


@pytest.mark.django_db
def test_override_form_refuses_mr_under_recist_and_blank_reason():
    course = factories.CourseFactory()
    form = forms.ResponseOverrideForm(
        data={"course": course.pk, "criteria": "recist", "response": "MR", "reason": " "},
        courses=Course.objects.filter(pk=course.pk),
    )
    assert not form.is_valid()
    assert set(form.errors) == {"response", "reason"}


def test_model_errors_land_on_fields_or_the_form():
    form = event_forms.ClinicalProgressionForm(data={"date": "2005-01-01"})
    form.is_valid()
    forms.add_model_errors(form, ValidationError({"date": ["bad"], "other": ["x"]}))
    assert form.errors["date"] == ["bad"] and form.non_field_errors() == ["x"]
    forms.add_model_errors(form, ValidationError("plain"))
    assert "plain" in form.non_field_errors()


@pytest.mark.parametrize(
    ("analyte", "unit", "sex"),
    [
        ("platelets", "10^9/L", "F"),
        ("wbc", "/mm3", "M"),
        ("hemoglobin", "mmol/L", "F"),
        ("hemoglobin", "g/L", "M"),
        ("creatinine", "mg/dL", "F"),
        ("alt", "U/L", None),
    ],
)
def test_chart_bands_agree_with_the_grading(analyte, unit, sex):
    """Each band's inside grades as the band says (the chart never contradicts a grade)."""
    bands = grade_bands(analyte, unit, sex)
    assert bands
    for band in bands:
        high = band.high if band.high != float("inf") else band.low * 2
        middle = (band.low + high) / 2
        assert ctcae.grade_lab(analyte, middle, unit, sex=sex) == band.grade


@pytest.mark.django_db
def test_lab_figure_marks_cycles_and_uses_the_clinicians_unit():
    lab = factories.LabFactory(analyte="hemoglobin", value=6.1, unit="mmol/L", canonical_value=9.83)
    cycle = factories.CycleFactory()
    figure = lab_figure("hemoglobin", [lab], [cycle], "F")
    values, markers = figure["data"][1], figure["data"][0]
    assert values["y"] == [pytest.approx(6.1, abs=0.01)]
    assert markers["x"] == [cycle.date.isoformat()]
    assert figure["layout"]["yaxis"]["title"]["text"] == "mmol/L"
    assert "grade 2" in values["text"][0]
