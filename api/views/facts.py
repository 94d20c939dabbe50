"""The clinical facts as REST resources (CONTRACT.md, "Patients and their outcomes")."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api import filters, record_serializers, serializers
from api.etag import content_etag
from api.pagination import RegistryPagination
from api.schemas import OutcomesSerializer
from api.views.base import FactViewSet, RegistryAPIMixin, VersionedViewSet
from registry.access import may_see_identifiers, visible_patients, visible_sites
from registry.derive.outcomes import patient_outcomes
from registry.models import (
    AdverseEvent,
    ClinicalProgression,
    Course,
    Criteria,
    CustomField,
    Cycle,
    LabResult,
    Patient,
    PriorTreatment,
    ResponseOverride,
    Role,
    Scan,
)

IF_MATCH = OpenApiParameter(
    "If-Match",
    location=OpenApiParameter.HEADER,
    required=False,
    description="The ETag the change is based on; a stale one answers 412 and changes nothing.",
)
WRITES = {
    method: extend_schema(parameters=[IF_MATCH])
    for method in ("update", "partial_update", "destroy")
}


def _describe(name: str, plural: str) -> dict:
    return {
        "list": extend_schema(description=f"The {plural} of the patients you may see."),
        "retrieve": extend_schema(description=f"One {name}; the ETag header is its version."),
        "create": extend_schema(description=f"Record a {name} (clinicians and admins)."),
        **WRITES,
    }


@extend_schema_view(
    **{**_describe("site", "sites"), "create": extend_schema(description="Add a site (admins).")}
)
class SiteViewSet(VersionedViewSet):
    """Treatment centres: everyone reads their own sites; only admins write.

    Deleting a site that still has patients is refused (409).
    """

    serializer_class = serializers.SiteSerializer
    write_roles = (Role.ADMIN,)
    filterset_fields = ["code"]
    ordering_fields = ["code", "name"]
    ordering = ["code"]

    def get_queryset(self):
        return visible_sites(self.request.user)


@extend_schema_view(**_describe("patient", "patients"))
class PatientViewSet(FactViewSet):
    """Patients; `name`, `hospital_number` and `birth_date` only for clinicians and admins.

    Research roles get the same resource without those keys (not even null).
    """

    queryset = Patient.objects.all()
    filterset_class = filters.PatientFilter
    ordering_fields = ["study_id", "diagnosis_date", "last_follow_up", "death_date", "id"]
    ordering = ["study_id"]

    def get_queryset(self):
        identified = may_see_identifiers(self.request.user)
        related = ["site", "identity"] if identified else ["site"]
        return visible_patients(self.request.user).select_related(*related)

    def get_serializer_class(self):
        user = getattr(self.request, "user", None) or AnonymousUser()
        if may_see_identifiers(user) or getattr(self, "swagger_fake_view", False):
            return serializers.PatientSerializer
        return serializers.PatientResearchSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "criteria",
                enum=Criteria.values,
                description="Progression criteria of `ttp` and `pfs` (default swog).",
            )
        ],
        responses=OutcomesSerializer,
        description="What the registry computed for this patient (CONTRACT.md); "
        "`stale` is true while a recomputation is pending.",
    )
    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def outcomes(self, request, pk=None):
        patient = self.get_object()
        criteria = request.query_params.get("criteria", Criteria.SWOG)
        if criteria not in Criteria.values:
            raise ValidationError({"criteria": [f"Must be one of {', '.join(Criteria.values)}."]})
        data = patient_outcomes(patient, criteria=criteria)
        response = Response(data)
        response["ETag"] = content_etag(data)
        return response


@extend_schema_view(**_describe("course", "courses"))
class CourseViewSet(FactViewSet):
    queryset = Course.objects.all()
    serializer_class = serializers.CourseSerializer
    filterset_class = filters.CourseFilter
    ordering_fields = ["id", "phase"]


@extend_schema_view(**_describe("cycle", "cycles"))
class CycleViewSet(FactViewSet):
    queryset = Cycle.objects.select_related("course")
    serializer_class = serializers.CycleSerializer
    filterset_class = filters.CycleFilter
    patient_path = "course__patient"
    ordering_fields = ["id", "date"]
    ordering = ["date", "id"]


@extend_schema_view(**_describe("lab result", "lab results"))
class LabViewSet(FactViewSet):
    queryset = LabResult.objects.all()
    serializer_class = serializers.LabSerializer
    filterset_class = filters.LabFilter
    ordering_fields = ["id", "date", "analyte"]
    ordering = ["date", "analyte", "id"]


@extend_schema_view(**_describe("scan (with its lesions)", "scans"))
class ScanViewSet(FactViewSet):
    queryset = Scan.objects.prefetch_related("lesions")
    serializer_class = serializers.ScanSerializer
    filterset_class = filters.ScanFilter
    ordering_fields = ["id", "date"]
    ordering = ["date", "id"]


@extend_schema_view(**_describe("clinical progression", "clinical progressions"))
class ClinicalProgressionViewSet(FactViewSet):
    queryset = ClinicalProgression.objects.all()
    serializer_class = serializers.ClinicalProgressionSerializer
    filterset_class = filters.ClinicalProgressionFilter
    ordering_fields = ["id", "date"]
    ordering = ["date", "id"]


@extend_schema_view(**_describe("adverse event", "adverse events"))
class AdverseEventViewSet(FactViewSet):
    queryset = AdverseEvent.objects.all()
    serializer_class = serializers.AdverseEventSerializer
    filterset_class = filters.AdverseEventFilter
    ordering_fields = ["id", "onset", "grade"]
    ordering = ["onset", "id"]


@extend_schema_view(**_describe("prior treatment", "prior treatments"))
class PriorTreatmentViewSet(FactViewSet):
    queryset = PriorTreatment.objects.all()
    serializer_class = record_serializers.PriorTreatmentSerializer
    filterset_class = filters.PriorTreatmentFilter
    ordering_fields = ["id", "start"]
    ordering = ["start", "id"]


@extend_schema_view(**_describe("response override", "response overrides"))
class ResponseOverrideViewSet(FactViewSet):
    """Overrides of computed best responses; `decided_by` is whoever saved it."""

    queryset = ResponseOverride.objects.select_related("course", "decided_by")
    serializer_class = serializers.ResponseOverrideSerializer
    filterset_class = filters.ResponseOverrideFilter
    patient_path = "course__patient"
    ordering_fields = ["id", "updated_at"]


@extend_schema_view(
    list=extend_schema(description="The custom-field definitions (retired ones too)."),
    retrieve=extend_schema(description="One custom-field definition."),
)
class CustomFieldViewSet(RegistryAPIMixin, viewsets.ReadOnlyModelViewSet):
    """A centre's own variables: what `custom: {…}` of patients, courses, cycles and scans
    may hold. Defined by admins (the admin site, or an import's `fields`); read here."""

    queryset = CustomField.objects.all()
    serializer_class = record_serializers.CustomFieldSerializer
    pagination_class = RegistryPagination
    lookup_value_regex = r"[^/]+"
    ordering = ["level", "position", "code"]
