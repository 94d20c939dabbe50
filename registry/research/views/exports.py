"""Cohort exports: streamed CSV tables, small XLSX workbooks, and background export jobs.

Always the filtered cohort of the visible sites, always de-identified
(registry.research.exports decides the columns).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from registry.models import ExportJob, JobStatus
from registry.research import exports
from registry.research.cohort import Cohort
from registry.research.views.pages import error_page, filter_context, parse, research_page

# --- Exports ---------------------------------------------------------------------


def _export_tables(request: HttpRequest) -> list[exports.Table]:
    names = [n for n in request.GET.getlist("tables") or request.POST.getlist("tables") if n]
    unknown = [n for n in names if n not in exports.TABLES]
    if unknown:
        raise ValidationError({"tables": [f"Unknown table {', '.join(unknown)[:80]}."]})
    return [exports.TABLES[n] for n in names] or list(exports.TABLES.values())


@require_GET
@research_page
def export_page(request: HttpRequest) -> HttpResponse:
    rf, errors = parse(request)
    context = filter_context(request, rf, errors)
    if errors:
        return error_page(request, "research/export.html", context)
    cohort = Cohort(request.user, rf)
    context.update(
        tables=exports.TABLES.values(),
        n_patients=cohort.queryset.count(),
        jobs=ExportJob.objects.filter(created_by=request.user)[:10],
        direct_max=settings_direct_max(),
        retention_days=settings.LUTETIA_EXPORT_RETENTION_DAYS,
    )
    return render(request, "research/export.html", context)


def settings_direct_max() -> int:
    """Rows above which an XLSX is built by a background task instead of in the request."""
    return getattr(settings, "LUTETIA_EXPORT_DIRECT_MAX_ROWS", 200_000)


def _cohort_or_400(request: HttpRequest):
    rf, errors = parse(request)
    if errors:
        return None, JsonResponse(errors, status=400)
    return Cohort(request.user, rf), None


@require_GET
@research_page
def export_csv(request: HttpRequest, table: str) -> HttpResponse:
    """One table as CSV, streamed row by row whatever its size."""
    if table == "dictionary":
        body = exports.stream_dictionary_csv()
    else:
        if table not in exports.TABLES:
            raise Http404("No such table.")
        cohort, error = _cohort_or_400(request)
        if error:
            return error
        body = exports.stream_table_csv(exports.TABLES[table], cohort)
    response = StreamingHttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="lutetia-{table}.csv"'
    return response


@require_GET
@research_page
def export_xlsx(request: HttpRequest) -> HttpResponse:
    """A small cohort's workbook, built in the request; large ones go to a task."""
    cohort, error = _cohort_or_400(request)
    if error:
        return error
    try:
        tables = _export_tables(request)
    except ValidationError as exc:
        return JsonResponse(exc.message_dict, status=400)
    if exports.count_rows(tables, cohort) > settings_direct_max():
        return JsonResponse(
            {"detail": "This export is large: start it as a background export instead."},
            status=400,
        )
    response = HttpResponse(
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    exports.write_xlsx(response, cohort, tables)
    response["Content-Disposition"] = 'attachment; filename="lutetia-cohort.xlsx"'
    return response


@require_POST
@research_page
def export_job_create(request: HttpRequest) -> HttpResponse:
    """Queue a background export of the filtered cohort (after commit); answer its status URL."""
    from registry.research import tasks as export_tasks

    rf, errors = parse(request)
    fmt = request.POST.get("format", "xlsx")
    if fmt not in ("xlsx", "csv"):
        errors = {**errors, "format": ["Must be xlsx or csv."]}
    try:
        tables = [t.name for t in _export_tables(request)]
    except ValidationError as exc:
        errors = {**errors, **exc.message_dict}
    if errors:
        return JsonResponse(errors, status=400)
    with transaction.atomic():
        job = ExportJob.objects.create(
            created_by=request.user,
            params={"filter": rf.as_params(), "format": fmt, "tables": tables},
        )
        export_tasks.start_export(job)
    return JsonResponse(_job_json(job), status=202)


def _job_for(request: HttpRequest, pk: int) -> ExportJob:
    try:
        return ExportJob.objects.get(pk=pk, created_by=request.user)
    except ExportJob.DoesNotExist as exc:
        raise Http404("No such export.") from exc


def _job_json(job: ExportJob) -> dict:
    done = job.status == JobStatus.DONE and not job.expired
    return {
        "id": job.pk,
        "status": job.status,
        "expired": job.expired,
        "progress": round(job.progress, 3),
        "error": job.error,
        "status_url": reverse("research_export_job", args=[job.pk]),
        "download_url": reverse("research_export_download", args=[job.pk]) if done else None,
    }


@require_GET
@research_page
def export_job_status(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(_job_json(_job_for(request, pk)))


@require_GET
@research_page
def export_job_download(request: HttpRequest, pk: int) -> FileResponse:
    job = _job_for(request, pk)
    if job.expired:
        days = settings.LUTETIA_EXPORT_RETENTION_DAYS
        return HttpResponse(
            f"This export's file was deleted {days} days after it was built: run it again.",
            status=410,
            content_type="text/plain; charset=utf-8",
        )
    path = Path(job.file_path)
    if job.status != JobStatus.DONE or not path.is_file():
        raise Http404("This export is not ready.")
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=f"lutetia-export-{pk}{path.suffix}"
    )
