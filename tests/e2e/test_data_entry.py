"""Data entry that catches mistakes, in a real browser (issue 14): the /mm3 platelet count,
a follow-up scan after a lesion was not assessed, three mistakes at once, and every page
usable at 1366, 800 and 390 px (nothing wider than the window but the tables' own boxes)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from registry.derive.recompute import recompute_patient
from registry.models import LabResult
from tests import factories

pytestmark = pytest.mark.browser
D = dt.date
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def patient(transactional_db):
    site = factories.SiteFactory(code="ROT", name="Rotterdam")
    factories.UserFactory(username="anna", role="clinician", sites=[site])
    p = factories.PatientFactory(site=site, study_id="DE-0001", last_follow_up=D(2006, 6, 1))
    course = factories.CourseFactory(patient=p)
    factories.CycleFactory(course=course, date=D(2005, 6, 1))
    factories.CycleFactory(course=course, date=D(2005, 7, 27))
    base = factories.ScanFactory(patient=p, date=D(2005, 5, 20))
    factories.LesionFactory(scan=base, lesion="L1", long_mm=40, short_mm=30)
    factories.LesionFactory(scan=base, lesion="L2", long_mm=20, short_mm=10)
    follow = factories.ScanFactory(patient=p, date=D(2005, 9, 1))
    factories.LesionFactory(scan=follow, lesion="L1", long_mm=30, short_mm=20)
    factories.LesionFactory(scan=follow, lesion="L2", long_mm=None, short_mm=None)  # not assessed
    factories.LabFactory(patient=p, date=D(2005, 6, 20), value=210, canonical_value=210)
    recompute_patient(p.pk, force=True)
    return p


def test_a_platelet_count_in_mm3_asks_first_and_saves_when_confirmed(guard, patient):
    page = guard.page
    guard.login("anna")
    page.goto(guard.url(f"/patients/{patient.pk}/labs/new/"))
    page.locator("#id_drawn_on").fill("2005-07-10")
    page.locator("#id_value_platelets").fill("180")
    page.locator("#id_unit_platelets").select_option("/mm3")
    page.get_by_role("button", name="Save panel").click()
    error = page.locator("#id_value_platelets_error")
    error.wait_for()
    assert "180 /mm3 is 0.18 × 10⁹/L" in error.inner_text()
    assert "did you mean 10⁹/L?" in error.inner_text()
    assert not LabResult.objects.filter(patient=patient, date=D(2005, 7, 10)).exists()
    page.get_by_label("The values flagged above are right").check()
    page.get_by_role("button", name="Save panel").click()
    page.locator("#quality").wait_for()
    assert LabResult.objects.filter(patient=patient, date=D(2005, 7, 10)).exists()
    assert "Implausible lab value" in page.locator("#quality").inner_text()


def test_a_follow_up_after_a_lesion_not_assessed_still_lists_it(guard, patient):
    page = guard.page
    guard.login("anna")
    page.goto(guard.url(f"/patients/{patient.pk}/scans/new/"))
    labels = [page.locator(f"#id_lesions-{i}-lesion").input_value() for i in range(2)]
    assert labels == ["L1", "L2"]
    assert page.locator("#id_scanned_on").input_value() == ""  # no date by default


def test_three_mistakes_on_the_scan_form_show_at_once(guard, patient):
    page = guard.page
    guard.login("anna")
    page.goto(guard.url(f"/patients/{patient.pk}/scans/new/"))
    future = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    page.locator("#id_scanned_on").fill(future)
    page.locator("#id_lesions-0-long_mm").fill("30")  # L1: no perpendicular diameter
    page.locator("#id_lesions-1-long_mm").fill("10")  # L2: longest < perpendicular
    page.locator("#id_lesions-1-short_mm").fill("12")
    page.get_by_role("button", name="Save scan").click()
    summary = page.locator("#error-summary")
    summary.wait_for()
    text = summary.inner_text()
    assert "in the future" in text
    assert "Enter the perpendicular diameter" in text
    assert "exceeds the longest one" in text
    assert summary.locator("li").count() == 3


@pytest.mark.parametrize("width", [1366, 800, 390])
def test_pages_fit_narrow_screens(guard, patient, width, tmp_path):
    page = guard.page
    guard.login("anna")
    page.set_viewport_size({"width": width, "height": 900})
    folder = SHOTS if os.environ.get("LUTETIA_SCREENSHOTS") == "1" else tmp_path
    for name, path in (
        ("patient", f"/patients/{patient.pk}/"),
        ("scan-form", f"/patients/{patient.pk}/scans/new/"),
        ("list", "/patients/"),
    ):
        page.goto(guard.url(path))
        page.wait_for_load_state()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name} at {width} px is {overflow} px wider than the window"
        # Buttons stay buttons: none stretched to a block wider than half the window.
        widest = page.evaluate(
            "Math.max(0, ...[...document.querySelectorAll('main button, main .button')]"
            ".filter(b => b.offsetParent).map(b => b.getBoundingClientRect().width))"
        )
        assert width < 500 or widest < width / 2, f"{name} at {width} px: a {widest} px button"
        page.screenshot(path=str(folder / f"narrow-{name}-{width}.png"), full_page=True)
