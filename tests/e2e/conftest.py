"""A real browser against the live server: Debian Chromium driven by Playwright (sync API).

Every test using `guard` (or `page`) fails on any console error or uncaught
page error, and on any request that would leave 127.0.0.1/localhost: the
pages must work in an offline hospital (no CDN, no fonts, no telemetry).
Outgoing requests are aborted before they leave, and reported.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

from tests import factories
from tests.services import need_chromium

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
VIEWPORT = {"width": 1366, "height": 768}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # Date inputs follow the browser's UI language, not the context's locale. It
    # shows dd/mm/yyyy only where Chromium's en-GB locale file is installed
    # (Debian: chromium-l10n); with en-US.pak alone it stays mm/dd/yyyy.
    "--lang=en-GB",
]
# On Linux Chromium takes its UI language from the environment too.
CHROMIUM_ENV = {"LANG": "en_GB.UTF-8", "LANGUAGE": "en_GB:en", "LC_ALL": "en_GB.UTF-8"}


class BrowserGuard:
    """One browser context and page, with what went wrong collected for the teardown check."""

    def __init__(self, context, base_url: str):
        self.context = context
        self.base_url = base_url.rstrip("/")
        self.console_errors: list[str] = []
        self.external_requests: list[str] = []
        self.allowed_console: list[str] = []
        context.route("**/*", self._route)
        self.page = context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.console_errors.append(f"pageerror: {exc}"))

    def _route(self, route, request) -> None:
        host = urlparse(request.url).hostname
        if request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            route.continue_()
        else:
            self.external_requests.append(request.url)
            route.abort()

    def _console(self, message) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    def allow_console_error(self, substring: str) -> None:
        """Expect a console error, e.g. the browser's own line for an intended 404."""
        self.allowed_console.append(substring)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def login(self, username: str, password: str = factories.PASSWORD) -> None:
        page = self.page
        page.goto(self.url("/accounts/login/"))
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        assert "/accounts/login/" not in page.url, "sign-in failed"

    def logout(self) -> None:
        self.page.get_by_role("button", name="Sign out").click()
        self.page.wait_for_load_state()

    def problems(self) -> list[str]:
        unexpected = [
            e for e in self.console_errors if not any(a in e for a in self.allowed_console)
        ]
        return [f"console: {e}" for e in unexpected] + [
            f"left 127.0.0.1: {u}" for u in self.external_requests
        ]


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator:
    need_chromium()
    # Playwright's sync API runs an event loop in this thread; Django's ORM
    # refuses to run beside one unless told it is fine (it is: no async code).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=need_chromium(),
            args=CHROMIUM_ARGS,
            env={**os.environ, **CHROMIUM_ENV},
            headless=True,
        )
        yield browser
        browser.close()


@pytest.fixture
def guard(chromium_browser, live_server, transactional_db) -> Iterator[BrowserGuard]:
    context = chromium_browser.new_context(viewport=VIEWPORT, locale="en-GB")
    context.set_default_timeout(15_000)
    g = BrowserGuard(context, live_server.url)
    yield g
    context.close()
    problems = g.problems()
    if problems:
        pytest.fail("Browser problems:\n" + "\n".join(problems))


@pytest.fixture
def page(guard):
    return guard.page
