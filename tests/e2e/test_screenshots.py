"""Screenshots of the clinician pages for the README (docs/screenshots/, 1366×768).

Run with LUTETIA_SCREENSHOTS=1; skipped otherwise, since it only writes images.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db.models import Count

from registry.interchange.demo import create_demo_cohort
from registry.models import Cycle, Patient
from tests import factories

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        os.environ.get("LUTETIA_SCREENSHOTS") != "1", reason="set LUTETIA_SCREENSHOTS=1"
    ),
]


def test_clinician_screenshots(guard, transactional_db):
    create_demo_cohort(60, seed=1)
    factories.UserFactory(
        username="dr.visser",
        role="clinician",
        sites=[factories.SiteFactory(code="ROT"), factories.SiteFactory(code="GRO")],
    )
    # A patient with a regular and a salvage course, scans and some toxicity to show.
    patient = (
        Patient.objects.filter(death_date__isnull=True, course_outcomes__grade_hematologic__gte=2)
        .annotate(n=Count("courses", distinct=True))
        .filter(n__gte=2)
        .order_by("study_id")
        .first()
    ) or Patient.objects.order_by("study_id").first()
    OUT.mkdir(parents=True, exist_ok=True)
    page = guard.page
    guard.login("dr.visser")

    page.goto(guard.url("/patients/"))
    page.screenshot(path=OUT / "patient-list.png")

    page.goto(guard.url(f"/patients/{patient.pk}/"))
    page.locator(".chart .main-svg").first.wait_for()
    page.screenshot(path=OUT / "patient-page.png")
    page.locator("#labs").scroll_into_view_if_needed()
    page.screenshot(path=OUT / "patient-page-labs.png")
    page.screenshot(path=OUT / "patient-page-full.png", full_page=True)

    page.goto(guard.url(f"/patients/{patient.pk}/cycles/new/"))
    page.get_by_role("button", name="Record cycle").click()
    page.locator("#id_warning_reason_error").wait_for()
    page.screenshot(path=OUT / "cycle-form.png")

    page.goto(guard.url(f"/patients/{patient.pk}/scans/new/"))
    page.screenshot(path=OUT / "scan-form.png")

    # Corrections: the latest scan's edit page, and the confirmation before a deletion.
    scan = patient.scans.order_by("-date").first()
    page.goto(guard.url(f"/patients/{patient.pk}/scans/{scan.pk}/edit/"))
    page.screenshot(path=OUT / "scan-edit.png")
    cycle = Cycle.objects.filter(course__patient=patient).order_by("date").first()
    page.goto(guard.url(f"/patients/{patient.pk}/cycles/{cycle.pk}/delete/"))
    page.get_by_role("button", name=f"Delete cycle {cycle.date.isoformat()}").click()
    page.locator("#id_reason_error").wait_for()
    page.screenshot(path=OUT / "delete-confirm.png")
