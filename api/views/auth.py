"""Sign-in for scripts: username and password in, token out (CONTRACT.md, "Auth")."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.throttling import AnonRateThrottle

from api.openapi import RegistryAutoSchema
from api.parsers import LimitedJSONParser
from api.schemas import TokenRequestSerializer, TokenSerializer


class TokenView(ObtainAuthToken):
    """`{"username", "password"}` -> `{"token"}`; send it as `Authorization: Token …`.

    Throttled at the anonymous rate, which slows down password guessing.
    """

    throttle_classes = [AnonRateThrottle]
    parser_classes = [LimitedJSONParser]
    schema = RegistryAutoSchema()

    @extend_schema(
        request=TokenRequestSerializer,
        responses={200: TokenSerializer},
        auth=[],
        description="Exchange a username and password for an API token.",
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
