"""Sign-in lockout: django-axes in front of Django's own password check."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.conf import settings


class LockoutBackend(AxesStandaloneBackend):
    """Refuse a locked-out username and address; record every failure.

    Every sign-in a person can reach passes its request (the sign-in page, the
    admin's, the API token endpoint), and is counted. A call with no request
    (Django's test client, a management command, a Python shell) is no guess
    from outside, so it is left to the next backend instead of being refused.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_address(request) -> str:
    """The address a sign-in came from, as DRF's throttles see it.

    With NUM_PROXIES = 0, REMOTE_ADDR: anything in X-Forwarded-For was written
    by the client and is ignored. Behind N trusted proxies, the address the
    N-th proxy from us appended (`X-Forwarded-For`'s N-th entry from the right).
    """
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if not proxies or not forwarded:
        return remote
    addresses = [a.strip() for a in forwarded.split(",") if a.strip()]
    return addresses[-min(proxies, len(addresses))] if addresses else remote
