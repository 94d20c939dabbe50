"""A token that moves whenever the registry's data does: what research caches key on.

The research pages and the API's cohort analyses read a whole cohort; at 30,000
patients that is seconds of work for the same answer until something changes.
They are cached under this token (`registry.research.memo`), so a token that
moves on every change is the only invalidation there is:

- every ORM save or delete of a clinical record, a site, a staff profile or a
  custom field's definition moves it (signals, `connect_signals`);
- the writes that bypass the ORM's signals move it themselves: marking patients
  stale (every clinical write and every import, `schedule.mark_stale`) and
  storing derived rows (`recompute.store_outcomes`, the only writer of derived rows,
  which are therefore left without signals: a receiver would cost every cascade
  into them Django's fast delete).

It moves when the write commits (a rolled-back write changes nothing), in the
shared cache (Redis or the database table, so every worker sees the same one).
Without a cache it cannot be read, and callers compute afresh.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

logger = logging.getLogger(__name__)

KEY = "lutetia:data-version"
T = TypeVar("T")
_MISSING = object()


def data_version() -> str | None:
    """The current token; None if results are not kept, or the cache cannot be reached."""
    if settings.LUTETIA_RESULT_CACHE_SECONDS <= 0:
        return None
    try:
        token = cache.get(KEY)
        if token is None:
            cache.add(KEY, secrets.token_hex(8), timeout=None)
            token = cache.get(KEY)
        return token
    except Exception:  # the cache is down: every page still works, uncached
        logger.warning("Cache unreachable: research results are computed afresh", exc_info=True)
        return None


def result_key(kind: str, *parts: str) -> str:
    """A cache key for a kept result: `kind` and a digest of everything it depends on."""
    return f"lutetia:{kind}:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def kept(key: str, compute: Callable[[], T]) -> T:
    """`compute()`, kept under `key` for LUTETIA_RESULT_CACHE_SECONDS (0: not kept).

    The caller puts `data_version()` into `key`. An unreachable cache, or an entry
    that cannot be read back (written by other code), means computing afresh.
    """
    seconds = settings.LUTETIA_RESULT_CACHE_SECONDS
    if seconds <= 0:
        return compute()
    try:
        found = cache.get(key, _MISSING)
    except Exception:
        logger.warning("Result cache entry unreadable; computing afresh", exc_info=True)
        found = _MISSING
    if found is not _MISSING:
        return found
    answer = compute()
    try:
        cache.set(key, answer, seconds)
    except Exception:
        logger.warning("Result cache unreachable; answer not kept", exc_info=True)
    return answer


def data_changed() -> None:
    """The data changed (or will, when the current transaction commits).

    However many rows a transaction writes, the token moves once when it commits; a
    savepoint rolled back drops its registration, and the next write registers again.
    """
    conn = transaction.get_connection()
    if not any(entry[1] is _move for entry in conn.run_on_commit):
        transaction.on_commit(_move, robust=True)


def _move() -> None:
    try:
        cache.set(KEY, secrets.token_hex(8), timeout=None)
    except Exception:
        # Cached results may then outlive this change by LUTETIA_RESULT_CACHE_SECONDS.
        logger.error("Cache unreachable: the data version did not move", exc_info=True)


def _on_write(sender, **kwargs) -> None:
    data_changed()


def connect_signals() -> None:
    """Move the token on every ORM write of data a research result can show."""
    from django.apps import apps

    from registry.models import CustomField, Site, StaffProfile
    from registry.models.base import ClinicalRecord

    watched = {CustomField, Site, StaffProfile}
    for model in apps.get_app_config("registry").get_models():
        if issubclass(model, ClinicalRecord) or model in watched:
            post_save.connect(_on_write, sender=model, dispatch_uid=f"version-save-{model}")
            post_delete.connect(_on_write, sender=model, dispatch_uid=f"version-del-{model}")
