"""Edit and delete pages for recorded facts.

Each page fetches a patient the user may see (404 otherwise), checks they may
write (403), and finds the fact *through that patient* — a fact id of another
patient under this patient's URL is a 404, never a peek at someone else's
record. Writes go through `records.facts` / `records.corrections` with the
version the page was opened at, so a concurrent change is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from registry.models import (
    AdverseEvent,
    ClinicalProgression,
    Course,
    Cycle,
    LabResult,
    Patient,
    PriorTreatment,
    ResponseOverride,
    Scan,
)
from registry.models.locking import RecordLocked, describe_course
from registry.records import clinic, corrections, forms, selectors
from registry.records import correction_forms as cforms
from registry.records.facts import StaleVersion, delete_fact, save_fact
from registry.records.views.entry import (
    _courses,
    _done,
    _parse_date,
    _parse_gbq,
    _render,
    _writable_patient,
)


@dataclass(frozen=True)
class Kind:
    """One kind of fact: how to find it under a patient, name it, edit and delete it."""

    slug: str  # URL names: f"{slug}_edit", f"{slug}_delete"
    noun: str
    anchor: str
    queryset: Callable[[Patient], QuerySet]
    describe: Callable[[Model], str]
    form: type | None = None
    delete: Callable[..., None] = delete_fact
    consequences: Callable[[Model], str] = lambda fact: ""
    # Extra keyword arguments of the form (a lab's patient history for §6).
    form_kwargs: Callable[[Patient, Model], dict] = lambda patient, fact: {}


def _course_start(course: Course) -> str:
    return describe_course(course, without=" without cycles")


def _course_consequences(course: Course) -> str:
    cycles, overrides = course.cycles.count(), course.overrides.count()
    parts = [f"{cycles} cycle{'s' if cycles != 1 else ''}"]
    if overrides:
        parts.append(f"{overrides} response override{'s' if overrides != 1 else ''}")
    return f"Its {' and '.join(parts)} are deleted with it."


def _scan_consequences(scan: Scan) -> str:
    n = scan.lesions.count()
    return f"Its {n} lesion measurement{'s' if n != 1 else ''} are deleted with it."


CRITERIA_SHORT = {"swog": "SWOG", "recist": "RECIST 1.1"}

COURSE = Kind(
    "course",
    "course",
    "courses",
    lambda p: Course.objects.filter(patient=p),
    _course_start,
    cforms.CourseEditForm,
    corrections.delete_course,
    _course_consequences,
)
CYCLE = Kind(
    "cycle",
    "cycle",
    "courses",
    lambda p: Cycle.objects.filter(course__patient=p).select_related("course"),
    lambda c: f"cycle {c.date:%Y-%m-%d}",
)
LAB = Kind(
    "lab",
    "lab value",
    "labs",
    lambda p: LabResult.objects.filter(patient=p),
    lambda lab: f"{lab.get_analyte_display()} value {lab.date:%Y-%m-%d}",
    cforms.LabResultForm,
    form_kwargs=lambda patient, lab: {"history": selectors.lab_history(patient, exclude=lab.pk)},
)
SCAN = Kind(
    "scan",
    "scan",
    "scans",
    lambda p: Scan.objects.filter(patient=p),
    lambda s: f"{s.modality} scan {s.date:%Y-%m-%d}",
    delete=corrections.delete_scan,
    consequences=_scan_consequences,
)
PROGRESSION = Kind(
    "progression",
    "clinical progression",
    "events",
    lambda p: ClinicalProgression.objects.filter(patient=p),
    lambda e: f"clinical progression {e.date:%Y-%m-%d}",
    cforms.ClinicalProgressionEditForm,
)
ADVERSE = Kind(
    "adverse",
    "adverse event",
    "events",
    lambda p: AdverseEvent.objects.filter(patient=p),
    lambda e: f"adverse event {e.term} {e.onset:%Y-%m-%d}",
    cforms.AdverseEventEditForm,
)
PRIOR = Kind(
    "prior",
    "prior treatment",
    "prior",
    lambda p: PriorTreatment.objects.filter(patient=p),
    lambda t: f"{t.get_type_display().lower()}" + (f" from {t.start:%Y-%m-%d}" if t.start else ""),
    cforms.PriorTreatmentEditForm,
)
OVERRIDE = Kind(
    "override",
    "response override",
    "courses",
    lambda p: ResponseOverride.objects.filter(course__patient=p).select_related("course"),
    lambda o: f"{CRITERIA_SHORT.get(o.criteria, o.criteria)} override",
)
KINDS = {k.slug: k for k in (COURSE, CYCLE, LAB, SCAN, PROGRESSION, ADVERSE, PRIOR, OVERRIDE)}


def _fact(request: HttpRequest, pk: int, fact_id: int, kind: Kind) -> tuple[Patient, Model]:
    patient = _writable_patient(request, pk)
    return patient, get_object_or_404(kind.queryset(patient), pk=fact_id)


def _posted(request: HttpRequest):
    return request.POST if request.method == "POST" else None


def _edit_context(patient: Patient, fact: Model, kind: Kind) -> dict:
    return {
        "title": f"Edit {kind.describe(fact)}",
        "submit": "Save changes",
        "delete_url": reverse(f"{kind.slug}_delete", args=[patient.pk, fact.pk]),
        "delete_label": f"Delete {kind.describe(fact)}",
    }


# ------------------------------------------------------------------ delete (every kind)


@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, pk: int, fact_id: int, kind: str) -> HttpResponse:
    """GET shows what will go and asks why; only a POST of that form deletes."""
    spec = KINDS[kind]
    patient, fact = _fact(request, pk, fact_id, spec)
    description = spec.describe(fact)
    form = cforms.DeleteForm(_posted(request), version=fact.version)
    if form.is_bound and form.is_valid():
        try:
            spec.delete(
                fact,
                by=request.user,
                expected_version=form.cleaned_data["version"],
                reason=form.cleaned_data["reason"],
            )
        except StaleVersion:
            form.add_error(None, cforms.STALE_MESSAGE)
        except RecordLocked as exc:
            form.add_error(None, exc)
        else:
            return _done(request, patient, f"Deleted {description}.", spec.anchor)
    return _render(
        request,
        "patients/confirm_delete.html",
        patient,
        form=form,
        description=description,
        consequences=spec.consequences(fact),
        edit_url=reverse(f"{spec.slug}_edit", args=[patient.pk, fact.pk]),
    )


# ------------------------------------------------------------------ single-row facts


@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, pk: int, fact_id: int, kind: str) -> HttpResponse:
    """Course, lab value, clinical progression, adverse event: one model form each."""
    spec = KINDS[kind]
    patient, fact = _fact(request, pk, fact_id, spec)
    context = _edit_context(patient, fact, spec)
    form = spec.form(
        _posted(request), instance=fact, version=fact.version, **spec.form_kwargs(patient, fact)
    )
    if form.is_bound and form.is_valid():
        try:
            save_fact(
                form.instance,
                by=request.user,
                expected_version=form.cleaned_data["version"],
                reason=form.cleaned_data["change_reason"],
            )
        except StaleVersion:
            form.add_error(None, cforms.STALE_MESSAGE)
        except ValidationError as exc:
            forms.add_model_errors(form, exc)
        else:
            return _done(request, patient, f"Saved the {spec.noun}.", spec.anchor)
    return _render(request, "patients/simple_form.html", patient, form=form, **context)


# ------------------------------------------------------------------ cycle


@require_http_methods(["GET", "POST"])
def cycle_edit(request: HttpRequest, pk: int, fact_id: int) -> HttpResponse:
    patient, cycle = _fact(request, pk, fact_id, CYCLE)
    context = _edit_context(patient, cycle, CYCLE)
    form = cforms.CycleEditForm(
        _posted(request), instance=cycle, courses=_courses(patient), version=cycle.version
    )
    if form.is_bound and form.is_valid():
        try:
            clinic.record_cycle(
                form.instance,
                by=request.user,
                expected_version=form.cleaned_data["version"],
                reason=form.cleaned_data["change_reason"],
            )
        except StaleVersion:
            form.add_error(None, cforms.STALE_MESSAGE)
        except ValidationError as exc:
            forms.add_model_errors(form, exc)
        else:
            return _done(request, patient, "Saved the cycle.", "courses")
    # The form has already changed `cycle` in memory; the checks need the stored row.
    stored = Cycle.objects.filter(pk=cycle.pk).first() or cycle
    if form.is_bound:
        cycle_date = _parse_date(request.POST.get("date"))
        gbq = _parse_gbq(request.POST.get("administered_gbq"))
    else:
        cycle_date, gbq = stored.date, stored.administered_gbq
    check = None
    if cycle_date is not None:
        check = clinic.check_cycle(
            patient, cycle_date=cycle_date, activity_gbq=gbq or 0.0, excluding=stored
        )
    return _render(
        request,
        "patients/cycle_form.html",
        patient,
        form=form,
        check=check,
        cycle_activity=gbq,
        check_query=f"cycle={cycle.pk}",
        **context,
    )


# ------------------------------------------------------------------ scan with lesions


@require_http_methods(["GET", "POST"])
def scan_edit(request: HttpRequest, pk: int, fact_id: int) -> HttpResponse:
    patient, scan = _fact(request, pk, fact_id, SCAN)
    context = _edit_context(patient, scan, SCAN)
    if request.method == "POST":
        form = cforms.ScanEditForm(
            request.POST, initial={"custom": scan.custom}, version=scan.version
        )
        formset = cforms.LesionEditFormSet(request.POST, prefix="lesions")
    else:
        form = cforms.ScanEditForm(
            initial={"scanned_on": scan.date, "modality": scan.modality, "custom": scan.custom},
            version=scan.version,
        )
        formset = cforms.LesionEditFormSet(
            initial=cforms.lesion_rows(scan.lesions.order_by("lesion")), prefix="lesions"
        )
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        try:
            corrections.update_scan(
                scan,
                scanned_on=form.cleaned_data["scanned_on"],
                modality=form.cleaned_data["modality"],
                lesions=formset.lesions(),
                by=request.user,
                expected_version=form.cleaned_data["version"],
                reason=form.cleaned_data["change_reason"],
                custom=form.custom_values(),
            )
        except StaleVersion:
            form.add_error(None, cforms.STALE_MESSAGE)
        except RecordLocked as exc:
            form.add_error(None, exc)
        except clinic.ScanError as exc:
            forms.add_model_errors(form, ValidationError(exc.scan_errors), {"date": "scanned_on"})
            live = formset.lesion_forms()
            for index, errors in exc.lesion_errors.items():
                forms.add_model_errors(live[index], ValidationError(errors))
        else:
            return _done(request, patient, "Saved the scan.", "scans")
    return _render(
        request,
        "patients/scan_form.html",
        patient,
        form=form,
        formset=formset,
        editing=True,
        **context,
    )


# ------------------------------------------------------------------ response override


@require_http_methods(["GET", "POST"])
def override_edit(request: HttpRequest, pk: int, fact_id: int) -> HttpResponse:
    """Replace an override's response and reason (removing it is the delete page)."""
    patient, override = _fact(request, pk, fact_id, OVERRIDE)
    context = _edit_context(patient, override, OVERRIDE)
    form = cforms.OverrideEditForm(
        _posted(request),
        initial={"response": override.response, "reason": override.reason},
        version=override.version,
        criteria=override.criteria,
    )
    if form.is_bound and form.is_valid():
        try:
            corrections.replace_override(
                override,
                response=form.cleaned_data["response"],
                reason=form.cleaned_data["reason"],
                by=request.user,
                expected_version=form.cleaned_data["version"],
            )
        except StaleVersion:
            form.add_error(None, cforms.STALE_MESSAGE)
        except ValidationError as exc:
            forms.add_model_errors(form, exc)
        else:
            return _done(request, patient, "Replaced the response override.", "courses")
    return _render(
        request,
        "patients/simple_form.html",
        patient,
        form=form,
        intro=f"Course: {_course_start(override.course)}. The computed response stays "
        "visible beside the override; removing the override brings the computed one back.",
        **context,
    )
