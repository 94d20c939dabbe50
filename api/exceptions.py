"""Every error as JSON in DRF's shape (CONTRACT.md, "Errors"); never a 500 for bad input.

`{"field": ["message", …]}` for validation (400), `{"detail": "…"}` otherwise.
Errors that reach the API from below DRF — the model's `full_clean` in the
fact services, a stale version, a protected delete, an oversized body — are
translated here, once, for every endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import Model, ProtectedError, RestrictedError
from rest_framework import exceptions, status
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

from api.parsers import RequestTooLarge
from registry.models.locking import RecordLocked
from registry.records.facts import StaleVersion


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The record changed since you read it: fetch it again and reapply."
    default_code = "precondition_failed"


class Locked(exceptions.APIException):
    """CONTRACT.md: a fact of a verified course answers 409 {"detail", "locked": true}."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The record belongs to a verified course and is locked."
    default_code = "locked"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the registry."
    default_code = "conflict"


def validation_detail(
    exc: DjangoValidationError,
    field_names: Mapping[str, str] | None = None,
    model: type[Model] | None = None,
) -> dict:
    """A Django ValidationError as DRF's `{"field": [...]}` with the API's field names.

    `field_names` maps model fields to API fields (`administered_gbq` ->
    `activity_gbq`). A violated check constraint of `model` is reported under
    the field its condition names first (so `lesion_long_mm_range` is an error
    of `long_mm`); other errors not tied to a field go under `non_field_errors`.
    """
    if not hasattr(exc, "error_dict"):
        return {api_settings.NON_FIELD_ERRORS_KEY: list(exc.messages)}
    names = dict(field_names or {})
    detail: dict[str, list[str]] = {}
    for field, errors in exc.message_dict.items():
        for message in errors:
            target = field
            if field == NON_FIELD_ERRORS:
                target = _constraint_field(model, message) or api_settings.NON_FIELD_ERRORS_KEY
            detail.setdefault(names.get(target, target), []).append(message)
    return detail


def _constraint_field(model: type[Model] | None, message: str) -> str | None:
    for constraint in getattr(getattr(model, "_meta", None), "constraints", ()):
        condition = getattr(constraint, "condition", None)
        if condition is None or constraint.get_violation_error_message() != message:
            continue
        return _first_field(condition)
    return None


def _first_field(condition) -> str | None:
    for child in getattr(condition, "children", ()):
        if isinstance(child, tuple):
            return child[0].split("__")[0]
        if (name := _first_field(child)) is not None:
            return name
    return None


def registry_exception_handler(exc, context):
    if isinstance(exc, RecordLocked):
        exc = Locked(exc.messages[0])
    elif isinstance(exc, DjangoValidationError):
        view = context.get("view")
        exc = exceptions.ValidationError(
            validation_detail(exc, getattr(view, "model_field_names", None))
        )
    elif isinstance(exc, StaleVersion):
        exc = PreconditionFailed(str(exc))
    elif isinstance(exc, ProtectedError | RestrictedError):
        exc = Conflict("Other records still refer to this one; remove them first.")
    elif isinstance(exc, IntegrityError):
        # Validation runs the same constraints first; this is a concurrent write.
        exc = Conflict("The change conflicts with a concurrent change; try again.")
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError("The request was malformed.")
    response = exception_handler(exc, context)
    if response is None:
        return None  # a genuine server error: Django logs it and answers 500
    if isinstance(response.data, list):
        response.data = {api_settings.NON_FIELD_ERRORS_KEY: response.data}
    if isinstance(exc, Locked):
        response.data = {"detail": response.data["detail"], "locked": True}
    return response
