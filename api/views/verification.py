"""Record status, locking and data queries through the API (`records.verification`).

- `GET/POST /api/v1/courses/{id}/status/`: a course's status; POST
  `{"status": "complete" | "incomplete" | "verified", "reason": "…"}`.
  Clinicians mark complete, monitors and admins verify, admins unlock (with a
  reason). A fact of a verified course answers writes with 409 `{"detail", "locked": true}`.
- `/api/v1/queries/`: list (`?patient=`, `?status=`), read, open (monitors and
  admins: `{"patient", "fact_kind", "fact_id", "text"}`), and the actions
  `answer` (`{"answer"}`, clinicians and admins), `reopen` (`{"text"}`) and
  `close` (monitors and admins).
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions as drf_exceptions
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from api.pagination import RegistryPagination
from api.views.base import RegistryAPIMixin
from registry.access import visible_patients
from registry.models import Course, DataQuery, FactKind, QueryStatus, RecordStatus, Role
from registry.records import verification

ANY_STAFF = (Role.CLINICIAN, Role.MONITOR, Role.ADMIN)


class CourseStatusSerializer(serializers.ModelSerializer):
    course = serializers.IntegerField(source="pk", read_only=True)
    status = serializers.ChoiceField(source="record_status", choices=RecordStatus.values)
    reason = serializers.CharField(write_only=True, required=False, allow_blank=True)
    status_changed_by = serializers.CharField(
        source="status_changed_by.username", read_only=True, default=None
    )

    class Meta:
        model = Course
        fields = ["course", "status", "reason", "status_changed_by", "status_changed_at", "version"]
        read_only_fields = ["status_changed_at", "version"]


class CourseStatusViewSet(RegistryAPIMixin, viewsets.GenericViewSet):
    """The status of a course the caller may see (another site's course is a 404)."""

    serializer_class = CourseStatusSerializer
    write_roles = ANY_STAFF

    def get_queryset(self):
        return Course.objects.filter(patient__in=visible_patients(self.request.user))

    @extend_schema(responses=CourseStatusSerializer)
    def retrieve(self, request, pk=None):
        return Response(self.get_serializer(get_object_or_404(self.get_queryset(), pk=pk)).data)

    @extend_schema(request=CourseStatusSerializer, responses=CourseStatusSerializer)
    def create(self, request, pk=None):
        course = get_object_or_404(self.get_queryset(), pk=pk)
        body = self.get_serializer(course, data=request.data)
        body.is_valid(raise_exception=True)
        course = verification.set_course_status(
            course,
            body.validated_data["record_status"],
            by=request.user,
            reason=body.validated_data.get("reason", ""),
        )
        return Response(self.get_serializer(course).data)


class DataQuerySerializer(serializers.ModelSerializer):
    fact_kind = serializers.ChoiceField(choices=FactKind.values)
    fact_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    opened_by = serializers.CharField(source="opened_by.username", read_only=True, default=None)
    answered_by = serializers.CharField(source="answered_by.username", read_only=True, default=None)
    closed_by = serializers.CharField(source="closed_by.username", read_only=True, default=None)

    class Meta:
        model = DataQuery
        fields = [
            "id", "patient", "course", "fact_kind", "fact_id", "subject", "text", "status",
            "answer", "opened_by", "opened_at", "answered_by", "answered_at", "closed_by",
            "closed_at", "version",
        ]  # fmt: skip
        read_only_fields = [
            "course", "subject", "status", "answer", "opened_at", "answered_at", "closed_at",
            "version",
        ]  # fmt: skip

    def validate_patient(self, patient):
        if not visible_patients(self.context["request"].user).filter(pk=patient.pk).exists():
            raise serializers.ValidationError("No such patient.")
        return patient


class AnswerSerializer(serializers.Serializer):
    answer = serializers.CharField(max_length=10_000)


class ReopenSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=10_000)


class DataQueryViewSet(
    RegistryAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = DataQuerySerializer
    write_roles = ANY_STAFF
    lookup_value_regex = r"[0-9]+"
    pagination_class = RegistryPagination

    def get_queryset(self):
        queries = DataQuery.objects.filter(patient__in=visible_patients(self.request.user))
        return queries.select_related("opened_by", "answered_by", "closed_by").order_by("id")

    @extend_schema(
        parameters=[
            OpenApiParameter("patient", int, description="Only this patient's queries."),
            OpenApiParameter("status", str, enum=QueryStatus.values),
        ]
    )
    def list(self, request, *args, **kwargs):
        params, errors = request.query_params, {}
        queries = self.get_queryset()
        patient = params.get("patient")
        if patient is not None:
            if not patient.isdigit() or len(patient) > 18:  # beyond 64 bits no id exists
                errors["patient"] = ["A patient id (a whole number)."]
            else:
                queries = queries.filter(patient_id=int(patient))
        status = params.get("status")
        if status is not None:
            if status not in QueryStatus.values:
                errors["status"] = [f"Must be one of: {', '.join(QueryStatus.values)}."]
            else:
                queries = queries.filter(status=status)
        if errors:
            raise drf_exceptions.ValidationError(errors)
        page = self.paginate_queryset(queries)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = verification.open_query(
            data["patient"],
            kind=data["fact_kind"],
            fact_id=data["fact_id"],
            text=data.get("text", ""),
            by=self.request.user,
        )

    @extend_schema(request=AnswerSerializer, responses=DataQuerySerializer)
    @action(detail=True, methods=["post"])
    def answer(self, request, pk=None):
        body = AnswerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        query = verification.answer_query(
            self.get_object(), text=body.validated_data["answer"], by=request.user
        )
        return Response(self.get_serializer(query).data)

    @extend_schema(request=ReopenSerializer, responses=DataQuerySerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        body = ReopenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        query = verification.reopen_query(
            self.get_object(), text=body.validated_data["text"], by=request.user
        )
        return Response(self.get_serializer(query).data)

    @extend_schema(request=None, responses=DataQuerySerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        query = verification.close_query(self.get_object(), by=request.user)
        return Response(self.get_serializer(query).data)
