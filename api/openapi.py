"""The OpenAPI schema documents every error answer too, so clients (and schemathesis) know them."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse

ERROR = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description='`{"field": ["message", …]}` for validation, `{"detail": "…"}` otherwise.',
)
COMMON = {
    "400": "Bad input: every problem named by its field or parameter.",
    "401": "Not signed in.",
    "403": "Your role may not do this.",
    "404": "No such record among those you may see.",
    "429": "Too many requests.",
}
BODY = {
    "413": "Request body over DATA_UPLOAD_MAX_MEMORY_SIZE.",
    "415": "Only application/json bodies.",
}
CONDITIONAL = {"412": "If-Match names a version that is not the current one."}


class RegistryAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        errors = dict(COMMON)
        if self.method in ("POST", "PUT", "PATCH"):
            errors |= BODY
        if self.method in ("PUT", "PATCH", "DELETE"):
            errors |= CONDITIONAL
        for code, text in errors.items():
            if code not in responses:
                response = self._get_response_for_code(ERROR.response, code)
                response["description"] = text
                responses[code] = response
        return responses
