"""The scan form measures the course's baseline lesions again, keeps a lesion not assessed
as a row, reports every mistake in one round, and the patient page says which scan is a
course's baseline and whether a time point is judged against the baseline or the nadir."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from registry.derive.recompute import recompute_patient
from registry.models import LesionMeasurement, Scan, TimePointResponse
from tests import factories

D = dt.date


@pytest.fixture
def patient(site):
    """Salvage course from 2005-06-01; baseline 2005-05-20 (L1, L2 targets, N1 non-target);
    a follow-up on 2005-09-01 where L2 was not assessed and a new lesion L3 appeared."""
    p = factories.PatientFactory(site=site, study_id="SC-1", last_follow_up=D(2006, 1, 1))
    course = factories.CourseFactory(patient=p)
    factories.CycleFactory(course=course, date=D(2005, 6, 1))
    factories.CycleFactory(course=course, date=D(2005, 7, 27))
    base = factories.ScanFactory(patient=p, date=D(2005, 5, 20))
    factories.LesionFactory(scan=base, lesion="L1", long_mm=40, short_mm=30)
    factories.LesionFactory(scan=base, lesion="L2", long_mm=20, short_mm=10)
    factories.LesionFactory(
        scan=base, lesion="N1", target=False, long_mm=None, short_mm=None, status="present"
    )
    follow = factories.ScanFactory(patient=p, date=D(2005, 9, 1))
    factories.LesionFactory(scan=follow, lesion="L1", long_mm=38, short_mm=28)
    factories.LesionFactory(scan=follow, lesion="L2", long_mm=None, short_mm=None)
    factories.LesionFactory(
        scan=follow, lesion="L3", target=False, new=True, long_mm=None, short_mm=None,
        status="present",
    )  # fmt: skip
    recompute_patient(p.pk, force=True)
    return p


def rows(html: str) -> list[str]:
    return [
        part.split('value="', 1)[1].split('"', 1)[0]
        for part in html.split('name="lesions-')[1:]
        if part.split('"', 1)[0].endswith("-lesion") and 'value="' in part.split(">", 1)[0]
    ]


def test_the_form_lists_every_baseline_lesion_and_new_ones_since(client, clinician, patient):
    client.force_login(clinician)
    html = client.get(reverse("scan_new", args=[patient.pk])).content.decode()
    assert rows(html) == ["L1", "L2", "N1", "L3"]  # L2, not assessed last time, is still there
    assert "course's baseline scan (CT, 20/05/2005)" in html
    date_input = html.split('name="scanned_on"', 1)[1].split(">", 1)[0]
    assert 'value="' not in date_input  # no date by default: scans are entered afterwards


def post_scan(client, patient, day: str, lesions: list[dict]):
    data = {
        "scanned_on": day,
        "modality": "CT",
        "lesions-TOTAL_FORMS": str(len(lesions)),
        "lesions-INITIAL_FORMS": "0",
        "lesions-MIN_NUM_FORMS": "0",
        "lesions-MAX_NUM_FORMS": "60",
    }
    for i, lesion in enumerate(lesions):
        data.update({f"lesions-{i}-{k}": v for k, v in lesion.items()})
    return client.post(reverse("scan_new", args=[patient.pk]), data)


def test_a_lesion_not_assessed_is_kept_as_a_row_and_makes_the_time_point_ne(
    client, clinician, patient, django_capture_on_commit_callbacks
):
    client.force_login(clinician)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_scan(
            client,
            patient,
            "2005-11-01",
            [
                {
                    "lesion": "L1",
                    "organ": "liver",
                    "target": "on",
                    "long_mm": "30",
                    "short_mm": "20",
                },
                {"lesion": "L2", "organ": "liver", "target": "on", "not_assessed": "on"},
                {"lesion": "N1", "organ": "bone", "status": "present"},
            ],
        )
    assert response.status_code == 302, response.content.decode()[:3000]
    scan = Scan.objects.get(patient=patient, date=D(2005, 11, 1))
    l2 = LesionMeasurement.objects.get(scan=scan, lesion="L2")
    assert l2.target and l2.long_mm is None and l2.short_mm is None
    recompute_patient(patient.pk, force=True)
    point = TimePointResponse.objects.get(scan=scan, criteria="swog")
    assert point.response == "NE"
    # The next form still lists L2, and the edit form shows it ticked "not assessed".
    html = client.get(reverse("scan_new", args=[patient.pk])).content.decode()
    assert "L2" in rows(html)
    edit = client.get(reverse("scan_edit", args=[patient.pk, scan.pk])).content.decode()
    tick = edit.split('name="lesions-1-not_assessed"', 1)[1].split(">", 1)[0]
    assert "checked" in tick


def test_not_assessed_with_a_size_is_refused(client, clinician, patient):
    client.force_login(clinician)
    response = post_scan(
        client,
        patient,
        "2005-11-01",
        [{"lesion": "L1", "target": "on", "long_mm": "30", "short_mm": "20", "not_assessed": "on"}],
    )
    assert response.status_code == 200
    assert "A lesion not assessed has no size or status" in response.content.decode()


def test_three_mistakes_show_at_once_with_a_summary(client, clinician, patient):
    client.force_login(clinician)
    before = Scan.objects.count()
    future = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    response = post_scan(
        client,
        patient,
        future,
        [
            {"lesion": "L1", "target": "on", "short_mm": "20"},  # no longest diameter
            {"lesion": "L2", "target": "on", "long_mm": "10", "short_mm": "5"},
            {"lesion": "L2", "target": "on", "long_mm": "11", "short_mm": "5"},  # twice
        ],
    )
    html = response.content.decode()
    assert response.status_code == 200 and Scan.objects.count() == before
    summary = html.split('id="error-summary"', 1)[1].split("</div>", 1)[0]
    assert "is in the future" in summary
    assert "Enter the longest diameter" in summary
    assert "listed twice on this scan" in summary
    assert 'href="#id_scanned_on"' in summary and 'href="#id_lesions-0-long_mm"' in summary


def test_the_patient_page_labels_the_baseline_and_says_what_pd_is_judged_against(
    client, clinician, patient
):
    # A nadir (SPD 350, −75 %), then growth to 550: PD against the nadir, −61 % vs baseline.
    for day, l1, l2 in ((D(2005, 11, 15), (20, 15), (10, 5)), (D(2006, 2, 1), (25, 20), (10, 5))):
        scan = factories.ScanFactory(patient=patient, date=day)
        factories.LesionFactory(scan=scan, lesion="L1", long_mm=l1[0], short_mm=l1[1])
        factories.LesionFactory(scan=scan, lesion="L2", long_mm=l2[0], short_mm=l2[1])
    patient.last_follow_up = D(2007, 1, 1)
    patient.save()
    recompute_patient(patient.pk, force=True)
    client.force_login(clinician)
    html = client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    assert "Baseline of the salvage course 1" in html
    assert html.count("Baseline of the") == 1
    points = {
        p.scan.date: p
        for p in TimePointResponse.objects.filter(criteria="swog", course__patient=patient)
    }
    assert points[D(2006, 2, 1)].response == "PD"
    assert points[D(2006, 2, 1)].pct_vs_baseline < -50
    assert "PD is judged against the nadir" in html
