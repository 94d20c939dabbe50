"""The README's "On PostgreSQL and Redis" block, run as written (issue 17).

The block is read from README.md, so a change there is what is tested. Only
what must differ on a shared test machine is replaced: the database name, the
Redis database number, the folder under /var/lib, the superuser's password, and
the port (through GUNICORN_BIND, which the block leaves to gunicorn.conf.py).
DEBUG is off, as the block leaves it. Then: the health check, the sign-in page,
the dashboard after a browser-style sign-in, the API with a token, and an
import that only the block's Celery worker can finish.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.services import _port_open, free_port, need_redis, skip_or_fail

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Readme-block-42-long"
pytestmark = pytest.mark.xdist_group("readme-deploy")


def readme_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### On PostgreSQL and Redis") :]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


class Browser:
    """Cookies kept by hand: the block's cookies are `Secure` (DEBUG off) and this is plain
    HTTP on 127.0.0.1, which browsers treat as secure but urllib's cookie jar does not."""

    def __init__(self, base: str):
        self.base, self.cookies = base, {}

    def request(self, path: str, data: dict | bytes | None = None, headers=None):
        body = urllib.parse.urlencode(data).encode() if isinstance(data, dict) else data
        request = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        if self.cookies:
            request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        opener = urllib.request.build_opener(_NoRedirect())
        try:
            answer = opener.open(request, timeout=30)
        except urllib.error.HTTPError as error:
            answer = error
        for header in answer.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return answer.status, answer.read().decode(errors="replace"), answer.headers


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _script(block: str, db: str, redis_url: str, state: Path) -> str:
    script = block.replace(
        "createdb -h 127.0.0.1 -U postgres lutetia", f"createdb -h 127.0.0.1 -U postgres {db}"
    )
    script = script.replace("5432/lutetia", f"5432/{db}")
    script = script.replace("redis://127.0.0.1:6379/0", redis_url)
    script = script.replace("/var/lib/lutetia", str(state))
    script = script.replace("DJANGO_SUPERUSER_PASSWORD=…", f"DJANGO_SUPERUSER_PASSWORD={PASSWORD}")
    assert db in script and redis_url in script and str(state) in script and PASSWORD in script
    return "set -e\n" + script


def test_the_readme_block_serves_pages_api_and_worker(tmp_path):
    redis = need_redis()
    if not (_port_open("127.0.0.1", 5432) and shutil.which("createdb")):
        skip_or_fail("needs PostgreSQL at 127.0.0.1:5432 and its client tools")
    db = f"lutetia_readme_{uuid.uuid4().hex[:8]}"
    redis_url = redis.rsplit("/", 1)[0] + "/11"
    subprocess.run(["redis-cli", "-u", redis_url, "flushdb"], capture_output=True)
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LUTETIA_", "PYTEST", "DJANGO_", "CELERY_", "DATABASE_", "DEBUG"))
        and k not in {"SECRET_KEY", "CACHE_URL", "MEDIA_ROOT", "STATIC_ROOT"}
    }
    env.update({"GUNICORN_BIND": f"127.0.0.1:{port}", "SECURE_COOKIES": "1"})
    log = tmp_path / "block.log"
    process = subprocess.Popen(
        ["bash", "-c", _script(readme_block(), db, redis_url, tmp_path / "state")],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not _answers(port):
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        _check_the_served_app(f"http://127.0.0.1:{port}", log)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-qc",
                f"DROP DATABASE IF EXISTS {db} WITH (FORCE)",
            ],
            capture_output=True,
        )


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _check_static_files(browser: Browser, page: str, body: str) -> None:
    """Every script and style sheet a page links is served, by its hashed name."""
    links = re.findall(r'(?:src|href)="(/static/[^"]+)"', body)
    assert links, (page, "links no static file")
    for link in links:
        status, _, _ = browser.request(link)
        assert status == 200, (page, link)
        assert re.search(r"\.[0-9a-f]{12}\.", link), (page, link, "not a hashed name")
    if page == "/research/":
        assert any(link.startswith("/static/plotly/plotly.min.") for link in links), links


def _check_the_served_app(base: str, log: Path) -> None:
    browser = Browser(base)
    status, body, _ = browser.request("/health/")
    assert status == 200, body
    assert json.loads(body)["checks"] == {"database": "ok", "broker": "ok", "cache": "ok"}

    status, form, _ = browser.request("/accounts/login/")
    assert status == 200 and "lutetia" in form.lower()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    fields = {"csrfmiddlewaretoken": token, "username": "admin", "password": PASSWORD}
    status, _, _ = browser.request("/accounts/login/", fields)
    assert status == 302, log.read_text()[-2000:]
    for page in ("/", "/research/", "/api/v1/docs/"):
        status, body, _ = browser.request(page)
        assert status == 200, (page, body[:500])
        _check_static_files(browser, page, body)

    api = Browser(base)
    sign_in = json.dumps({"username": "admin", "password": PASSWORD}).encode()
    status, body, _ = api.request(
        "/api/v1/auth/token/", sign_in, {"Content-Type": "application/json"}
    )
    assert status == 200, body
    auth = {"Authorization": f"Token {json.loads(body)['token']}"}
    status, body, _ = api.request("/api/v1/patients/", None, auth)
    assert status == 200 and json.loads(body)["count"] == 0

    document = json.dumps(
        {
            "format": "lutetia-cohort/1",
            "sites": [{"code": "RDM", "name": "Readme"}],
            "patients": [{"study_id": "README-1", "site": "RDM", "primary_site": "midgut"}],
        }
    ).encode()
    status, body, _ = api.request(
        "/api/v1/imports/", document, {**auth, "Content-Type": "application/json"}
    )
    assert status == 202, body
    job = json.loads(body)
    deadline = time.monotonic() + 60
    while job["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, ("the worker never ran the import", job)
        time.sleep(0.5)
        job = json.loads(api.request(f"/api/v1/imports/{job['id']}/", None, auth)[1])
    assert job["status"] == "done", job
    status, body, _ = api.request("/api/v1/patients/", None, auth)
    assert [p["study_id"] for p in json.loads(body)["results"]] == ["README-1"]
