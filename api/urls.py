"""`/api/v1/`: the REST API (CONTRACT.md, "REST API")."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from api.views import auth, facts, imports, results, verification

# Flat routes: every fact has its own collection, filtered by `?patient=<id>`.
router = SimpleRouter()
router.register("sites", facts.SiteViewSet, basename="api-site")
router.register("patients", facts.PatientViewSet, basename="api-patient")
router.register("courses", facts.CourseViewSet, basename="api-course")
router.register("cycles", facts.CycleViewSet, basename="api-cycle")
router.register("labs", facts.LabViewSet, basename="api-lab")
router.register("scans", facts.ScanViewSet, basename="api-scan")
router.register(
    "clinical-progressions", facts.ClinicalProgressionViewSet, basename="api-clinical-progression"
)
router.register("adverse-events", facts.AdverseEventViewSet, basename="api-adverse-event")
router.register("prior-treatments", facts.PriorTreatmentViewSet, basename="api-prior-treatment")
router.register("custom-fields", facts.CustomFieldViewSet, basename="api-custom-field")
router.register(
    "response-overrides", facts.ResponseOverrideViewSet, basename="api-response-override"
)
router.register("imports", imports.ImportJobViewSet, basename="api-import")
router.register("queries", verification.DataQueryViewSet, basename="api-query")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file: no inline script for the CSP.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("auth/token/", auth.TokenView.as_view(), name="api-token"),
    path(
        "courses/<int:pk>/status/",
        verification.CourseStatusViewSet.as_view({"get": "retrieve", "post": "create"}),
        name="api-course-status",
    ),
    path("auth/token/revoke/", auth.TokenRevokeView.as_view(), name="api-token-revoke"),
    path("reports/cohort/", results.CohortReportView.as_view(), name="api-cohort-report"),
    path("analyses/survival/", results.SurvivalAnalysisView.as_view(), name="api-survival"),
    path("analyses/cox/", results.CoxView.as_view(), name="api-cox"),
    path(
        "analyses/cumulative-incidence/",
        results.CumulativeIncidenceView.as_view(),
        name="api-cumulative-incidence",
    ),
    *router.urls,
]
