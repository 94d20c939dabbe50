"""Tests that need an outside service skip on a bare machine and fail in CI.

`.ci/run` sets LUTETIA_REQUIRE_SERVICES=1, which turns every such skip into a
failure, so CI always runs them.
"""

from __future__ import annotations

import os
import shutil
import socket
from functools import cache

import pytest
from django.db import connection

CHROMIUM = "/usr/bin/chromium"


def required() -> bool:
    return os.environ.get("LUTETIA_REQUIRE_SERVICES", "") not in ("", "0")


def skip_or_fail(reason: str) -> None:
    if required():
        pytest.fail(f"{reason} (LUTETIA_REQUIRE_SERVICES is set, so this cannot be skipped)")
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@cache
def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def broker_url() -> str | None:
    return os.environ.get("LUTETIA_TEST_BROKER_URL")


def need_postgres() -> None:
    if connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL: set DATABASE_URL=postgres://… (as .ci/run does)")


def need_redis() -> str:
    url = broker_url()
    if not url:
        skip_or_fail("needs a Redis broker: set LUTETIA_TEST_BROKER_URL=redis://127.0.0.1:6379/15")
    from urllib.parse import urlparse

    parsed = urlparse(url)
    if not _port_open(parsed.hostname or "127.0.0.1", parsed.port or 6379):
        skip_or_fail(f"needs Redis at {url}, which does not answer")
    return url


def need_chromium() -> str:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        skip_or_fail("needs Debian Chromium: apt-get install chromium")
    return CHROMIUM
