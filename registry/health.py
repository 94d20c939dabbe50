"""The checks behind `/health/` (registry.middleware.HealthCheckMiddleware).

Each answers "ok" or "unavailable"; the broker answers "in-process" when tasks
run eagerly (no CELERY_BROKER_URL, the embedded set-up). A check that fails
logs why, with the exception, for the operator.
"""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection

log = logging.getLogger(__name__)
GOOD = ("ok", "in-process")
TIMEOUT_SECONDS = 3


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _broker() -> str | None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "in-process"
    from kombu import Connection

    with Connection(settings.CELERY_BROKER_URL, connect_timeout=TIMEOUT_SECONDS) as broker:
        broker.ensure_connection(max_retries=1, timeout=TIMEOUT_SECONDS)
    return None


def _cache() -> None:
    key = f"lutetia-health-{uuid.uuid4().hex}"
    cache.set(key, 1, timeout=10)
    if cache.get(key) != 1:
        raise RuntimeError("the cache did not keep a value")
    cache.delete(key)


def run_checks() -> dict[str, str]:
    results = {}
    for name, check in (("database", _database), ("broker", _broker), ("cache", _cache)):
        try:
            results[name] = check() or "ok"
        except Exception:  # any failure is "unavailable"; the probe needs no more
            log.exception("health check %s failed", name)
            results[name] = "unavailable"
    return results
