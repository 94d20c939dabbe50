"""The cohort report as PDF: a valid file with the report's numbers, definition, date and user."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from django.core.management import call_command
from django.urls import reverse

from registry.research.cohort import Cohort
from registry.research.filters import parse_filter
from registry.research.report import paper_report
from registry.research.views.cells import median_ci
from tests import factories
from tests.services import skip_or_fail


@pytest.fixture
def demo(db):
    call_command("demo_cohort", patients=30, seed=2, stdout=io.StringIO())
    call_command("recompute", "--all", stdout=io.StringIO())
    return factories.UserFactory(username="statistician", role="admin")


def pdf_text(data: bytes, tmp_path) -> str:
    if not shutil.which("pdftotext"):
        skip_or_fail("needs poppler-utils (pdftotext, pdftoppm): apt-get install poppler-utils")
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    done = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode()


def test_the_pdf_report_holds_the_reports_numbers(client, demo, tmp_path):
    client.force_login(demo)
    response = client.get(reverse("research_report_pdf"), {"criteria": "swog"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-") and b"%%EOF" in response.content[-64:]
    assert "lutetia-salvage-r1-" in response["Content-Disposition"]
    text = pdf_text(response.content, tmp_path)
    r = paper_report(Cohort(demo, parse_filter({"criteria": "swog"})))
    n = r["characteristics"]["n"]
    assert n > 5
    ttp = r["endpoints"]["ttp"]
    for needed in (
        "Cohort report",
        "Cohort definition",
        "salvage course 1",
        "statistician (admin)",
        "Table 1. Patient characteristics",
        "Number at risk",
        f"n = {n}",
        median_ci(ttp["median"], ttp["ci95"]),
    ):
        assert needed in text, needed
    assert "Every number opens" not in text  # on-screen hints stay on screen
    # Every page turns into an image (what the reviewer looked at).
    png = tmp_path / "page"
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", str(tmp_path / "report.pdf"), str(png)], check=True
    )
    assert list(tmp_path.glob("page*.png"))


def test_the_pdf_report_needs_a_role_and_a_valid_filter(client, demo, tmp_path):
    assert client.get(reverse("research_report_pdf")).status_code == 302  # to the login page
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_user("nobody", password="x" * 12))
    assert client.get(reverse("research_report_pdf")).status_code == 403
    client.force_login(demo)
    bad = client.get(reverse("research_report_pdf"), {"round": "zero"})
    assert bad.status_code == 400 and "round" in bad.json()


def test_the_report_page_links_its_pdf(client, demo):
    client.force_login(demo)
    page = client.get(reverse("research_report"), {"primary_site": "pancreas"}).content.decode()
    assert f"{reverse('research_report_pdf')}?" in page and "primary_site=pancreas" in page
    assert 'class="screen-only"' in page
    # The printed page says by itself what it is: definition, date and user, the KM figure.
    printed = page.split('class="print-only"', 1)[1].split("</div>", 1)[0]
    assert "Printed " in printed and demo.username in printed and "Primary sites" in printed
    assert "<svg" in page and "Number at risk" in page
