"""`Authorization: Token …` with an expiry (registry.records.tokens)."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from registry.records import tokens


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, refusing a token older than LUTETIA_TOKEN_HOURS."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if tokens.is_expired(token):
            token.delete()
            raise exceptions.AuthenticationFailed(
                "Token expired; sign in again at /api/v1/auth/token/."
            )
        return user, token
