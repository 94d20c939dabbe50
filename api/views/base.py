"""What every resource of the API shares: roles, visibility, ETags, safe parsing."""

from __future__ import annotations

from django.db import transaction
from rest_framework import viewsets
from rest_framework.response import Response

from api.etag import expected_version, with_etag
from api.openapi import RegistryAutoSchema
from api.pagination import RegistryPagination
from api.parsers import LimitedJSONParser
from api.permissions import RegistryRole
from registry.access import patient_rows_filter
from registry.records.facts import delete_fact


class RegistryAPIMixin:
    """Role-checked and JSON-only (bodies over the size limit are a 413)."""

    permission_classes = [RegistryRole]
    parser_classes = [LimitedJSONParser]
    schema = RegistryAutoSchema()


class VersionedViewSet(RegistryAPIMixin, viewsets.ModelViewSet):
    """A resource whose object responses carry an ETag; a stale `If-Match` is a 412.

    Creates and updates run in one transaction, so a nested part that fails
    (a scan's lesion) leaves nothing half-written.
    """

    pagination_class = RegistryPagination
    # Any path segment reaches the view, so a malformed id is a JSON 404, not an HTML one.
    lookup_value_regex = r"[^/]+"
    _expected_version: int | None = None

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "expected_version": self._expected_version}

    def _check_if_match(self, instance) -> int | None:
        return expected_version(self.request, instance, lambda: self.get_serializer(instance).data)

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        return with_etag(Response(self.get_serializer(instance).data), instance)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            instance = serializer.save()
        return with_etag(Response(serializer.data, status=201), instance)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        self._expected_version = self._check_if_match(instance)
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            instance = serializer.save()
        return with_etag(Response(serializer.data), instance)

    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        self.delete_instance(instance, self._check_if_match(instance))
        return Response(status=204)

    def delete_instance(self, instance, version: int | None) -> None:
        instance.delete()


class FactViewSet(VersionedViewSet):
    """A clinical fact of a patient: visibility from `patient_rows_filter`, writes audited.

    Another site's record is a 404. Saving goes through the serializer to
    `save_fact`; deleting through `delete_fact`, with the caller as the
    audited user and the `If-Match` version re-checked under a row lock.
    """

    patient_path = "patient"
    ordering = ["id"]

    def get_queryset(self):
        return self.queryset.filter(patient_rows_filter(self.request.user, self.patient_path))

    def delete_instance(self, instance, version: int | None) -> None:
        delete_fact(instance, by=self.request.user, expected_version=version)
