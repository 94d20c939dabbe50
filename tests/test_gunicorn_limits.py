"""The throttle and the sign-in lockout hold across gunicorn worker processes.

Security review, finding 2: the throttle counted per process, so three workers
let three times the rate through. Here a real gunicorn with three workers serves
a fresh database (DEBUG off, production settings); the access log's process ids
show the requests were spread over more than one worker, and the counts still
stop at the limit. Once with the database cache (no Redis configured) and once
with Redis as the cache, when a Redis is there.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.services import free_port, need_redis

ROOT = Path(__file__).resolve().parents[1]
# On one xdist worker, so the migrated database (the module fixture) is built once.
pytestmark = pytest.mark.xdist_group("gunicorn")
BIN = Path(sys.executable).parent
PASSWORD = "Tardis-blue-42-long"
RATE = 6  # token requests a minute from one address


def _production_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "LUTETIA_TESTING"}}
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "PYTEST_XDIST_WORKER"):
        env.pop(name, None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "registry.settings",
            "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
            "DEBUG": "0",
            "SECRET_KEY": "multi-worker-test-key-" + "x" * 40,
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_COOKIES": "0",
            "STATIC_ROOT": str(tmp / "static"),
            "LUTETIA_THROTTLE_ANON": f"{RATE}/minute",
            "LUTETIA_LOCKOUT_FAILURES": "4",
        }
    )
    env.update(extra)
    return env


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [str(BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=180,
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Gunicorn:
    def __init__(self, env: dict[str, str], tmp: Path, workers: int = 3):
        self.port = free_port()
        self.log = tmp / "access.log"
        self.process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "registry.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--access-logfile",
                str(self.log),
                "--access-logformat",
                "%(p)s %(s)s %(U)s",
            ],
            cwd=ROOT,
            env={**env, "LUTETIA_WSGI": "1"},
            stdout=subprocess.DEVNULL,
            stderr=open(tmp / "gunicorn.err", "wb"),  # noqa: SIM115
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise AssertionError((tmp / "gunicorn.err").read_text())

    def post(self, path: str, body: bytes, content_type: str) -> int:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=body,
            headers={
                "Content-Type": content_type,
                "Connection": "close",
                "X-Forwarded-For": f"198.51.100.{time.monotonic_ns() % 250}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code

    def sign_in_page(self, password: str) -> int:
        """The browser's way: fetch the form (CSRF cookie and token), post it, see the answer."""
        import http.cookiejar
        import re

        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
        url = f"http://127.0.0.1:{self.port}/accounts/login/"
        form = opener.open(url, timeout=30).read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
        body = f"csrfmiddlewaretoken={token}&username=clin&password={password}".encode()
        try:
            with opener.open(urllib.request.Request(url, data=body), timeout=30) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code

    def pids(self) -> set[str]:
        time.sleep(0.5)  # the access log is written after the answer
        return {line.split()[0] for line in self.log.read_text().splitlines() if line}

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A migrated database with one clinician, and collected static files."""
    tmp = tmp_path_factory.mktemp("gunicorn")
    env = _production_env(tmp)
    _manage(env, "migrate", "--noinput")
    _manage(env, "collectstatic", "--noinput")
    _manage(
        env,
        "shell",
        "-c",
        (
            "from registry.models import Site; from registry.records.users import save_staff_user;"
            "Site.objects.create(code='ROT', name='Rotterdam');"
            f"save_staff_user('clin', role='clinician', site_codes=['ROT'], password='{PASSWORD}')"
        ),
    )
    return tmp


def _fresh_copy(prepared: Path, tmp_path: Path) -> Path:
    (tmp_path / "db.sqlite3").write_bytes((prepared / "db.sqlite3").read_bytes())
    (tmp_path / "static").symlink_to(prepared / "static")
    return tmp_path


def _in_parallel(server: Gunicorn, n: int, password: str) -> list[int]:
    body = f'{{"username": "clin", "password": "{password}"}}'.encode()
    with ThreadPoolExecutor(max_workers=6) as pool:
        return list(
            pool.map(
                lambda _: server.post("/api/v1/auth/token/", body, "application/json"), range(n)
            )
        )


@pytest.mark.parametrize("cache", ["database", "redis"])
def test_the_token_throttle_holds_across_workers(prepared, tmp_path, cache):
    extra = {"CACHE_URL": need_redis().rsplit("/", 1)[0] + "/14"} if cache == "redis" else {}
    if extra:
        subprocess.run(["redis-cli", "-u", extra["CACHE_URL"], "flushdb"], capture_output=True)
    tmp = _fresh_copy(prepared, tmp_path)
    server = Gunicorn(_production_env(tmp, LUTETIA_LOCKOUT_FAILURES="1000", **extra), tmp)
    try:
        answers = _in_parallel(server, 3 * RATE, "wrong")
        pids = server.pids()
    finally:
        server.stop()
    assert len(pids) > 1, "every request went to one worker; the test proves nothing"
    # Per-process counters would let up to 3 × RATE through; a shared one, RATE.
    assert answers.count(400) == RATE and answers.count(429) == 2 * RATE, answers


def test_the_lockout_holds_across_workers(prepared, tmp_path):
    tmp = _fresh_copy(prepared, tmp_path)
    server = Gunicorn(_production_env(tmp, LUTETIA_THROTTLE_ANON="1000/minute"), tmp)
    try:
        works = server.sign_in_page(PASSWORD)
        guesses = _in_parallel(server, 12, "wrong")
        right = _in_parallel(server, 4, PASSWORD)
        page = [server.sign_in_page(PASSWORD) for _ in range(3)]
        pids = server.pids()
    finally:
        server.stop()
    assert len(pids) > 1, "every request went to one worker; the test proves nothing"
    assert guesses.count(400) <= 4 and set(guesses) <= {400, 429}, guesses
    assert works == 302  # signed in: the page flow itself is fine
    assert right == [429] * 4
    assert page == [429] * 3  # the sign-in page refuses the right password too


def test_gunicorn_answers_a_chunked_body_with_411(prepared, tmp_path):
    """Through a real server, where `Transfer-Encoding: chunked` really arrives (finding 11)."""
    tmp = _fresh_copy(prepared, tmp_path)
    server = Gunicorn(_production_env(tmp), tmp, workers=1)
    try:
        body = b'{"format": "lutetia-cohort/1", "patients": []}'
        request = (
            b"POST /api/v1/imports/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n" + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
            s.sendall(request)
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
    finally:
        server.stop()
    assert answer.startswith(b"HTTP/1.1 411"), answer[:200]
