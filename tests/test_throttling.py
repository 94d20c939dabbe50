"""The API throttles count each request once, atomically, whatever the cache (api.throttling).

DRF's own throttles read a history, append and write it back, so concurrent
requests in different workers each read the same count: CI saw seven of six
wrong passwords through a three-worker gunicorn. tests/test_gunicorn_limits.py
proves the whole path through real workers; here the counter itself, on the
database and on a cache, including many threads at once on PostgreSQL.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import override_settings

from api import throttling
from registry.models import ThrottleWindow
from tests.services import need_postgres

DATABASE_CACHE = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "lutetia_cache",
    }
}
MEMORY_CACHE = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t"}
}


@pytest.mark.django_db
@pytest.mark.parametrize("caches_setting", [DATABASE_CACHE, MEMORY_CACHE], ids=["db", "memory"])
def test_a_window_counts_from_its_first_request_and_reopens_after_it(caches_setting):
    with override_settings(CACHES=caches_setting):
        caches["default"].clear()
        assert throttling.hit("k", 60, now=1000.0) == (1, 1000.0)
        assert throttling.hit("k", 60, now=1030.0) == (2, 1000.0)
        assert throttling.hit("other", 60, now=1030.0) == (1, 1030.0)
        assert throttling.hit("k", 60, now=1059.9) == (3, 1000.0)
        if caches_setting is DATABASE_CACHE:
            # The database keeps its own clock; the cache's windows expire in real time.
            assert throttling.hit("k", 60, now=1060.0) == (1, 1060.0)  # closed: a new window
            assert throttling.hit("k", 60, now=1061.0) == (2, 1060.0)


@pytest.mark.django_db
def test_the_database_counter_is_only_used_without_a_redis_or_memory_cache():
    with override_settings(CACHES=MEMORY_CACHE):
        throttling.hit("k", 60)
    assert not ThrottleWindow.objects.exists()
    with override_settings(CACHES=DATABASE_CACHE):
        throttling.hit("k", 60)
    assert ThrottleWindow.objects.get().count == 1


@pytest.mark.django_db
def test_windows_a_day_old_are_swept_when_a_new_one_opens():
    with override_settings(CACHES=DATABASE_CACHE):
        throttling.hit("old", 60, now=0.0)
        throttling.hit("new", 60, now=throttling.KEEP_SECONDS + 1.0)
    assert list(ThrottleWindow.objects.values_list("key", flat=True)) == ["new"]


def test_wait_is_the_time_left_in_the_window():
    throttle = throttling.AnonRateThrottle.__new__(throttling.AnonRateThrottle)
    throttle.duration, throttle.opened, throttle.now = 60, 1000.0, 1045.0
    assert throttle.wait() == 15.0


@pytest.mark.django_db(transaction=True)
def test_many_threads_at_once_on_postgresql_are_each_counted_once():
    need_postgres()

    def one(_):
        try:
            return throttling.hit("race", 60)[0]
        finally:
            connection.close()

    with override_settings(CACHES=DATABASE_CACHE), ThreadPoolExecutor(max_workers=8) as pool:
        counts = sorted(pool.map(one, range(40)))
    assert counts == list(range(1, 41))
    assert ThrottleWindow.objects.get(key="race").count == 40
