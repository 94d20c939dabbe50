"""A clinician's day in a real browser: cycle with a warning, blood counts, scans, results.

Tasks run eagerly here (no broker), so results are current when the patient
page loads after a save; if the page is still "recomputing…" it polls the
status endpoint and reloads itself, which the waits below also cover.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from registry.interchange.demo import create_demo_cohort
from registry.models import Cycle, LabResult, Patient, PatientIdentity, Scan
from registry.records.facts import save_fact
from registry.templatetags.lutetia import day
from tests import factories

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(transactional_db):
    site = factories.SiteFactory(code="ROT", name="Rotterdam")
    other = factories.SiteFactory(code="GRO", name="Groningen")
    create_demo_cohort(6, seed=3, sites=("ROT",))
    return {
        "clinician": factories.UserFactory(username="anna", role="clinician", sites=[site]),
        "researcher": factories.UserFactory(username="rita", role="research", sites=[site]),
        "other": factories.UserFactory(username="otto", role="clinician", sites=[other]),
        "patient": Patient.objects.filter(site=site, death_date__isnull=True)
        .order_by("study_id")
        .first(),
    }


def _fill_lesions(page, sizes: tuple[float, float]) -> None:
    """Measure every prefilled lesion row: targets get sizes, non-targets "present"."""
    rows = page.locator("#lesion-rows tr")
    for i in range(rows.count()):
        if not page.locator(f"#id_lesions-{i}-lesion").input_value():
            continue
        if page.locator(f"#id_lesions-{i}-target").is_checked():
            page.locator(f"#id_lesions-{i}-long_mm").fill(str(sizes[0]))
            page.locator(f"#id_lesions-{i}-short_mm").fill(str(sizes[1]))
        else:
            page.locator(f"#id_lesions-{i}-status").select_option("present")


def test_clinician_records_cycle_labs_and_scans_and_sees_results(guard, demo):
    page, patient = guard.page, demo["patient"]
    assert patient is not None
    today = timezone.localdate()
    start = today - dt.timedelta(days=21)

    guard.login("anna")
    page.goto(guard.url("/patients/"))
    page.get_by_role("link", name=patient.study_id, exact=True).click()
    page.get_by_role("heading", level=1).filter(has_text=patient.study_id).wait_for()

    # A new salvage course and its first cycle, which warns (no recent labs).
    page.get_by_role("link", name="New course").click()
    page.get_by_label("Phase").select_option("salvage")
    page.get_by_label("Intended activity (GBq)").fill("14.8")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("link", name="Record cycle").click()
    page.get_by_label("Date").fill(start.isoformat())
    page.get_by_label("Administered activity (GBq)").fill("7.4")
    page.get_by_role("button", name="Record cycle").click()
    page.locator("#id_warning_reason_error").wait_for()  # refused without a reason
    warnings = page.locator(".warning-box")
    assert day(start) in warnings.inner_text()
    assert "No platelets value in the 14 days before the cycle" in warnings.inner_text()
    page.get_by_label("Reason for giving the cycle despite the warnings").fill(
        "Labs drawn elsewhere, checked by phone"
    )
    page.get_by_role("button", name="Record cycle").click()
    page.get_by_text("Cycle recorded.").wait_for()
    cycle = Cycle.objects.get(course__patient=patient, date=start)
    assert cycle.warning_reason == "Labs drawn elsewhere, checked by phone"

    # Baseline scan before the course, in the lesion table prefilled from the last scan.
    page.get_by_role("link", name="Scan", exact=True).click()
    page.get_by_label("Scan date").fill((start - dt.timedelta(days=5)).isoformat())
    _fill_lesions(page, (40, 30))
    page.get_by_role("button", name="Save scan").click()
    page.get_by_text("Scan recorded.").wait_for()

    # A blood-count panel with platelets in grade 3 (< 50 × 10^9/L).
    page.get_by_role("link", name="Blood counts").click()
    page.get_by_label("Date of the blood draw").fill(today.isoformat())
    page.get_by_label("Platelets", exact=True).fill("40")
    page.get_by_label("Platelets unit").select_option("10^9/L")
    page.get_by_label("Hemoglobin", exact=True).fill("7.1")
    page.get_by_role("button", name="Save panel").click()
    page.get_by_text("lab values recorded").wait_for()
    assert LabResult.objects.filter(patient=patient, date=today).count() == 2

    # Follow-up scan: every target halved → SWOG PR.
    page.get_by_role("link", name="Scan", exact=True).click()
    page.get_by_label("Scan date").fill(today.isoformat())
    _fill_lesions(page, (28, 21))
    page.get_by_role("button", name="Save scan").click()
    page.get_by_text("Scan recorded.").wait_for()
    assert Scan.objects.filter(patient=patient, date=today).exists()

    # The results appear (after the page's own status polling if still stale).
    course = page.locator("article.course").filter(has_text=f"from {day(start)}")
    course.locator('[data-grade="platelets"]').wait_for(timeout=30_000)
    assert course.locator('[data-grade="platelets"]').inner_text() == "G3"
    assert course.locator("[data-best-swog]").inner_text() == "PR"
    scan = page.locator("article.scan").filter(has_text=day(today))
    assert scan.locator('[data-timepoint="swog"]').inner_text() == "PR"
    assert "Labs drawn elsewhere" in page.locator("#courses").inner_text()
    page.locator("#chart-platelets .main-svg").first.wait_for()  # Plotly drew the chart


def test_research_staff_see_no_identifiers(guard, demo):
    page, patient = guard.page, demo["patient"]
    identity = PatientIdentity.objects.get(patient=patient)
    guard.login("rita")
    page.goto(guard.url("/patients/"))
    page.get_by_role("link", name=patient.study_id, exact=True).click()
    page.get_by_role("heading", level=1).filter(has_text=patient.study_id).wait_for()
    html = page.content()
    for identifier in (identity.name, identity.hospital_number, day(identity.birth_date)):
        assert identifier and identifier not in html
    assert page.get_by_role("link", name="Record cycle").count() == 0


def test_other_sites_clinician_gets_404(guard, demo):
    guard.allow_console_error("status of 404")
    guard.login("otto")
    response = guard.page.goto(guard.url(f"/patients/{demo['patient'].pk}/"))
    assert response is not None and response.status == 404
    response = guard.page.goto(guard.url(f"/patients/{demo['patient'].pk}/cycles/new/"))
    assert response is not None and response.status == 404
    guard.page.goto(guard.url("/patients/"))
    assert demo["patient"].study_id not in guard.page.content()


def test_clinician_corrects_a_cycle_and_deletes_a_lab_value(guard, demo):
    page, patient = guard.page, demo["patient"]
    cycle = Cycle.objects.filter(course__patient=patient).order_by("date").first()
    lab = LabResult.objects.filter(patient=patient).order_by("date", "id").first()
    assert cycle is not None and lab is not None
    guard.login("anna")
    page.goto(guard.url(f"/patients/{patient.pk}/"))

    # Correct a cycle's note through the link named after the cycle.
    page.get_by_role("link", name=f"Edit cycle {day(cycle.date)}", exact=True).click()
    page.get_by_label("Note").fill("Infusion stopped after 20 min, restarted")
    page.get_by_label("Reason for the correction").fill("Pharmacy record")
    # Meanwhile a colleague saves the same cycle: this page's version is now stale.
    other = Cycle.objects.get(pk=cycle.pk)
    save_fact(other, by=None)
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("changed by someone else since you opened it").wait_for()
    assert Cycle.objects.get(pk=cycle.pk).note == cycle.note
    # Reloading picks up the new version; the same correction then goes through.
    page.goto(page.url)
    page.get_by_label("Note").fill("Infusion stopped after 20 min, restarted")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Saved the cycle.").wait_for()
    assert Cycle.objects.get(pk=cycle.pk).note == "Infusion stopped after 20 min, restarted"

    # Delete a lab value: a confirmation page asks why.
    page.locator("#labs summary").click()
    name = f"Delete {lab.get_analyte_display()} value {day(lab.date)}"
    page.get_by_role("link", name=name, exact=True).first.click()
    page.get_by_role("button", name=name).click()
    page.locator("#id_reason_error").wait_for()  # a reason is required
    page.get_by_label("Reason for deleting").fill("Sample of another patient")
    page.get_by_role("button", name=name).click()
    page.get_by_text(f"Deleted {lab.get_analyte_display()} value").wait_for()
    assert not LabResult.objects.filter(pk=lab.pk).exists()
    history = page.locator("#history")
    assert "Sample of another patient" in history.inner_text()
    assert "anna" in history.inner_text()
