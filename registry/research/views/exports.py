"""Cohort exports: streamed CSV tables, small XLSX workbooks, and background export jobs.

The filtered cohort or the whole registry of the visible sites, always
without direct identifiers, with dates as the chosen level writes them
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
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from registry.models import ExportJob, JobStatus
from registry.research import exports
from registry.research.views.pages import error_page, filter_context, parse, research_page

# --- Exports ---------------------------------------------------------------------


def _options(request: HttpRequest, params=None) -> exports.ExportOptions:
    return exports.export_options(request.user, request.GET, params or request.GET)


@require_GET
@research_page
def export_page(request: HttpRequest) -> HttpResponse:
    rf, errors = parse(request)
    context = filter_context(request, rf, errors)
    if errors:
        return error_page(request, "research/export.html", context)
    try:
        options = _options(request)
    except ValidationError as exc:
        context["errors"] = exc.message_dict
        return error_page(request, "research/export.html", context)
    scope = options.scope()
    tables = exports.tables_for(scope)
    counts = exports.table_counts(tables, scope)
    context.update(
        options=options,
        scope=scope,
        tables=[(t, counts[t.name], scope.file_name(t.name, ".csv")) for t in tables],
        n_patients=counts["patients"],
        n_courses=counts["courses"],
        coverages=exports.Coverage.choices,
        levels=exports.levels_for(request.user),
        formats=[(k, f.label) for k, f in exports.FORMATS.items()],
        option_query=urlencode({"coverage": options.coverage, "deid": options.level}),
        carry=[("coverage", options.coverage), ("deid", options.level)],
        jobs=ExportJob.objects.filter(created_by=request.user)[:10],
        direct_max=settings_direct_max(),
        retention_days=settings.LUTETIA_EXPORT_RETENTION_DAYS,
    )
    return render(request, "research/export.html", context)


def settings_direct_max() -> int:
    """Rows above which an XLSX is built by a background task instead of in the request."""
    return getattr(settings, "LUTETIA_EXPORT_DIRECT_MAX_ROWS", 200_000)


def _attachment(response: HttpResponse, name: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_GET
@research_page
def export_csv(request: HttpRequest, table: str) -> HttpResponse:
    """One table (or the dictionary) as CSV, streamed row by row whatever its size."""
    if table != "dictionary" and table not in exports.TABLES:
        raise Http404("No such table.")
    try:
        scope = _options(request).scope()
    except ValidationError as exc:
        return JsonResponse(exc.message_dict, status=400)
    if table == "dictionary":
        body = exports.stream_dictionary_csv(scope)
    else:
        body = exports.stream_table_csv(exports.tables_for(scope, [table])[0], scope)
    response = StreamingHttpResponse(body, content_type="text/csv; charset=utf-8")
    return _attachment(response, scope.file_name(table, ".csv"))


@require_GET
@research_page
def export_xlsx(request: HttpRequest) -> HttpResponse:
    """A small cohort's workbook, built in the request; large ones go to a task."""
    try:
        options = _options(request)
    except ValidationError as exc:
        return JsonResponse(exc.message_dict, status=400)
    scope = options.scope()
    tables = exports.tables_for(scope, options.tables)
    if exports.count_rows(tables, scope) > settings_direct_max():
        return JsonResponse(
            {"detail": "This export is large: start it as a background export instead."},
            status=400,
        )
    response = HttpResponse(
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    exports.write_xlsx(response, scope, tables)
    return _attachment(response, scope.file_name("export", ".xlsx"))


@require_POST
@research_page
def export_job_create(request: HttpRequest) -> HttpResponse:
    """Queue a background export (after commit); answer its status URL.

    The filter comes in the query string, the options in the form."""
    from registry.research import tasks as export_tasks

    try:
        options = exports.export_options(request.user, request.GET, _merged(request))
    except ValidationError as exc:
        return JsonResponse(exc.message_dict, status=400)
    with transaction.atomic():
        job = ExportJob.objects.create(created_by=request.user, params=options.job_params())
        export_tasks.start_export(job)
    return JsonResponse(_job_json(job), status=202)


def _merged(request: HttpRequest) -> QueryDict:
    """The form's options, falling back to the query string's."""
    merged = request.GET.copy()
    for key in request.POST:
        merged.setlist(key, request.POST.getlist(key))
    return merged


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
    return FileResponse(path.open("rb"), as_attachment=True, filename=_job_file_name(job, path))


def _job_file_name(job: ExportJob, path: Path) -> str:
    """`lutetia-salvage-r1-2026-12-01-export-12.zip`: the cohort, the day and the job."""
    try:
        options = exports.export_options(job.created_by, job.params.get("filter", {}), job.params)
    except ValidationError:
        return f"lutetia-export-{job.pk}{path.suffix}"
    return options.scope(created_at=job.created_at).file_name(f"export-{job.pk}", path.suffix)
