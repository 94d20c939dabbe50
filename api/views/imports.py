"""Cohort imports: POST a `lutetia-cohort/1` or `/2` document and poll the job.

CONTRACT.md, "Import".
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.exceptions import ParseError, UnsupportedMediaType, ValidationError
from rest_framework.response import Response

from api.pagination import RegistryPagination
from api.schemas import ImportJobSerializer
from api.views.base import RegistryAPIMixin
from registry.access import sees_all_sites
from registry.interchange import scope, tasks, uploads
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
        description="Import a `lutetia-cohort/1` or `/2` document (the body) asynchronously, "
        "all or nothing; patients match on `study_id`. Clinicians import their own sites' patients "
        "only. Poll the job at the `Location` answered. A body over "
        "LUTETIA_IMPORT_INLINE_BYTES (2 MB) is stored unread and checked by the job: its "
        "mistakes appear in the job's `errors`, not as a 400.",
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
        length = _content_length(request)
        if length > settings.LUTETIA_IMPORT_INLINE_BYTES:
            return self._create_streamed(request, length)
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
        return self._accepted(job)

    def _create_streamed(self, request, length: int):
        """A large body goes to disk unread: the worker parses and checks it (finding 10)."""
        if request.content_type.split(";")[0].strip() != "application/json":
            raise UnsupportedMediaType(request.content_type)
        if errors := scope.scope_errors(request.user, {}):  # the role; sites wait for the job
            raise ValidationError(errors)
        try:
            path = uploads.save_upload(request._request, length)
        except uploads.UploadError as error:
            return Response({"detail": error.message}, status=error.status)
        with transaction.atomic():
            job = tasks.start_import(by=request.user, upload_path=str(path))
        return self._accepted(job)

    def _accepted(self, job):
        job.refresh_from_db()  # in eager mode (no broker) the import has already run
        headers = {"Location": reverse("api-import-detail", args=[job.pk])}
        return Response(self.get_serializer(job).data, status=202, headers=headers)


def _content_length(request) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        raise ParseError("Invalid Content-Length header.") from None
