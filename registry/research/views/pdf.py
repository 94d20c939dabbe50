"""The cohort report as PDF, made on the server with WeasyPrint.

The same tables as the report page (`paper_report`, `build_sections`), the
Kaplan–Meier figure of TTP, PFS and OS as SVG (`km_svg`), and what a page
on paper must say by itself: the cohort definition, the date and time, who
made it and the Lutetia version. On-screen hints and links are left out.
WeasyPrint fetches nothing: the stylesheet is inline and every other URL is
refused, so a report can never make the server request a URL.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_GET

from registry.access import role_of
from registry.research.cohort import Cohort
from registry.research.exports.readme import describe_filter
from registry.research.exports.scope import ExportScope
from registry.research.km_svg import cohort_km_figure
from registry.research.report import paper_report
from registry.research.views.pages import parse, research_page
from registry.research.views.tables import build_sections


def _refuse(url: str, *args, **kwargs):
    raise ValueError(f"the PDF report loads nothing ({url[:60]})")


def report_html(request: HttpRequest, rf) -> str:
    cohort = Cohort(request.user, rf)
    r = paper_report(cohort)
    scope = ExportScope(request.user, rf)
    return render_to_string(
        "research/report_pdf.html",
        {
            "r": r,
            "rf": rf,
            "sections": build_sections(r, ""),
            "definition": describe_filter(scope),
            "figure": cohort_km_figure(cohort),
            "made_at": timezone.localtime(),
            "made_by": request.user.get_username(),
            "role": role_of(request.user),
            "version": scope.version,
        },
        request=request,
    )


@require_GET
@research_page
def report_pdf(request: HttpRequest) -> HttpResponse:
    try:  # imported here: Pango loads once, only where PDFs are made
        from weasyprint import HTML
    except OSError:  # the system library is missing, not the package
        return HttpResponse(
            "The PDF report needs Pango on the server: apt-get install libpango-1.0-0.",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    rf, errors = parse(request)
    if errors:
        return JsonResponse(errors, status=400)
    pdf = HTML(string=report_html(request, rf), url_fetcher=_refuse).write_pdf()
    scope = ExportScope(request.user, rf)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{scope.file_name("report", ".pdf")}"'
    return response
