"""The patient page's course status buttons and data queries (`records.verification`).

Every action is a POST from the patient page that returns to it with a
message; a role that may not do it gets a 403 and nothing changes.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from registry.access import get_patient_for
from registry.models import Course, DataQuery, RecordStatus
from registry.records import verification


def _back(request: HttpRequest, patient_pk: int, anchor: str) -> HttpResponse:
    return redirect(f"{reverse('patient_detail', args=[patient_pk])}#{anchor}")


def _refused(request: HttpRequest, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


@require_POST
def course_status(
    request: HttpRequest, pk: int, fact_id: int, kind: str = "course"
) -> HttpResponse:
    patient = get_patient_for(request.user, pk=pk)
    course = get_object_or_404(Course, pk=fact_id, patient=patient)
    status = request.POST.get("status", "")
    try:
        verification.set_course_status(
            course, status, by=request.user, reason=request.POST.get("reason", "")
        )
    except ValidationError as exc:
        _refused(request, exc)
    else:
        label = dict(RecordStatus.choices).get(status, status).lower()
        messages.success(request, f"The {verification.describe_course(course)} is now {label}.")
    return _back(request, patient.pk, f"course-{course.pk}")


@require_POST
def query_open(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request.user, pk=pk)
    kind, _, fact_id = request.POST.get("fact", "").partition(":")
    try:
        verification.open_query(
            patient, kind=kind, fact_id=fact_id, text=request.POST.get("text", ""), by=request.user
        )
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(request, "Query opened.")
    return _back(request, patient.pk, "queries")


def _query(request: HttpRequest, pk: int, query_id: int) -> DataQuery:
    patient = get_patient_for(request.user, pk=pk)
    return get_object_or_404(DataQuery, pk=query_id, patient=patient)


@require_POST
def query_answer(request: HttpRequest, pk: int, fact_id: int, kind: str = "query") -> HttpResponse:
    query = _query(request, pk, fact_id)
    try:
        verification.answer_query(query, text=request.POST.get("answer", ""), by=request.user)
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(request, "Answer saved.")
    return _back(request, query.patient_id, f"query-{query.pk}")


@require_POST
def query_close(request: HttpRequest, pk: int, fact_id: int, kind: str = "query") -> HttpResponse:
    query = _query(request, pk, fact_id)
    try:
        if request.POST.get("reopen"):
            verification.reopen_query(query, text=request.POST.get("text", ""), by=request.user)
        else:
            verification.close_query(query, by=request.user)
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(
            request, "Query reopened." if request.POST.get("reopen") else "Query closed."
        )
    return _back(request, query.patient_id, f"query-{query.pk}")
