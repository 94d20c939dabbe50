"""Content-Security-Policy in a real browser (security review, finding 14).

Every page is served with a strict policy (scripts only from our own files, no
inline script, no eval). The pages with charts, the API docs and the admin
work under it: Plotly draws, and Chromium reports no violation — neither in
the console (which fails any browser test, see conftest) nor as a
`securitypolicyviolation` event. An inline script injected into a page is
blocked, which shows the policy is enforced and not merely sent.
"""

from __future__ import annotations

import pytest

from registry.interchange.demo import create_demo_cohort
from registry.models import Patient
from tests import factories

pytestmark = pytest.mark.browser

LISTEN = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
  e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
"""


@pytest.fixture
def cohort(transactional_db):
    site = factories.SiteFactory(code="ROT", name="Rotterdam")
    create_demo_cohort(12, seed=3, sites=("ROT",))
    factories.UserFactory(username="rita", role="research", sites=[site])
    factories.UserFactory(username="anna", role="clinician", sites=[site])
    factories.UserFactory(username="boss", role="admin", sites=[], is_staff=True, is_superuser=True)
    return Patient.objects.filter(site=site).order_by("pk").first()


def _violations(page) -> list[str]:
    return page.evaluate("window.__violations || []")


def test_the_policy_is_strict(client, cohort):
    header = client.get("/accounts/login/")["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in header.split(";") if d.strip())
    assert directives["script-src"] == "'self'"
    assert "unsafe" not in directives["script-src"] and "unsafe" not in directives["default-src"]
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"


@pytest.mark.parametrize(
    ("user", "path", "drawn"),
    [
        # The dashboard's Plotly charts also run under the policy in tests/e2e/test_research.py,
        # whose console-error guard fails on any violation; the admin index is the changelist's
        # static files again.
        ("rita", "/research/report/", "table"),
        ("anna", "PATIENT", ".js-plotly-plot .main-svg"),
        ("anna", "/api/v1/docs/", ".swagger-ui .opblock"),
        ("boss", "/admin/registry/patient/", "#changelist"),
    ],
)
def test_pages_work_under_the_policy(guard, cohort, user, path, drawn):
    page = guard.page
    page.add_init_script(LISTEN)
    guard.login(user)
    page.goto(guard.url(f"/patients/{cohort.pk}/" if path == "PATIENT" else path))
    page.locator(drawn).first.wait_for()
    page.wait_for_load_state("networkidle")
    assert _violations(page) == []


def test_an_injected_inline_script_is_blocked(guard, cohort):
    guard.allow_console_error("Content Security Policy")
    page = guard.page
    page.add_init_script(LISTEN)
    guard.login("rita")
    page.goto(guard.url("/research/"))
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__ran = true'; document.body.appendChild(s); }"
    )
    page.wait_for_timeout(200)
    assert page.evaluate("window.__ran === true") is False
    assert any(v.startswith("script-src") for v in _violations(page))
