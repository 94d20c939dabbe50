"""The clinician's forms: the friendly face of the model rules.

Field bounds repeat the database's named check constraints so that a bad
value is reported next to its field (a constraint failure would only say
which constraint was violated). Everything is still validated again by
`full_clean` in `records.facts.save_fact`.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from registry.clinical import vocabularies
from registry.models import (
    Course,
    Criteria,
    Cycle,
    Modality,
    NonTargetStatus,
    Patient,
    PatientIdentity,
    ResponseCode,
    Scan,
)
from registry.models.treatment import KARNOFSKY_VALUES
from registry.records.custom_forms import (
    CustomFieldsMixin,
    DateInput,
    SectionsMixin,
    null_boolean,
)


class SuggestingInput(forms.TextInput):
    """A text box with the coded vocabulary as suggestions (`<datalist>`).

    Research roles read these fields coded (clinical.vocabularies): a value from
    the list reaches them as typed, anything else as "other". The clinician may
    still type a term the list lacks; the help text says what research will see.
    """

    def __init__(self, suggestions: tuple[str, ...], attrs=None):
        super().__init__(attrs={"autocomplete": "off", **(attrs or {})})
        self.suggestions = suggestions

    def render(self, name, value, attrs=None, renderer=None):
        attrs = {**(attrs or {})}
        list_id = f"{attrs.get('id') or 'id_' + name}-suggestions"
        attrs["list"] = list_id
        box = super().render(name, value, attrs, renderer)
        options = format_html_join("", '<option value="{}">', ((s,) for s in self.suggestions))
        return format_html('{}<datalist id="{}">{}</datalist>', box, list_id, options)


CODED_HELP = "Choose from the list; anything else is shown to research staff as \u201cother\u201d."


def add_model_errors(form: forms.Form, error: ValidationError, field_map=None) -> None:
    """Put a model ValidationError onto the form's fields (unknown fields: on the form)."""
    field_map = field_map or {}
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, messages in error.message_dict.items():
        target = field_map.get(name, name)
        if target == NON_FIELD_ERRORS or target not in form.fields:
            target = None
        for message in messages:
            form.add_error(target, message)


def in_unit(unit: str) -> dict[str, str]:
    """Range messages that name the unit: "At most 15 GBq." rather than "less than 15"."""
    return {
        "min_value": f"At least %(limit_value)s {unit.replace('%', '%%')}.",
        "max_value": f"At most %(limit_value)s {unit.replace('%', '%%')}.",
    }


# ------------------------------------------------------------------ patient


class PatientForm(SectionsMixin, CustomFieldsMixin, forms.ModelForm):
    custom_level = "patient"
    sections = (("Tumour", ("who_grade", "functional_syndrome")),)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    ki67_percent = forms.FloatField(
        label="Ki-67 (%)", required=False, min_value=0, max_value=100, error_messages=in_unit("%")
    )
    weight_kg = forms.FloatField(
        label="Weight (kg)",
        required=False,
        min_value=0.1,
        max_value=500,
        error_messages=in_unit("kg"),
    )

    class Meta:
        model = Patient
        fields = [
            "study_id",
            "site",
            "sex",
            "primary_site",
            "diagnosis_date",
            "ki67_percent",
            "weight_kg",
            "last_follow_up",
            "death_date",
            "cause_of_death",
            "who_grade",
            "functional_syndrome",
        ]
        labels = {
            "study_id": "Study ID",
            "last_follow_up": "Last follow-up",
            "functional_syndrome": "Hormone syndrome",
        }
        widgets = {
            "diagnosis_date": DateInput,
            "last_follow_up": DateInput,
            "death_date": DateInput,
        }

    def __init__(self, *args, sites=None, **kwargs):
        super().__init__(*args, **kwargs)
        if sites is not None:
            self.fields["site"].queryset = sites
            if sites.count() == 1 and not self.instance.pk:
                self.fields["site"].initial = sites.first()
        if self.instance.pk:
            self.fields["version"].initial = self.instance.version


class IdentityForm(forms.ModelForm):
    class Meta:
        model = PatientIdentity
        fields = ["name", "hospital_number", "birth_date"]
        labels = {"hospital_number": "Hospital number", "birth_date": "Birth date"}
        widgets = {"birth_date": DateInput}


# ------------------------------------------------------------------ treatment


class CourseForm(SectionsMixin, CustomFieldsMixin, forms.ModelForm):
    """A course, with the patient's state at its start (performance status, uptake,
    metastases) and the centre's own course fields."""

    custom_level = "course"
    sections = (
        ("At the start of the course", ("ecog", "karnofsky", "krenning_score", "uptake_modality")),
        (
            "Metastases at the start",
            (
                "liver_metastases",
                "liver_load",
                "bone_metastases",
                "lymph_node_metastases",
                "peritoneal_metastases",
                "lung_metastases",
                "other_metastases",
            ),
        ),
    )
    intended_activity_gbq = forms.FloatField(
        label="Intended activity (GBq)",
        required=False,
        min_value=0.01,
        max_value=100,
        error_messages=in_unit("GBq"),
    )
    ecog = forms.TypedChoiceField(
        label="ECOG performance status",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "—"), *((g, str(g)) for g in range(5))],
    )
    karnofsky = forms.TypedChoiceField(
        label="Karnofsky (%)",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "—"), *((k, str(k)) for k in reversed(KARNOFSKY_VALUES))],
    )
    krenning_score = forms.TypedChoiceField(
        label="Uptake (Krenning score)",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "—"), *((g, str(g)) for g in range(5))],
        help_text="0 none … 4 higher than the spleen.",
    )
    liver_metastases = null_boolean("Liver")
    bone_metastases = null_boolean("Bone")
    lymph_node_metastases = null_boolean("Lymph nodes")
    peritoneal_metastases = null_boolean("Peritoneum")
    lung_metastases = null_boolean("Lung")
    other_metastases = null_boolean("Elsewhere")

    class Meta:
        model = Course
        fields = [
            "phase",
            "intended_activity_gbq",
            "stop_reason",
            "ecog",
            "karnofsky",
            "krenning_score",
            "uptake_modality",
            "liver_metastases",
            "liver_load",
            "bone_metastases",
            "lymph_node_metastases",
            "peritoneal_metastases",
            "lung_metastases",
            "other_metastases",
        ]
        labels = {
            "stop_reason": "Stop reason",
            "uptake_modality": "Uptake scored on",
            "liver_load": "Liver tumour load",
        }


class CourseChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Course) -> str:
        start = getattr(obj, "first_cycle", None)
        when = f"from {start:%Y-%m-%d}" if start else "no cycles yet"
        return f"{obj.get_phase_display()} course ({when})"


class CycleForm(CustomFieldsMixin, forms.ModelForm):
    custom_level = "cycle"
    course = CourseChoiceField(queryset=Course.objects.none())
    amino_acids = null_boolean("Kidney protection (amino acids)")
    administered_gbq = forms.FloatField(
        label="Administered activity (GBq)",
        min_value=0.01,
        max_value=15,
        error_messages=in_unit("GBq"),
    )

    class Meta:
        model = Cycle
        fields = [
            "course",
            "date",
            "administered_gbq",
            "amino_acids",
            "reduced_reason",
            "note",
            "warning_reason",
        ]
        labels = {
            "warning_reason": "Reason for giving the cycle despite the warnings",
            "amino_acids": "Kidney protection (amino acids)",
            "reduced_reason": "Reason for a reduced activity",
        }
        widgets = {
            "date": DateInput,
            "note": forms.Textarea(attrs={"rows": 2}),
            "warning_reason": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, courses: QuerySet[Course], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["course"].queryset = courses
        open_courses = [c for c in courses if not c.stop_reason]
        if len(open_courses) == 1 and not self.initial.get("course"):
            self.initial["course"] = open_courses[0].pk  # the one course still going on
        if not self.initial.get("date"):
            self.initial["date"] = timezone.localdate()

    def clean(self):
        data = super().clean()
        course, day = data.get("course"), data.get("date")
        if course and day:
            taken = Cycle.objects.filter(course=course, date=day).exclude(pk=self.instance.pk)
            if taken.exists():
                self.add_error("date", "A cycle on this date is already recorded for this course.")
        return data


# ------------------------------------------------------------------ imaging


class ScanForm(CustomFieldsMixin, forms.Form):
    custom_level = "scan"
    scanned_on = forms.DateField(label="Scan date", widget=DateInput)
    modality = forms.ChoiceField(choices=Modality.choices)

    def clean(self):
        # The model's own date checks (not in the future, not before 1900) run here
        # too, so that they show in the same round as the lesion table's errors.
        data = super().clean()
        if data.get("scanned_on") and data.get("modality"):
            try:
                Scan(date=data["scanned_on"], modality=data["modality"]).clean()
            except ValidationError as exc:
                add_model_errors(self, exc, {"date": "scanned_on"})
        return data


class LesionForm(forms.Form):
    lesion = forms.CharField(label="Lesion", max_length=16, required=False)
    organ = forms.CharField(
        label="Organ",
        max_length=64,
        required=False,
        widget=SuggestingInput(vocabularies.ORGANS),
        help_text=CODED_HELP,
    )
    lymph_node = forms.BooleanField(label="Lymph node", required=False)
    target = forms.BooleanField(label="Target", required=False, initial=True)
    new = forms.BooleanField(label="New", required=False)
    long_mm = forms.FloatField(
        label="Longest (mm)",
        required=False,
        min_value=0,
        max_value=1000,
        error_messages=in_unit("mm"),
    )
    short_mm = forms.FloatField(
        label="Perpendicular (mm)",
        required=False,
        min_value=0,
        max_value=1000,
        error_messages=in_unit("mm"),
    )
    status = forms.ChoiceField(
        label="Non-target status",
        required=False,
        choices=[("", "—"), *NonTargetStatus.choices],
    )
    not_assessed = forms.BooleanField(
        label="Not assessed",
        required=False,
        help_text="Kept as a row without a size: the time point is not evaluable (NE).",
    )

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        long_mm, short_mm = data.get("long_mm"), data.get("short_mm")
        data["lesion"] = (data.get("lesion") or "").strip()
        if not data["lesion"]:
            # A row without a label is an unused row, unless something was measured.
            if long_mm is not None or short_mm is not None or data.get("status"):
                self.add_error("lesion", "Give the lesion a label.")
            return data
        if data.get("not_assessed"):
            # CLINICAL.md §2: a target without a size is not evaluated; a non-target
            # without a status still counts as present (it blocks CR, never causes PD).
            if long_mm is not None or short_mm is not None or data.get("status"):
                self.add_error(
                    "not_assessed", "A lesion not assessed has no size or status: clear them."
                )
            data["long_mm"] = data["short_mm"] = None
            data["status"] = ""
            return data
        if data.get("target"):
            if long_mm is None:
                self.add_error(
                    "long_mm",
                    "Enter the longest diameter (0 if the lesion has gone), "
                    "or tick “not assessed”.",
                )
            elif short_mm is None:
                if long_mm == 0:
                    data["short_mm"] = 0.0
                else:
                    self.add_error("short_mm", "Enter the perpendicular diameter.")
            elif short_mm > long_mm:
                self.add_error("short_mm", "The perpendicular diameter exceeds the longest one.")
            data["status"] = ""
        else:
            if not data.get("status") and not data.get("new"):
                self.add_error("status", "Choose the status of this non-target lesion.")
            data["long_mm"] = data["short_mm"] = None
        return data

    def as_lesion(self) -> dict:
        fields = ("lesion", "organ", "lymph_node", "target", "new", "long_mm", "short_mm", "status")
        return {name: self.cleaned_data.get(name) for name in fields}


class BaseLesionFormSet(forms.BaseFormSet):
    deletion_widget = forms.CheckboxInput

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = "Remove row"

    def clean(self):
        seen: set[str] = set()
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or self._should_delete_form(form):
                continue
            label = (form.cleaned_data.get("lesion") or "").strip()
            if not label:
                continue
            if label in seen:
                form.add_error("lesion", f"Lesion {label} is listed twice on this scan.")
            seen.add(label)

    def lesion_forms(self) -> list[LesionForm]:
        """The rows that become lesions: labelled and not removed (a lesion "not assessed"
        is kept, without a size)."""
        return [
            form
            for form in self.forms
            if form.cleaned_data.get("lesion") and not self._should_delete_form(form)
        ]

    def lesions(self) -> list[dict]:
        return [form.as_lesion() for form in self.lesion_forms()]


LesionFormSet = forms.formset_factory(
    LesionForm, formset=BaseLesionFormSet, extra=2, can_delete=True, max_num=60
)


class ResponseOverrideForm(forms.Form):
    course = CourseChoiceField(queryset=Course.objects.none())
    criteria = forms.ChoiceField(choices=Criteria.choices)
    response = forms.ChoiceField(label="Best response", choices=ResponseCode.choices)
    reason = forms.CharField(
        label="Reason for the override", widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, courses: QuerySet[Course], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["course"].queryset = courses

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError("A reason is required to override a computed response.")
        return reason

    def clean(self):
        data = super().clean()
        if data.get("criteria") == Criteria.RECIST and data.get("response") == ResponseCode.MR:
            self.add_error("response", "Minor response does not exist in RECIST 1.1.")
        return data
