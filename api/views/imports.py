"""Cohort imports: POST a `lutetia-cohort/1` document, poll the job (CONTRACT.md, "Import")."""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api.pagination import RegistryPagination
from api.schemas import ImportJobSerializer
from api.views.base import RegistryAPIMixin
from registry.access import sees_all_sites
from registry.interchange import scope, tasks
from registry.interchange.build import is_infinite, render_path, walk
from registry.models import ImportJob


@extend_schema_view(
    list=extend_schema(description="Your import jobs (every job for admins), newest first."),
    retrieve=extend_schema(description="Poll an import job: status, progress, errors, counts."),
)
class ImportJobViewSet(
    RegistryAPIMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ImportJobSerializer
    pagination_class = RegistryPagination
    # Any path segment reaches the view, so a malformed id is a JSON 404, not an HTML one.
    lookup_value_regex = r"[^/]+"
    filter_backends: list = []

    def get_queryset(self):
        jobs_ = ImportJob.objects.defer("document").order_by("-created_at", "-id")
        if sees_all_sites(self.request.user):
            return jobs_
        return jobs_.filter(created_by=self.request.user)

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={202: ImportJobSerializer},
        description="Import a `lutetia-cohort/1` document (the body) asynchronously, all or "
        "nothing; patients match on `study_id`. Clinicians import their own sites' patients "
        "only. Poll the job at the `Location` answered.",
        examples=[
            OpenApiExample(
                "One patient",
                value={
                    "format": "lutetia-cohort/1",
                    "patients": [{"study_id": "SAL-001", "site": "ROT", "primary_site": "midgut"}],
                },
                request_only=True,
            )
        ],
    )
    def create(self, request, *args, **kwargs):
        document = request.data
        if not isinstance(document, dict):
            raise ValidationError({"non_field_errors": ["The body must be a JSON object."]})
        infinite = next((path for path, v in walk(document) if is_infinite(v)), None)
        if infinite is not None:
            # `1e309` parses as infinity, which PostgreSQL's jsonb cannot store (a 500).
            raise ValidationError({render_path(infinite): ["This number is too large."]})
        errors = scope.scope_errors(request.user, document)
        if errors:
            raise ValidationError(errors)
        with transaction.atomic():
            job = tasks.start_import(document, by=request.user)
        job.refresh_from_db()  # in eager mode (no broker) the import has already run
        headers = {"Location": reverse("api-import-detail", args=[job.pk])}
        return Response(self.get_serializer(job).data, status=202, headers=headers)
