"""Reading pages: the patient list, the patient page and its recompute status."""

from __future__ import annotations

from datetime import date

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from registry.access import get_patient_for, may_see_identifiers, may_write_clinical, role_of
from registry.clinical import kidney
from registry.models import PatientState, Role
from registry.records import clinic, figures, selectors, verification

PAGE_SIZE = 50


@require_GET
def patient_list(request: HttpRequest) -> HttpResponse:
    # PostgreSQL refuses NUL characters even in a comparison: they cannot match anything.
    query = request.GET.get("q", "").replace("\x00", "")[:64]
    site_code = request.GET.get("site", "").replace("\x00", "")[:16]
    status = request.GET.get("status", "")
    if status not in selectors.STATUS_FILTERS:
        status = ""
    patients = selectors.patient_list(request.user, query=query, site_code=site_code, status=status)
    page = Paginator(patients.values_list("pk", flat=True), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "patients/list.html",
        {
            "page": page,
            "rows": selectors.patient_list_rows(list(page.object_list)),
            "query": query,
            "site_code": site_code,
            "status": status,
            "statuses": selectors.STATUS_FILTERS,
            "sites": selectors.sites_for_filter(request.user),
            "querystring": params.urlencode(),
            "show_identifiers": may_see_identifiers(request.user),
            "may_write": may_write_clinical(request.user),
        },
    )


@require_GET
def patient_detail(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk=pk)
    page = selectors.patient_page(patient, user=request.user)
    return render(
        request,
        "patients/detail.html",
        {
            "p": page,
            "patient": patient,
            "figures": figures.lab_figures(page.labs, page.all_cycles, patient.sex or None),
            "kidney": clinic.kidney_function(
                page.labs,
                sex=patient.sex,
                birth_date=page.birth_date_for_age,
                weight_kg=patient.weight_kg,
            ),
            "history": selectors.patient_history(patient, user=request.user),
            "age": _age(page.birth_date_for_age, patient.death_date),
            # Also gates free text (notes, reasons): names get typed into it.
            "show_identifiers": may_see_identifiers(request.user),
            "may_write": may_write_clinical(request.user),
            **_verification_context(request.user, patient),
        },
    )


def _verification_context(user, patient) -> dict:
    """What the status buttons and the queries section show to this user's role."""
    role = role_of(user)
    monitors = role in (Role.MONITOR, Role.ADMIN)
    return {
        "may_verify": monitors,
        "may_unlock": role == Role.ADMIN,
        "may_answer": role in (Role.CLINICIAN, Role.ADMIN),
        "queries": list(
            patient.queries.select_related("opened_by", "answered_by", "closed_by").order_by(
                "status", "-opened_at"
            )
        ),
        "query_facts": verification.fact_choices(patient) if monitors else [],
    }


def _age(birth_date: date | None, death_date: date | None) -> float | None:
    """Age today, or at death: shown to everyone (research gets ages, not birth dates)."""
    if birth_date is None:
        return None
    return kidney.age_years(birth_date, death_date or timezone.localdate())


@require_GET
def patient_status(request: HttpRequest, pk: int) -> JsonResponse:
    """Polled by the patient page while its results are being recomputed."""
    patient = get_patient_for(request.user, pk=pk)
    state = PatientState.objects.filter(patient=patient).first()
    return JsonResponse(
        {
            "stale": state is None or state.stale,
            "computed_at": state.computed_at.isoformat() if state and state.computed_at else None,
            "error": bool(state and state.last_error),
        }
    )
