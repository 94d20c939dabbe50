"""Research staff in a real browser: dashboard filters, KM plot and at-risk table, exports.

Tasks run eagerly (no broker), so the demo cohort's results are computed
when the import commits and the background export finishes inside its POST.
"""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from registry.interchange.demo import create_demo_cohort
from registry.models import CourseOutcome, PatientIdentity
from tests import factories

pytestmark = pytest.mark.browser
OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
IDENTIFIER_COLUMNS = {"name", "hospital_number", "birth_date"}


@pytest.fixture
def cohort(transactional_db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path  # background exports write their files here
    sites = [
        factories.SiteFactory(code="ROT", name="Rotterdam"),
        factories.SiteFactory(code="GRO", name="Groningen"),
    ]
    create_demo_cohort(40, seed=1, sites=("ROT", "GRO"))
    factories.UserFactory(username="rita", role="research", sites=sites)
    return CourseOutcome.objects.filter(phase="salvage", round=1).count()


def at_risk_rows(page) -> list[str]:
    return page.locator("#at-risk tbody tr").all_inner_texts()


def test_dashboard_filter_updates_km_plot_and_at_risk_table(guard, cohort):
    page = guard.page
    guard.login("rita")
    page.get_by_role("link", name="Research").click()
    page.locator("#plot-km .main-svg").first.wait_for()
    before = at_risk_rows(page)
    assert len(before) == 1 and before[0].split()[:2] == ["all", str(cohort)]
    assert page.locator("#plot-km .legend .traces").count() == 1  # one curve per group

    # Stratify by primary site: the form submits itself; the URL keeps the filter.
    with page.expect_navigation():
        page.get_by_label("Strata").select_option("primary_site")
    page.locator("#plot-km .main-svg").first.wait_for()
    assert "strata=primary_site" in page.url
    after = at_risk_rows(page)
    assert len(after) > 1
    assert sum(int(row.split()[1]) for row in after) == cohort
    assert page.locator("#plot-km .legend .traces").count() == len(after)
    assert page.locator("#logrank").inner_text().startswith("Log-rank")

    # Narrow the cohort: pancreatic primaries only; numbers at risk follow.
    with page.expect_navigation():
        page.get_by_label("Strata").select_option("")
    page.get_by_label("Primary site").select_option(["pancreas"])
    with page.expect_navigation():
        page.get_by_role("button", name="Apply").click()
    pancreas = CourseOutcome.objects.filter(
        phase="salvage", round=1, patient__primary_site="pancreas"
    ).count()
    rows = at_risk_rows(page)
    assert rows[0].split()[:2] == ["all", str(pancreas)]
    assert page.locator("#cohort-n").inner_text().startswith(f"{pancreas} patient")
    # The bookmark reproduces the page.
    page.goto(page.url)
    assert at_risk_rows(page) == rows


def test_report_page_links_to_patients(guard, cohort):
    page = guard.page
    guard.login("rita")
    page.goto(guard.url("/research/report/"))
    n = page.locator('[data-cell="n"]')
    assert n.inner_text() == str(cohort)
    pd = page.locator('[data-cell="response.swog.PD"]')
    count = pd.inner_text()
    pd.click()
    page.locator("#drill-summary").wait_for()
    assert page.locator("#drill-summary").inner_text().startswith(f"{count} patient")
    assert page.locator("#drill-patients tbody tr").count() == max(int(count), 1)


def test_downloads_are_deidentified(guard, cohort):
    page = guard.page
    guard.login("rita")
    page.goto(guard.url("/research/export/"))
    names = set(PatientIdentity.objects.values_list("name", flat=True)) - {""}
    numbers = set(PatientIdentity.objects.values_list("hospital_number", flat=True)) - {""}
    assert names and numbers

    with page.expect_download() as info:
        page.locator("#download-xlsx").click()
    assert re.fullmatch(
        r"lutetia-salvage-r1-\d{4}-\d\d-\d\d-export\.xlsx", info.value.suggested_filename
    )
    book = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()), read_only=True)
    patients = list(book["patients"].iter_rows(values_only=True))
    assert len(patients) - 1 == cohort
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        assert not IDENTIFIER_COLUMNS & set(rows[0])
        text = repr(rows)
        assert not any(name in text for name in names)
        assert not any(f"'{hn}'" in text for hn in numbers)

    with page.expect_download() as info:
        page.locator('a[data-table="labs"]').click()
    labs = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
    assert labs and not IDENTIFIER_COLUMNS & set(labs[0])
    assert {row["study_id"] for row in labs} <= {row[0] for row in patients[1:]}

    # The background export: a progress bar, then a download link.
    page.get_by_label("Format").select_option("csv")
    page.get_by_role("button", name="Start export").click()
    link = page.locator("#job-download")
    link.wait_for(state="visible")
    assert page.locator("#job-progress").get_attribute("value") == "1"
    with page.expect_download() as info:
        link.click()
    archive = zipfile.ZipFile(info.value.path())
    names = archive.namelist()
    assert any(n.endswith("/dictionary.csv") for n in names)
    assert any(n.endswith("/README.txt") for n in names) and any(
        n.endswith("/load.R") for n in names
    )
    for member in (n for n in names if n.endswith(".csv")):
        rows = list(csv.reader(io.StringIO(archive.read(member).decode())))
        assert not IDENTIFIER_COLUMNS & set(rows[0]), member


@pytest.mark.skipif(
    os.environ.get("LUTETIA_SCREENSHOTS") != "1", reason="set LUTETIA_SCREENSHOTS=1"
)
def test_research_screenshots(guard, transactional_db):
    sites = [
        factories.SiteFactory(code="ROT", name="Rotterdam"),
        factories.SiteFactory(code="GRO", name="Groningen"),
    ]
    create_demo_cohort(60, seed=1, sites=("ROT", "GRO"))
    factories.UserFactory(username="nurse", role="research", sites=sites)
    page = guard.page
    guard.login("nurse")
    OUT.mkdir(parents=True, exist_ok=True)
    for name, path in [
        ("research-dashboard", "/research/?strata=pancreas"),
        ("research-report", "/research/report/"),
        ("research-export", "/research/export/"),
    ]:
        page.goto(guard.url(path))
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(OUT / f"{name}.png"))
        page.screenshot(path=str(OUT / f"{name}-full.png"), full_page=True)


def test_cox_panel_fits_the_chosen_covariates_and_follows_the_filter(guard, cohort):
    page = guard.page
    guard.login("rita")
    page.goto(guard.url("/research/"))
    panel = page.locator("#cox-panel")
    assert panel.locator("#cox-table").count() == 0  # nothing chosen, nothing fitted
    for label in ("Age at course start, years", "Sex", "Activity in this course, GBq"):
        panel.get_by_label(label).check()
    with page.expect_navigation():
        panel.get_by_role("button", name="Fit").click()
    page.locator("#plot-forest .main-svg").first.wait_for()
    terms = page.locator("#cox-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.term)"
    )
    assert terms == ["age", "sex=M", "activity_gbq"]
    caption = page.locator("#cox-table caption").inner_text()
    everyone = int(caption.split()[0])
    assert page.locator("#cox-tests").inner_text().startswith("Likelihood ratio")
    # Narrow the cohort with the shared filter: the model is fitted on fewer patients.
    page.get_by_label("Treatment site").select_option(["ROT"])
    with page.expect_navigation():
        page.get_by_role("button", name="Apply").click()
    assert "cox=age" in page.url
    page.locator("#plot-forest .main-svg").first.wait_for()
    fewer = int(page.locator("#cox-table caption").inner_text().split()[0])
    assert 0 < fewer < everyone
    if os.environ.get("LUTETIA_SCREENSHOTS"):
        panel.screenshot(path=str(OUT / "research-cox.png"))


def test_progression_panel_says_which_curve_it_shows(guard, cohort):
    page = guard.page
    guard.login("rita")
    page.goto(guard.url("/research/?strata=pancreas"))
    page.locator("#plot-progression .main-svg").first.wait_for()
    assert "Aalen–Johansen" in page.locator("#progression-shown").inner_text()
    assert page.locator("#plot-progression .legend .traces").count() == 2  # pancreas, other
    with page.expect_navigation():
        page.get_by_label("Curve", exact=True).select_option("km")
    page.locator("#plot-progression .main-svg").first.wait_for()
    assert "1 − Kaplan–Meier" in page.locator("#progression-shown").inner_text()
    assert "strata=pancreas" in page.url and "progression_curve=km" in page.url
    # The filter changes the curve: one group without strata.
    with page.expect_navigation():
        page.get_by_label("Strata").select_option("")
    page.locator("#plot-progression .main-svg").first.wait_for()
    assert page.locator("#plot-progression .legend .traces").count() == 1
    if os.environ.get("LUTETIA_SCREENSHOTS"):
        page.locator("section[aria-labelledby=prog-title]").screenshot(
            path=str(OUT / "research-progression.png")
        )
