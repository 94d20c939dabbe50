"""The patient list's two response columns, finding labels on the patient page, and the
cohort-level data-quality list research staff see (CLINICAL.md §8)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from registry.derive.recompute import recompute_patient
from tests import factories

D = dt.date


def mr_then_pd(site, study_id: str):
    """A salvage course: best response PR (SPD −51 %) on the first follow-up, then PD."""
    patient = factories.PatientFactory(site=site, study_id=study_id, last_follow_up=D(2006, 6, 1))
    course = factories.CourseFactory(patient=patient, phase="salvage")
    factories.CycleFactory(course=course, date=D(2005, 6, 1))
    factories.CycleFactory(course=course, date=D(2005, 7, 27))
    for day, size in ((D(2005, 5, 20), 50), (D(2005, 9, 1), 35)):
        scan = factories.ScanFactory(patient=patient, date=day)
        factories.LesionFactory(scan=scan, lesion="L1", long_mm=size, short_mm=size * 0.8)
    last = factories.ScanFactory(patient=patient, date=D(2005, 12, 1))
    factories.LesionFactory(scan=last, lesion="L1", long_mm=35, short_mm=28)
    factories.LesionFactory(scan=last, lesion="L2", new=True, target=False, long_mm=12)
    recompute_patient(patient.pk, force=True)
    return patient


def test_the_list_shows_last_scan_and_best_response_apart(client, clinician, site):
    mr_then_pd(site, "LQ-1")
    client.force_login(clinician)
    html = client.get(reverse("patient_list")).content.decode()
    assert "Last scan response" in html and "Best response (course)" in html
    row = html.split(">LQ-1<", 1)[1].split("</tr>", 1)[0]
    cells = row.split("<td")
    last = next(i for i, c in enumerate(cells) if "resp-PD" in c)
    best = next(i for i, c in enumerate(cells) if "resp-PR" in c)
    assert last < best  # "Last scan response" comes first, then the course's best


def test_findings_show_their_label_not_their_code(client, clinician, site):
    patient = factories.PatientFactory(site=site, study_id="LQ-2")
    factories.CourseFactory(patient=patient)  # a course without cycles
    recompute_patient(patient.pk, force=True)
    client.force_login(clinician)
    html = client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    assert "Course without cycles</strong>" in html
    assert "<code>course_without_cycles</code>" not in html


@pytest.fixture
def cohort(site, other_site):
    mine = mr_then_pd(site, "LQ-3")
    factories.LabFactory(
        patient=mine, date=D(2005, 6, 20), value=180, unit="/mm3", canonical_value=0.18
    )
    recompute_patient(mine.pk, force=True)
    theirs = mr_then_pd(other_site, "OTHER-9")
    factories.LabFactory(
        patient=theirs, date=D(2005, 6, 20), value=180, unit="/mm3", canonical_value=0.18
    )
    recompute_patient(theirs.pk, force=True)
    return mine


def test_research_sees_the_cohorts_findings_linked_to_the_patients(client, researcher, cohort):
    client.force_login(researcher)
    response = client.get(reverse("research_quality"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-count="implausible_value">1<' in html
    assert "Implausible lab value (unit mix-up?)" in html and "180 /mm3 is 0.18" in html
    assert f'href="{reverse("patient_detail", args=[cohort.pk])}#quality"' in html
    assert "OTHER-9" not in html  # another site's patient
    one = client.get(reverse("research_quality"), {"finding": "implausible_value"})
    rows = one.content.decode().split('id="findings"', 1)[1]
    assert rows.count("<tr>") == 2  # the header and the one finding
    assert client.get(reverse("research_quality"), {"round": "x"}).status_code == 400


def test_the_quality_list_needs_a_role(client, cohort):
    assert client.get(reverse("research_quality")).status_code == 302
