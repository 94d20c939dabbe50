"""API tokens: issued at sign-in, expiring, revoked when they should no longer work.

One token per user (DRF's `authtoken` model). Signing in at the token endpoint
issues a new key and the old one stops working; a token expires
`LUTETIA_TOKEN_HOURS` after it was issued; changing the password, signing out of
the browser or pressing "Revoke" on the account page deletes it.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import pre_save
from django.utils import timezone
from rest_framework.authtoken.models import Token


def lifetime() -> dt.timedelta:
    return dt.timedelta(hours=settings.LUTETIA_TOKEN_HOURS)


def expires_at(token: Token) -> dt.datetime:
    return token.created + lifetime()


def is_expired(token: Token, now: dt.datetime | None = None) -> bool:
    return (now or timezone.now()) >= expires_at(token)


def issue_token(user) -> Token:
    """A fresh token for `user`; any earlier one is revoked in the same transaction."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


def revoke_tokens(user) -> int:
    """Delete `user`'s token; the number deleted (0 or 1)."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return deleted


def current_token(user) -> Token | None:
    return Token.objects.filter(user=user).first()


def _revoke_on_password_change(sender, instance, **kwargs):
    if instance.pk is None or instance._password is None:
        # `_password` is set by set_password() and cleared once saved: no change.
        return
    revoke_tokens(instance)


def _revoke_on_sign_out(sender, request, user, **kwargs):
    if user is not None:
        revoke_tokens(user)


def connect_signals() -> None:
    pre_save.connect(
        _revoke_on_password_change, sender=get_user_model(), dispatch_uid="lutetia-token-pw"
    )
    user_logged_out.connect(_revoke_on_sign_out, dispatch_uid="lutetia-token-logout")
