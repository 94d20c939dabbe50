"""List filters: the same names on every resource (`?patient=`, `?study_id=`, `?site=`, …).

Ids are whole numbers (a malformed one is a 400 naming the filter, an
out-of-range one finds nothing); dates filter with `date_after` /
`date_before` (inclusive) on each resource's clinical date.
"""

from __future__ import annotations

from django import forms
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from registry.models import (
    AdverseEvent,
    Analyte,
    ClinicalProgression,
    Course,
    Criteria,
    Cycle,
    LabResult,
    Modality,
    Patient,
    Phase,
    PrimarySite,
    PriorTreatment,
    ResponseOverride,
    Scan,
    Sex,
)


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(filters.NumberFilter):
    field_class = forms.IntegerField

    def filter(self, qs, value):
        # A foreign key's `_id` lookup does not guard against numbers beyond the
        # database's 64-bit integers (the query would fail): such an id finds nothing.
        if value is not None and not -(2**63) <= value < 2**63:
            return qs.none()
        return super().filter(qs, value)


class PresentDateField(forms.DateField):
    """An ISO date; present but empty (`?date_before=`) is a mistake, not "no filter"."""

    def to_python(self, value):
        if value == "":
            raise forms.ValidationError("An ISO date, YYYY-MM-DD.", code="invalid")
        return super().to_python(value)


@extend_schema_field(OpenApiTypes.DATE)
class PresentDateFilter(filters.DateFilter):
    field_class = PresentDateField


def date_range(field_name: str, what: str = "") -> dict[str, PresentDateFilter]:
    """`<prefix>_after` / `<prefix>_before` on `field_name`, inclusive ISO dates."""
    return {
        "after": PresentDateFilter(
            field_name=field_name, lookup_expr="gte", help_text=f"{what}On or after, ISO date."
        ),
        "before": PresentDateFilter(
            field_name=field_name, lookup_expr="lte", help_text=f"{what}On or before, ISO date."
        ),
    }


class PatientFilter(filters.FilterSet):
    study_id = filters.CharFilter(help_text="Exact study ID.")
    site = filters.CharFilter(field_name="site__code", help_text="Site code.")
    primary_site = filters.ChoiceFilter(choices=PrimarySite.choices)
    sex = filters.ChoiceFilter(choices=Sex.choices)
    phase = filters.ChoiceFilter(
        choices=Phase.choices,
        method="filter_phase",
        help_text="Patients with at least one course of this phase.",
    )
    diagnosis_date_after, diagnosis_date_before = date_range(
        "diagnosis_date", "Diagnosis "
    ).values()

    class Meta:
        model = Patient
        fields = ["study_id", "site", "primary_site", "sex", "phase"]

    def filter_phase(self, queryset, name, value):
        return queryset.filter(courses__phase=value).distinct()


class PatientFactFilter(filters.FilterSet):
    """Filters of every fact belonging to a patient (`patient_path` leads to it)."""

    patient_path = "patient"
    date_field = "date"

    @classmethod
    def get_filters(cls):
        declared = super().get_filters()
        path = cls.patient_path
        common = {
            "patient": IdFilter(field_name=f"{path}__id", help_text="Patient id."),
            "study_id": filters.CharFilter(field_name=f"{path}__study_id", help_text="Study ID."),
            "site": filters.CharFilter(field_name=f"{path}__site__code", help_text="Site code."),
            "primary_site": filters.ChoiceFilter(
                field_name=f"{path}__primary_site", choices=PrimarySite.choices
            ),
        }
        if cls.date_field:
            for end, date_filter in date_range(cls.date_field).items():
                common[f"date_{end}"] = date_filter
        return {**common, **declared}


class CourseFilter(PatientFactFilter):
    date_field = ""
    phase = filters.ChoiceFilter(choices=Phase.choices)

    class Meta:
        model = Course
        fields = ["phase"]


class CycleFilter(PatientFactFilter):
    patient_path = "course__patient"
    course = IdFilter(field_name="course_id", help_text="Course id.")
    phase = filters.ChoiceFilter(field_name="course__phase", choices=Phase.choices)

    class Meta:
        model = Cycle
        fields = ["course", "phase"]


class LabFilter(PatientFactFilter):
    analyte = filters.ChoiceFilter(choices=Analyte.choices)

    class Meta:
        model = LabResult
        fields = ["analyte"]


class ScanFilter(PatientFactFilter):
    modality = filters.ChoiceFilter(choices=Modality.choices)

    class Meta:
        model = Scan
        fields = ["modality"]


class ClinicalProgressionFilter(PatientFactFilter):
    class Meta:
        model = ClinicalProgression
        fields: list[str] = []


class AdverseEventFilter(PatientFactFilter):
    date_field = "onset"
    grade = IdFilter(field_name="grade", help_text="CTCAE grade 1–5.")

    class Meta:
        model = AdverseEvent
        fields = ["grade"]


class PriorTreatmentFilter(PatientFactFilter):
    date_field = "start"

    class Meta:
        model = PriorTreatment
        fields = ["type"]


class ResponseOverrideFilter(PatientFactFilter):
    patient_path = "course__patient"
    date_field = ""
    course = IdFilter(field_name="course_id", help_text="Course id.")
    criteria = filters.ChoiceFilter(choices=Criteria.choices)

    class Meta:
        model = ResponseOverride
        fields = ["course", "criteria"]
