"""DRF's anonymous and per-user rates, counted atomically across worker processes.

DRF's own throttles read a client's request history from the cache, append to it
and write it back: two workers serving the same client at the same moment both
read the same history and both let a request through, so concurrent guesses get
past the rate (seen through a real three-worker gunicorn, tests/test_gunicorn_limits.py).
Here the count is raised in one atomic step and the answer read from it:

- Redis (or Django's in-memory cache): `add` opens the window, `incr` counts, both
  atomic in the cache itself;
- the database cache: one UPDATE on a `ThrottleWindow` row, which the database
  serialises between processes.

The window is fixed and opened by a client's first request: at most `rate`
requests in any window, and `Retry-After` says when the current one closes.
"""

from __future__ import annotations

import time

from django.core.cache import cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.db import IntegrityError, connection, transaction
from rest_framework import throttling

from registry.models import ThrottleWindow

# Rows of windows older than this are deleted when new windows open (DRF's
# longest rate unit is a day).
KEEP_SECONDS = 24 * 3600


def hit(key: str, duration: float, now: float | None = None) -> tuple[int, float]:
    """Count one request for `key`; return the count in its window and when it opened."""
    now = time.time() if now is None else now
    if isinstance(caches["default"], DatabaseCache):
        return _hit_database(key, duration, now)
    return _hit_cache(key, duration, now)


def _hit_cache(key: str, duration: float, now: float) -> tuple[int, float]:
    timeout = max(1, int(duration))
    opened_key = f"{key}:opened"
    for _ in range(3):
        if cache.add(key, 1, timeout=timeout):
            cache.set(opened_key, now, timeout=timeout)
            return 1, now
        try:
            count = cache.incr(key)
        except ValueError:  # the window closed between add and incr: open a new one
            continue
        opened = cache.get(opened_key, now)
        if count == 1:  # incr re-created a key that expired: give it its lifetime back
            cache.touch(key, timeout)
        return count, opened
    return 1, now  # a cache that keeps losing the key: let the request through (fail open)


def _statements() -> tuple[str, str]:
    """The counter's UPDATE and SELECT: quoted names formatted in, values as parameters."""
    q = connection.ops.quote_name
    table, key, opened, count = (
        q(ThrottleWindow._meta.db_table),
        q("key"),
        q("opened_at"),
        q("count"),
    )
    # Every expression in SET sees the row as it was, in PostgreSQL and SQLite alike.
    update = (
        f"UPDATE {table} SET "
        f"{count} = CASE WHEN {opened} <= %s THEN 1 ELSE {count} + 1 END, "
        f"{opened} = CASE WHEN {opened} <= %s THEN %s ELSE {opened} END "
        f"WHERE {key} = %s"
    )
    return update, f"SELECT {count}, {opened} FROM {table} WHERE {key} = %s"


def _hit_database(key: str, duration: float, now: float) -> tuple[int, float]:
    update, select = _statements()
    cutoff = now - duration
    for _ in range(3):
        with transaction.atomic(), connection.cursor() as cursor:
            # The row stays locked until the read below has seen our own increment.
            cursor.execute(update, [cutoff, cutoff, now, key])
            if cursor.rowcount:
                cursor.execute(select, [key])
                count, opened = cursor.fetchone()
                return count, opened
        try:
            with transaction.atomic():
                ThrottleWindow.objects.create(key=key, opened_at=now, count=1)
        except IntegrityError:  # another process opened it first: count on it
            continue
        ThrottleWindow.objects.filter(opened_at__lt=now - KEEP_SECONDS).delete()
        return 1, now
    return 1, now  # three lost races in a row cannot happen for long: fail open, as above


class AtomicCount:
    """Replaces SimpleRateThrottle's read-append-write history with `hit`."""

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        self.count, self.opened = hit(self.key, self.duration, self.now)
        return self.count <= self.num_requests

    def wait(self):
        return max(0.0, self.opened + self.duration - self.now)


class AnonRateThrottle(AtomicCount, throttling.AnonRateThrottle):
    """Requests without a signed-in user, by client address (settings.NUM_PROXIES)."""


class UserRateThrottle(AtomicCount, throttling.UserRateThrottle):
    """Requests of a signed-in user, by user."""
