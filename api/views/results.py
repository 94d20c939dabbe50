"""Computed results: the cohort report and the survival analysis (CONTRACT.md).

Thin: parse the filter, call `registry.research`, answer. A bad
parameter is a 400 naming it (the service raises a ValidationError).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from api.etag import content_etag
from api.schemas import CohortReportSerializer, SurvivalSerializer
from api.views.base import RegistryAPIMixin
from registry.clinical.survival import CONF_TYPES
from registry.derive.outcomes import ENDPOINTS
from registry.models import Criteria, Phase, PrimarySite
from registry.research.analyses import survival_analysis
from registry.research.cohort import Cohort
from registry.research.filters import STRATA, CohortFilter
from registry.research.report import cohort_report

COHORT_PARAMETERS = [
    OpenApiParameter("phase", enum=Phase.values, description="Default `salvage`."),
    OpenApiParameter(
        "round",
        OpenApiTypes.INT,
        description="1 (default): each patient's first course "
        "of the phase; 2: the second (re-retreatment), …",
    ),
    OpenApiParameter(
        "primary_site",
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
        OpenApiTypes.INT,
        description="Days after the last cycle in which labs count (default the setting, 90). "
        "Another value grades the selected courses' labs on the fly.",
    ),
    OpenApiParameter("conf_type", enum=list(CONF_TYPES), description="CI type, default `log-log`."),
]


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
        return _answer(cohort_report(Cohort(request.user, cohort)))


class SurvivalAnalysisView(RegistryAPIMixin, APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("endpoint", enum=list(ENDPOINTS), description="Default `ttp`."),
            OpenApiParameter(
                "strata",
                enum=list(STRATA),
                description="Compare groups by this field (log-rank test); omitted: one group.",
            ),
            *COHORT_PARAMETERS,
        ],
        responses=SurvivalSerializer,
        description="Kaplan–Meier estimates (R's survfit) per stratum, and the log-rank test.",
    )
    def get(self, request):
        cohort = CohortFilter.from_params(request.query_params, analysis=True)
        return _answer(survival_analysis(Cohort(request.user, cohort)))
