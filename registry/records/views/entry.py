"""Data-entry pages: each fetches a patient the user may see, checks they may write,
validates the form and hands the write to a service (records.clinic / records.facts).
"""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, Min, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from registry.access import get_patient_for, may_write_clinical, visible_sites
from registry.models import Course, Criteria, Cycle, Patient, PatientIdentity, StaffProfile
from registry.models.base import ClinicalRecord
from registry.models.locking import RecordLocked
from registry.records import clinic, event_forms, forms, lab_forms, scan_selectors, selectors
from registry.records.facts import StaleVersion, save_fact


def _writable_patient(request: HttpRequest, pk: int) -> Patient:
    """404 for a patient the user may not see (first), 403 if they may not write."""
    patient = get_patient_for(request.user, pk=pk)
    if not may_write_clinical(request.user):
        raise PermissionDenied("Your role may not record clinical data.")
    return patient


def _courses(patient: Patient) -> QuerySet[Course]:
    """The patient's courses by start; courses without cycles yet (just added) last."""
    return (
        Course.objects.filter(patient=patient)
        .annotate(first_cycle=Min("cycles__date"))
        .order_by(F("first_cycle").asc(nulls_last=True), "pk")
    )


def _done(request: HttpRequest, patient: Patient, message: str, anchor: str = "") -> HttpResponse:
    messages.success(request, message)
    url = reverse("patient_detail", args=[patient.pk])
    return redirect(f"{url}#{anchor}" if anchor else url)


def _render(request: HttpRequest, template: str, patient: Patient | None, **context):
    return render(request, template, {"patient": patient, **context})


# ------------------------------------------------------------------ patient


def patient_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    if pk is None:
        if not may_write_clinical(request.user):
            raise PermissionDenied("Your role may not record clinical data.")
        patient, identity = Patient(), PatientIdentity()
    else:
        patient = _writable_patient(request, pk)
        identity = PatientIdentity.objects.filter(patient=patient).first() or PatientIdentity()
    sites = visible_sites(request.user)
    data = request.POST if request.method == "POST" else None
    form = forms.PatientForm(data, instance=patient, sites=sites)
    identity_form = forms.IdentityForm(data, instance=identity, prefix="identity")
    if data is not None and form.is_valid() and identity_form.is_valid():
        try:
            clinic.save_patient(
                form.instance,
                identity_form.instance,
                by=request.user,
                expected_version=form.cleaned_data.get("version") if pk else None,
            )
        except StaleVersion as exc:
            form.add_error(None, f"{exc} Reload the page to see the changes.")
        except ValidationError as exc:
            forms.add_model_errors(form, exc)
        else:
            return _done(request, form.instance, "Patient saved.")
    return _render(
        request,
        "patients/patient_form.html",
        patient if pk else None,
        form=form,
        identity_form=identity_form,
    )


# ------------------------------------------------------------------ treatment


def course_form(request: HttpRequest, pk: int) -> HttpResponse:
    patient = _writable_patient(request, pk)
    form = forms.CourseForm(request.POST or None, instance=Course(patient=patient))
    if request.method == "POST" and form.is_valid():
        try:
            save_fact(form.instance, by=request.user)
        except ValidationError as exc:
            forms.add_model_errors(form, exc)
        else:
            return _done(request, patient, "Course added. Record its first cycle next.", "courses")
    return _render(request, "patients/simple_form.html", patient, form=form, title="New course")


def _parse_date(value: str | None) -> date | None:
    """The date of the warnings panel; None for junk and for dates the models refuse."""
    try:
        parsed = date.fromisoformat(value) if value else None
    except ValueError:
        return None
    # The models refuse earlier dates, and the §7 look-back from one would overflow.
    return parsed if parsed is not None and parsed >= ClinicalRecord.earliest_date else None


def _parse_gbq(value: str | None) -> float | None:
    try:
        gbq = float(value) if value else None
    except ValueError:
        return None
    return gbq if gbq is not None and 0 < gbq <= 15 else None


def cycle_form(request: HttpRequest, pk: int) -> HttpResponse:
    patient = _writable_patient(request, pk)
    courses = _courses(patient)
    if not courses.exists():
        messages.info(request, "Add a course first; a cycle belongs to a course.")
        return redirect("course_new", pk=patient.pk)
    # 7.4 GBq is the usual activity per cycle (CLINICAL.md §1).
    initial = {"administered_gbq": 7.4}
    if request.GET.get("course"):
        initial["course"] = request.GET["course"]
    form = forms.CycleForm(request.POST or None, instance=Cycle(), courses=courses, initial=initial)
    check = None
    if request.method == "POST" and form.is_valid():
        try:
            clinic.record_cycle(form.instance, by=request.user)
        except ValidationError as exc:
            forms.add_model_errors(form, exc)
        else:
            return _done(request, patient, "Cycle recorded.", "courses")
    if form.is_bound:
        cycle_date = _parse_date(request.POST.get("date"))
        gbq = _parse_gbq(request.POST.get("administered_gbq"))
    else:
        cycle_date, gbq = timezone.localdate(), initial["administered_gbq"]
    if cycle_date is not None:
        check = clinic.check_cycle(patient, cycle_date=cycle_date, activity_gbq=gbq or 0.0)
    return _render(
        request,
        "patients/cycle_form.html",
        patient,
        form=form,
        check=check,
        cycle_activity=gbq,
    )


def cycle_check(request: HttpRequest, pk: int) -> HttpResponse:
    """The §7 warnings panel for a date and activity (the cycle form refreshes it)."""
    patient = _writable_patient(request, pk)
    cycle_date = _parse_date(request.GET.get("date"))
    gbq = _parse_gbq(request.GET.get("gbq"))
    # On the edit page: the cycle being corrected, looked up through this patient only.
    cycle_id = request.GET.get("cycle", "")
    editing = (
        Cycle.objects.filter(course__patient=patient, pk=int(cycle_id)).first()
        if cycle_id.isascii() and cycle_id.isdigit() and len(cycle_id) < 10
        else None
    )
    check = (
        clinic.check_cycle(
            patient, cycle_date=cycle_date, activity_gbq=gbq or 0.0, excluding=editing
        )
        if cycle_date
        else None
    )
    return render(request, "patients/_eligibility.html", {"check": check, "cycle_activity": gbq})


# ------------------------------------------------------------------ labs


def blood_panel_form(request: HttpRequest, pk: int) -> HttpResponse:
    patient = _writable_patient(request, pk)
    profile = StaffProfile.objects.filter(user=request.user).first()
    preferred = profile.preferred_units if profile else {}
    form = lab_forms.BloodPanelForm(
        request.POST or None, preferred_units=preferred, history=selectors.lab_history(patient)
    )
    if request.method == "POST" and form.is_valid():
        values = [clinic.PanelValue(a, v, u) for a, v, u in form.entered()]
        try:
            clinic.record_blood_panel(
                patient,
                drawn_on=form.cleaned_data["drawn_on"],
                values=values,
                by=request.user,
                not_remembered=form.implausible,
            )
        except clinic.PanelError as exc:
            form.add_panel_errors(exc.errors)
        except RecordLocked as exc:
            form.add_error(None, exc)
        else:
            return _done(request, patient, f"{len(values)} lab values recorded.", "labs")
    return _render(request, "patients/panel_form.html", patient, form=form)


# ------------------------------------------------------------------ imaging


def scan_form(request: HttpRequest, pk: int) -> HttpResponse:
    patient = _writable_patient(request, pk)
    # The scans are read once: for the baseline, the previous scan and the prefill.
    scans = scan_selectors.patient_scans(patient)
    baseline = scan_selectors.current_baseline_scan(patient, scans)
    previous = max(scans, key=lambda s: (s.date, s.pk), default=None)
    if request.method == "POST":
        form = forms.ScanForm(request.POST)
        formset = forms.LesionFormSet(request.POST, prefix="lesions")
    else:
        # No date by default: a scan is entered after it was read, rarely on its day.
        form = forms.ScanForm(initial={"modality": "CT"})
        formset = forms.LesionFormSet(
            initial=scan_selectors.scan_prefill(scans, baseline), prefix="lesions"
        )
    # Both validated (no short-circuit), so that every error shows in one round.
    valid = [form.is_valid(), formset.is_valid()] if request.method == "POST" else [False]
    if all(valid):
        lesions = formset.lesions()
        try:
            clinic.record_scan(
                patient,
                scanned_on=form.cleaned_data["scanned_on"],
                modality=form.cleaned_data["modality"],
                lesions=lesions,
                by=request.user,
                custom=form.custom_values(),
            )
        except RecordLocked as exc:
            form.add_error(None, exc)
        except clinic.ScanError as exc:
            forms.add_model_errors(form, ValidationError(exc.scan_errors), {"date": "scanned_on"})
            live = formset.lesion_forms()
            for index, errors in exc.lesion_errors.items():
                forms.add_model_errors(live[index], ValidationError(errors))
        else:
            return _done(request, patient, "Scan recorded.", "scans")
    return _render(
        request,
        "patients/scan_form.html",
        patient,
        form=form,
        formset=formset,
        previous=previous,
        baseline=baseline,
    )


# ------------------------------------------------------------------ events


def _simple_fact_form(request, pk, form_class, title, anchor, message) -> HttpResponse:
    patient = _writable_patient(request, pk)
    form = form_class(request.POST or None, instance=form_class._meta.model(patient=patient))
    if request.method == "POST" and form.is_valid():
        try:
            save_fact(form.instance, by=request.user)
        except ValidationError as exc:
            forms.add_model_errors(form, exc)
        else:
            return _done(request, patient, message, anchor)
    return _render(request, "patients/simple_form.html", patient, form=form, title=title)


def progression_form(request: HttpRequest, pk: int) -> HttpResponse:
    return _simple_fact_form(
        request,
        pk,
        event_forms.ClinicalProgressionForm,
        "Clinical progression",
        "events",
        "Clinical progression recorded.",
    )


def adverse_event_form(request: HttpRequest, pk: int) -> HttpResponse:
    return _simple_fact_form(
        request,
        pk,
        event_forms.AdverseEventForm,
        "Adverse event",
        "events",
        "Adverse event recorded.",
    )


def prior_treatment_form(request: HttpRequest, pk: int) -> HttpResponse:
    return _simple_fact_form(
        request,
        pk,
        event_forms.PriorTreatmentForm,
        "Prior treatment",
        "prior",
        "Prior treatment recorded.",
    )


def override_form(request: HttpRequest, pk: int) -> HttpResponse:
    patient = _writable_patient(request, pk)
    courses = _courses(patient)
    if not courses.exists():
        messages.info(request, "There is no course whose response could be overridden.")
        return redirect("patient_detail", pk=patient.pk)
    initial = {
        "course": request.GET.get("course") or courses.last().pk,
        "criteria": request.GET.get("criteria") or Criteria.SWOG,
    }
    form = forms.ResponseOverrideForm(request.POST or None, courses=courses, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            clinic.set_response_override(
                form.cleaned_data["course"],
                criteria=form.cleaned_data["criteria"],
                response=form.cleaned_data["response"],
                reason=form.cleaned_data["reason"],
                by=request.user,
            )
        except ValidationError as exc:
            forms.add_model_errors(form, exc)
        else:
            return _done(request, patient, "Best response overridden.", "courses")
    return _render(
        request,
        "patients/simple_form.html",
        patient,
        form=form,
        title="Override the best response",
        intro="The computed response stays visible beside the override; "
        "reports use the override, marked as overridden.",
    )
