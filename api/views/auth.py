"""Sign-in for scripts: username and password in, token out (CONTRACT.md, "Auth")."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from api.openapi import RegistryAutoSchema
from api.parsers import LimitedJSONParser
from api.schemas import TokenRequestSerializer, TokenSerializer
from api.throttling import AnonRateThrottle
from registry.records import tokens

EXPIRES_HEADER = "X-Token-Expires"
LOCKED = (
    "Too many wrong passwords for this account from your address; sign-in is locked "
    "for a while (ask an administrator to unlock it)."
)


def _locked_out(request) -> bool:
    """Whether django-axes refused this sign-in (it marks the request it was given)."""
    return bool(
        getattr(request, "axes_locked_out", False)
        or getattr(request._request, "axes_locked_out", False)
    )


class TokenView(ObtainAuthToken):
    """`{"username", "password"}` -> `{"token"}`; send it as `Authorization: Token …`.

    Each sign-in issues a new token (the previous one stops working), valid for
    LUTETIA_TOKEN_HOURS; its expiry is in the `X-Token-Expires` header. Throttled
    at the anonymous rate, and wrong passwords count towards the sign-in lockout.
    """

    throttle_classes = [AnonRateThrottle]
    parser_classes = [LimitedJSONParser]
    schema = RegistryAutoSchema()

    @extend_schema(
        request=TokenRequestSerializer,
        responses={200: TokenSerializer},
        parameters=[
            OpenApiParameter(
                EXPIRES_HEADER,
                OpenApiTypes.DATETIME,
                OpenApiParameter.HEADER,
                description="When the token stops working (ISO 8601).",
                response=[200],
            )
        ],
        auth=[],
        description="Exchange a username and password for a new API token.",
    )
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        if not serializer.is_valid():
            if _locked_out(request):
                return Response({"detail": LOCKED}, status=429)
            raise ValidationError(serializer.errors)
        token = tokens.issue_token(serializer.validated_data["user"])
        return Response(
            {"token": token.key}, headers={EXPIRES_HEADER: tokens.expires_at(token).isoformat()}
        )


class TokenRevokeView(APIView):
    """Revoke the caller's token: it stops working at once."""

    permission_classes = [IsAuthenticated]
    schema = RegistryAutoSchema()

    @extend_schema(request=None, responses={204: None}, description="Revoke your API token.")
    def post(self, request):
        tokens.revoke_tokens(request.user)
        return Response(status=204)
