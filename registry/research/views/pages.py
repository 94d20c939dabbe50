"""Research dashboards, the paper-style cohort report, drill-down lists and exports.

Thin views: parse THE cohort filter from the URL (so every page can be
bookmarked), call the services, render.  Research staff, clinicians and
admins may use them, always limited to the sites they may see and always
de-identified (study IDs only).
"""

from __future__ import annotations

import functools

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import (
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from registry.access import role_of, visible_sites
from registry.collector import collection_paused
from registry.models import AdverseEventCategory, Criteria, Phase, PrimarySite
from registry.research import figure_data, figures, model_figures
from registry.research.analyses import survival_analysis, survival_reads
from registry.research.cohort import Cohort, combined_reads
from registry.research.cox import covariates, cox_analysis, parse_cox_params
from registry.research.drill import describe_drill, drill_rows
from registry.research.exports.readme import describe_filter
from registry.research.exports.scope import ExportScope, lutetia_version
from registry.research.filters import (
    ENDPOINT_LABELS,
    CohortFilter,
    ResearchFilter,
    parse_filter,
    strata_choices,
)
from registry.research.incidence import cumulative_incidence, incidence_reads
from registry.research.km_svg import cohort_km_figure
from registry.research.memo import memoised
from registry.research.quality import cohort_findings
from registry.research.record_filters import filter_controls
from registry.research.report import (
    cohort_report,
    cohort_report_reads,
    paper_report,
    paper_report_reads,
)
from registry.research.views.tables import build_sections

EXPORT_PARAMS = frozenset(
    {
        "drill",
        "page",
        "tables",
        "format",
        "coverage",
        "deid",
        "progression_curve",
        "cox",
        "cox_ties",
        "cox_reference",
        "finding",
    }
)


def research_page(view):
    """Any signed-in member of staff (research, clinician, admin); strangers get a 403.
    The page is made with the garbage collector paused (`registry.collector`)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if role_of(request.user) is None:
            raise PermissionDenied("You have no role in the registry.")
        with collection_paused():
            return view(request, *args, **kwargs)

    return wrapped


def parse(request: HttpRequest) -> tuple[ResearchFilter, dict[str, list[str]]]:
    try:
        return parse_filter(request.GET, extra_allowed=EXPORT_PARAMS), {}
    except ValidationError as exc:
        return parse_filter({}), exc.message_dict


def filter_context(request: HttpRequest, rf: ResearchFilter, errors) -> dict:
    """What the shared filter form needs: the current values, the choices and the errors."""
    params = rf.as_params()
    return {
        "rf": rf,
        "errors": errors,
        "query": urlencode(params),
        "params": params,
        "choices": {
            "phase": Phase.choices,
            "criteria": [(Criteria.SWOG, "SWOG + MR"), (Criteria.RECIST, "RECIST 1.1")],
            "primary_site": PrimarySite.choices,
            "site": [(s.code, s.name or s.code) for s in visible_sites(request.user)],
            "conf_type": [(c, c) for c in ("log-log", "log", "plain")],
            "endpoint": list(ENDPOINT_LABELS.items()),
            "strata": list(strata_choices().items()),
        },
        "record_controls": (controls := filter_controls(rf.cohort)),
        "record_open": any(c["chosen"] for c in controls),
    }


def error_page(request, template: str, context: dict) -> HttpResponse:
    return render(request, template, context, status=400)


@require_GET
@research_page
def dashboard(request: HttpRequest) -> HttpResponse:
    rf, errors = parse(request)
    context = filter_context(request, rf, errors)
    if errors:
        return error_page(request, "research/dashboard.html", context)
    context.update(memoised(request, "dashboard", lambda: _dashboard(request, rf)))
    return render(request, "research/dashboard.html", context)


def dashboard_reads(request: HttpRequest, selection: CohortFilter) -> dict:
    """What the dashboard's panels read of each row (`Cohort`'s `related` and `columns`):
    at 30,000 patients a third of the whole rows' columns, none of their JSON. The Cox
    panel's covariates read the records whole."""
    if any(request.GET.getlist("cox")):
        return {}
    return combined_reads(
        survival_reads(selection),
        survival_reads(selection, endpoint="ttp"),  # the progression panel's 1 − KM
        incidence_reads(selection),
        cohort_report_reads(selection),
        figure_data.figure_reads(selection.criteria),
    )


def _dashboard(request: HttpRequest, rf: ResearchFilter) -> dict:
    """Everything the dashboard shows of its cohort (kept per data version, see memo)."""
    cohort = Cohort(request.user, rf, **dashboard_reads(request, rf.selected))
    # PostgreSQL summarises the platelets from the cohort's selection while the rows are
    # read and the other panels built (`ahead`). Not `read_ahead` too: beside the
    # platelets it made the page slower (3.08 → 3.18 s), and once the platelets started
    # first it was within the noise (1.32 against 1.36 s, alternating).
    platelets = figure_data.platelet_weeks_ahead(cohort)
    analysis = survival_analysis(cohort)
    labels = {"all": "All patients", **dict(PrimarySite.choices)}
    report = cohort_report(cohort)
    crit = cohort.criteria
    lanes, lanes_left_out = figure_data.swim_lanes(cohort)
    return dict(
        late_labels=AdverseEventCategory.choices,
        analysis=analysis,
        at_risk=figures.at_risk_table(analysis["groups"]),
        report=report,
        swimmer_left_out=lanes_left_out,
        figures={
            "km": figures.km_figure(analysis, labels),
            "waterfall": figures.waterfall_figure(figure_data.waterfall_bars(cohort), crit),
            "swimmer": figures.swimmer_figure(lanes),
            "toxicity": figures.toxicity_figure(report["toxicity"]),
            "platelets": figures.platelet_figure(platelets()),
        },
        progression=_progression_panel(request, cohort, labels),
        cox=_cox_panel(request, cohort),
    )


def _progression_panel(request: HttpRequest, cohort: Cohort, labels: dict) -> dict:
    """Progression over time: the cumulative incidence with death competing (default) or
    1 − KM of TTP, named on the page either way."""
    curve = request.GET.get("progression_curve")
    curve = curve if curve in model_figures.CURVES else "aj"
    if curve == "aj":
        figure = model_figures.incidence_figure(cumulative_incidence(cohort), labels)
    else:
        figure = model_figures.one_minus_km_figure(
            survival_analysis(cohort, endpoint="ttp"), labels
        )
    return {"curve": curve, "title": model_figures.CURVES[curve], "figure": figure,
            "choices": list(model_figures.CURVES.items())}  # fmt: skip


def _cox_panel(request: HttpRequest, cohort: Cohort) -> dict:
    """The Cox panel: the covariates to choose from and, once some are chosen, the
    multivariable model with each covariate alone beside it."""
    chosen = [c for c in request.GET.getlist("cox") if c]
    panel: dict = {
        "choices": [(c.name, c.label) for c in covariates().values()],
        "chosen": chosen,
        "ties": request.GET.get("cox_ties") or "efron",
    }
    if not chosen:
        return panel
    try:
        params = {"covariates": ",".join(chosen), "ties": panel["ties"],
                  "reference": request.GET.get("cox_reference", "")}  # fmt: skip
        model = cox_analysis(cohort, **parse_cox_params(params), univariable=True)
    except ValidationError as exc:
        panel["errors"] = exc.message_dict
        return panel
    alone = {t["term"]: t for fit in model["univariable"] for t in fit["terms"]}
    panel.update(
        model=model,
        rows=[(t, alone.get(t["term"])) for t in model["terms"]],
        figure=model_figures.forest_figure(model),
    )
    return panel


@require_GET
@research_page
def report(request: HttpRequest) -> HttpResponse:
    rf, errors = parse(request)
    context = filter_context(request, rf, errors)
    if errors:
        return error_page(request, "research/report.html", context)
    context.update(memoised(request, "report", lambda: _report(request, rf, context["query"])))
    context.update(
        # What the printed page says by itself (hidden on screen).
        definition=describe_filter(ExportScope(request.user, rf)),
        made_at=timezone.localtime(),
        version=lutetia_version(),
    )
    return render(request, "research/report.html", context)


@require_GET
@research_page
def patients(request: HttpRequest) -> HttpResponse:
    """The patients behind one number of the report: the cohort filter plus `drill`."""
    rf, errors = parse(request)
    drill = request.GET.get("drill", "")
    context = filter_context(request, rf, errors)
    context["drill"] = drill
    if not errors:
        try:
            rows = drill_rows(Cohort(request.user, rf), drill)
        except ValidationError as exc:
            errors = exc.message_dict
    if errors:
        context["errors"] = errors
        return error_page(request, "research/patients.html", context)
    page = Paginator(rows, 100).get_page(request.GET.get("page"))
    context.update(
        page=page, total=len(rows), criteria=rf.cohort.criteria, drill_words=describe_drill(drill)
    )
    return render(request, "research/patients.html", context)


@require_GET
@research_page
def quality(request: HttpRequest) -> HttpResponse:
    """The cohort's data-quality findings (CLINICAL.md §8), counted by kind, each row
    linked to its patient; `finding` narrows the list to one kind."""
    rf, errors = parse(request)
    context = filter_context(request, rf, errors)
    if errors:
        return error_page(request, "research/quality.html", context)
    chosen = request.GET.get("finding", "")
    counts, rows = cohort_findings(Cohort(request.user, rf), chosen)
    page = Paginator(rows, 100).get_page(request.GET.get("page"))
    context.update(counts=counts, page=page, total=len(rows), chosen=chosen)
    return render(request, "research/quality.html", context)


def _report(request: HttpRequest, rf: ResearchFilter, query: str) -> dict:
    """The report's tables and figure (kept per data version, see memo)."""
    cohort = Cohort(request.user, rf, **paper_report_reads(rf.selected))
    cohort.read_ahead()
    r = paper_report(cohort)
    return {"r": r, "sections": build_sections(r, query), "figure": cohort_km_figure(cohort)}
