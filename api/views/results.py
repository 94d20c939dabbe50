"""Computed results: the cohort report and the analyses (CONTRACT.md).

Thin: parse the filter, select the cohort once, call `registry.research`,
answer. A bad parameter is a 400 naming it (the service raises a
ValidationError). Numbers leave unrounded.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from api.etag import content_etag
from api.schemas import (
    CohortReportSerializer,
    CoxSerializer,
    CumulativeIncidenceSerializer,
    SurvivalSerializer,
)
from api.views.base import RegistryAPIMixin
from registry.clinical.survival import CONF_TYPES
from registry.collector import collection_paused
from registry.derive.outcomes import ENDPOINTS
from registry.models import Criteria, Phase, PrimarySite, WhoGrade
from registry.research.analyses import survival_analysis, survival_reads
from registry.research.cohort import Cohort
from registry.research.cox import COVARIATES, cox_analysis, parse_cox_params
from registry.research.filters import (
    COX_PARAMS,
    INCIDENCE_PARAMS,
    MAX_MONTHS,
    MAX_ROUND,
    MAX_TOXICITY_WINDOW_DAYS,
    STRATA,
    SURVIVAL_PARAMS,
    CohortFilter,
)
from registry.research.incidence import cumulative_incidence, incidence_reads
from registry.research.memo import memoised
from registry.research.report import cohort_report, cohort_report_reads

# The bounds CohortFilter.from_params enforces, so that what the schema calls valid is.
MONTHS_ABOVE_ZERO = {"type": "number", "minimum": 0.001, "maximum": MAX_MONTHS}


def comma_list(words: list[str] | None = None, item: str = "", *, empty: bool = True) -> dict:
    """A comma-separated list of `words` (or of items matching `item`), as a string schema.

    Empty means "not filtered" (the dashboard's form sends `?site=` for "all sites").
    """
    one = "(" + "|".join(words) + ")" if words else item
    listed = rf"\s*{one}\s*(,\s*{one}\s*)*"
    return {"type": "string", "pattern": rf"^({listed}|\s*)$" if empty else rf"^{listed}$"}


NUMBER = r"[0-9]+(\.[0-9]+)?"
COHORT_PARAMETERS = [
    OpenApiParameter("phase", enum=Phase.values, description="Default `salvage`."),
    OpenApiParameter(
        "round",
        {"type": "integer", "minimum": 1, "maximum": MAX_ROUND},
        description="1 (default): each patient's first course "
        "of the phase; 2: the second (re-retreatment), …",
    ),
    OpenApiParameter(
        "primary_site",
        comma_list(PrimarySite.values),
        description="One or more (comma-separated) of: " + ", ".join(PrimarySite.values),
    ),
    OpenApiParameter("site", description="One or more (comma-separated) site codes."),
    OpenApiParameter(
        "disease_control",
        OpenApiTypes.BOOL,
        description="true: only best response CR, PR, MR or SD under `criteria`; false: the rest.",
    ),
    OpenApiParameter("criteria", enum=Criteria.values, description="Default `swog`."),
    OpenApiParameter(
        "toxicity_window_days",
        {"type": "integer", "minimum": 0, "maximum": MAX_TOXICITY_WINDOW_DAYS},
        description="Days after the last cycle in which labs count (default the setting, 90). "
        "Another value grades the selected courses' labs on the fly.",
    ),
    OpenApiParameter("conf_type", enum=list(CONF_TYPES), description="CI type, default `log-log`."),
    OpenApiParameter(
        "who_grade",
        comma_list(WhoGrade.values),
        description="One or more (comma-separated) of: " + ", ".join(WhoGrade.values),
    ),
    OpenApiParameter(
        "ecog",
        comma_list([str(n) for n in range(5)]),
        description="ECOG at the start of the reported course, one or more of 0–4.",
    ),
    OpenApiParameter(
        "krenning_score",
        comma_list([str(n) for n in range(5)]),
        description="Krenning uptake score at the start of the reported course, 0–4.",
    ),
    OpenApiParameter(
        "liver_metastases",
        OpenApiTypes.BOOL,
        description="Liver metastases at the start of the reported course (true/false). "
        "Also `custom.CODE=value[,value…]` for a choice or yes/no custom field.",
    ),
    OpenApiParameter(
        "ttp_regular_cutoff_months",
        MONTHS_ABOVE_ZERO,
        description="Cut-off of TTP after regular therapy into short/long (default 36).",
    ),
]
STRATA_PARAMETER = OpenApiParameter(
    "strata",
    # Blank means "no strata", as an untouched form field sends it.
    {
        "type": "string",
        "pattern": r"^\s*(" + "|".join(STRATA) + r"|custom\.[a-z][a-z0-9_]{0,39})?\s*$",
    },
    description="Compare groups by this field (log-rank test); omitted: one group. "
    "One of " + ", ".join(STRATA) + ", or `custom.CODE` for a choice or yes/no custom "
    "field of patients or courses. A patient with no value is in the group `unknown`.",
)
TIMES_PARAMETER = OpenApiParameter(
    "times",
    comma_list(item=NUMBER),
    description="Comma-separated months, e.g. `6,12,24`: adds `at_times` rows to each group.",
)


def read_ahead(cohort: Cohort) -> Cohort:
    """The cohort, its reads that need no rows started on a second connection."""
    cohort.read_ahead()
    return cohort


def _answer(data: dict) -> Response:
    response = Response(data)
    response["ETag"] = content_etag(data)
    return response


class CohortReportView(RegistryAPIMixin, APIView):
    @extend_schema(
        parameters=COHORT_PARAMETERS,
        responses=CohortReportSerializer,
        description="Response, toxicity, time to progression, follow-up and activity of a "
        "cohort: one course per patient (phase and round), patients you may see.",
    )
    def get(self, request):
        cohort = CohortFilter.from_params(request.query_params)
        return _answer(
            memoised(
                request,
                "api-cohort-report",
                lambda: cohort_report(
                    read_ahead(Cohort(request.user, cohort, **cohort_report_reads(cohort)))
                ),
            )
        )


class SurvivalAnalysisView(RegistryAPIMixin, APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("endpoint", enum=list(ENDPOINTS), description="Default `ttp`."),
            STRATA_PARAMETER,
            TIMES_PARAMETER,
            OpenApiParameter(
                "rmst_tau",
                MONTHS_ABOVE_ZERO,
                description="Months: adds the restricted mean survival to tau and its SE.",
            ),
            *COHORT_PARAMETERS,
        ],
        responses=SurvivalSerializer,
        description="Kaplan–Meier estimates (R's survfit) per stratum, and the log-rank test.",
    )
    def get(self, request):
        cohort = CohortFilter.from_params(request.query_params, allowed=SURVIVAL_PARAMS)
        return _answer(
            memoised(
                request,
                "api-survival",
                lambda: survival_analysis(Cohort(request.user, cohort, **survival_reads(cohort))),
            )
        )


class CoxView(RegistryAPIMixin, APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "covariates",
                comma_list([*COVARIATES, r"custom\.[a-z][a-z0-9_]{0,39}"], empty=False),
                required=True,
                description="Comma-separated, of: "
                + ", ".join(COVARIATES)
                + ", and `custom.CODE` for a number, integer, boolean or choice custom field.",
            ),
            OpenApiParameter("endpoint", enum=list(ENDPOINTS), description="Default `ttp`."),
            OpenApiParameter("ties", enum=["efron", "breslow"], description="Default `efron`."),
            OpenApiParameter(
                "reference",
                description="Reference levels, e.g. `sex:F,primary_site:midgut` "
                "(default: the first level in sorted code order).",
            ),
            *COHORT_PARAMETERS,
        ],
        responses=CoxSerializer,
        description="Cox proportional hazards (R's coxph): coefficients, hazard ratios, "
        "likelihood-ratio, Wald and score tests, concordance.",
    )
    def get(self, request):
        model = parse_cox_params(request.query_params)
        cohort = CohortFilter.from_params(request.query_params, allowed=COX_PARAMS)
        with collection_paused():
            return _answer(cox_analysis(Cohort(request.user, cohort), **model))


class CumulativeIncidenceView(RegistryAPIMixin, APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("endpoint", enum=["ttp"], description="Progression (`ttp`)."),
            STRATA_PARAMETER,
            TIMES_PARAMETER,
            *COHORT_PARAMETERS,
        ],
        responses=CumulativeIncidenceSerializer,
        description="Cumulative incidence of progression with death without progression "
        "competing (Aalen–Johansen, R's survfit on a multi-state outcome).",
    )
    def get(self, request):
        params = request.query_params
        cohort = CohortFilter.from_params(params, allowed=INCIDENCE_PARAMS)
        if cohort.endpoint != "ttp":
            raise ValidationError({"endpoint": ["Only `ttp`: progression, death competing."]})
        with collection_paused():
            return _answer(
                cumulative_incidence(Cohort(request.user, cohort, **incidence_reads(cohort)))
            )
