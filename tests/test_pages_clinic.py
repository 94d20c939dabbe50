"""Clinician pages: rendering, roles and sites, form errors, query counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from registry.derive.recompute import recompute_patient
from registry.models import Cycle, LabResult, PatientState, ResponseOverride, Scan, StaffProfile
from registry.records.facts import save_fact
from tests import factories

pytestmark = pytest.mark.django_db

# The birth date as the pages show it (DATE_FORMAT); research pages never show it either way.
IDENTIFIERS = ("Jan Jansen", "H-7654321", "05/05/1950")


def build_patient(site, study_id: str = "SAL-001", *, extra_labs: int = 0, recompute=True):
    """A salvage patient with a full history: course, cycles, labs, scans, events."""
    patient = factories.PatientFactory(study_id=study_id, site=site, sex="F", weight_kg=70)
    factories.IdentityFactory(
        patient=patient,
        name="Jan Jansen",
        hospital_number=f"H-765432{study_id[-1]}",
        birth_date=dt.date(1950, 5, 5),
    )
    course = factories.CourseFactory(patient=patient, phase="salvage")
    factories.CycleFactory(course=course, date=dt.date(2005, 6, 1))
    factories.CycleFactory(course=course, date=dt.date(2005, 8, 1))
    baseline = factories.ScanFactory(patient=patient, date=dt.date(2005, 5, 20))
    factories.LesionFactory(scan=baseline, lesion="L1", long_mm=40, short_mm=30)
    follow = factories.ScanFactory(patient=patient, date=dt.date(2005, 10, 20))
    factories.LesionFactory(scan=follow, lesion="L1", long_mm=30, short_mm=25)
    for i, (analyte, value, unit) in enumerate(
        [
            ("platelets", 40, "10^9/L"),
            ("hemoglobin", 7.0, "mmol/L"),
            ("creatinine", 80, "umol/L"),
            ("wbc", 3.5, "10^9/L"),
        ]
    ):
        factories.LabFactory(
            patient=patient,
            date=dt.date(2005, 7, 1) + dt.timedelta(days=i),
            analyte=analyte,
            value=value,
            unit=unit,
            canonical_value=value * (1.611 if unit == "mmol/L" else 1),
        )
    for i in range(extra_labs):
        factories.LabFactory(patient=patient, date=dt.date(2005, 9, 1) + dt.timedelta(days=i))
    return patient, course


def _events(patient, course, user=None):
    from registry.models import AdverseEvent, ClinicalProgression

    ClinicalProgression.objects.create(patient=patient, date=dt.date(2006, 3, 1), note="pain")
    AdverseEvent.objects.create(patient=patient, term="Nausea", grade=2, onset=dt.date(2005, 6, 2))
    ResponseOverride.objects.create(
        course=course, criteria="swog", response="PR", reason="Radiology review", decided_by=user
    )


@pytest.fixture
def patient(site, clinician):
    p, course = build_patient(site)
    _events(p, course, clinician)
    recompute_patient(p.pk)
    return p


@pytest.fixture
def other_patient(other_site):
    p, _ = build_patient(other_site, "OTH-001")
    return p


def login(client, user):
    client.force_login(user)
    return client


PATIENT_PAGES = [
    "patient_detail",
    "patient_status",
    "patient_edit",
    "course_new",
    "cycle_new",
    "cycle_check",
    "labs_new",
    "scan_new",
    "progression_new",
    "adverse_new",
    "override_new",
]
FORM_PAGES = [name for name in PATIENT_PAGES if name not in ("patient_detail", "patient_status")]


# ------------------------------------------------------------------ rendering


@pytest.mark.parametrize("name", PATIENT_PAGES)
def test_every_patient_page_renders_for_a_clinician(client, clinician, patient, name):
    response = login(client, clinician).get(reverse(name, args=[patient.pk]))
    assert response.status_code == 200, response.content[:500]


def test_list_and_new_patient_render(client, clinician, patient):
    login(client, clinician)
    assert client.get(reverse("patient_list")).status_code == 200
    assert client.get(reverse("patient_new")).status_code == 200


def test_anonymous_is_sent_to_sign_in(client, patient):
    response = client.get(reverse("patient_detail", args=[patient.pk]))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_patient_page_shows_computed_results(client, clinician, patient):
    response = login(client, clinician).get(reverse("patient_detail", args=[patient.pk]))
    html = response.content.decode()
    state = PatientState.objects.get(patient=patient)
    assert state.stale is False
    # Worst platelets 40 after the course start: grade 3; the override with who and why.
    assert 'data-grade="platelets">G3<' in html
    assert "overridden (computed" in html and "Radiology review" in html and "clin" in html
    assert 'data-timepoint="swog"' in html and 'data-timepoint="recist"' in html
    assert "chart-platelets-data" in html and "plotly/plotly.min.js" in html
    assert "Cockcroft" in html and "Nausea" in html
    for identifier in IDENTIFIERS:
        assert identifier in html
    assert "recomputing" not in html.lower()


def test_stale_patient_shows_recomputing_and_status_says_so(client, clinician, patient):
    PatientState.objects.filter(patient=patient).update(stale=True)
    login(client, clinician)
    html = client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    assert 'data-stale="true"' in html and "recomputing" in html.lower()
    assert client.get(reverse("patient_status", args=[patient.pk])).json()["stale"] is True
    listing = client.get(reverse("patient_list")).content.decode()
    assert "recomputing…" in listing


def test_history_shows_who_changed_what(client, clinician, patient):
    lab = LabResult.objects.filter(patient=patient, analyte="platelets").get()
    lab.value = 45
    save_fact(lab, by=clinician)
    html = login(client, clinician).get(reverse("patient_detail", args=[patient.pk])).content
    html = html.decode()
    assert "Changed Lab platelets 01/07/2005" in html
    assert '<span class="field">value</span>: 40.0 → 45' in html


# ------------------------------------------------------------------ roles and sites


def test_research_sees_no_identifiers(client, researcher, patient):
    login(client, researcher)
    for url in (reverse("patient_detail", args=[patient.pk]), reverse("patient_list")):
        html = client.get(url).content.decode()
        for identifier in (*IDENTIFIERS, "1950-05-05"):
            assert identifier not in html, (url, identifier)
        assert "data-identifier" not in html
    # Age is fine for research; hospital-number search is not offered.
    listing = client.get(reverse("patient_list"), {"q": "H-7654321"}).content.decode()
    assert "SAL-001" not in listing
    assert "hospital number" not in listing.lower()


def test_clinician_finds_by_hospital_number(client, clinician, patient):
    html = login(client, clinician).get(reverse("patient_list"), {"q": "h-7654321"})
    assert "SAL-001" in html.content.decode()


@pytest.mark.parametrize("name", PATIENT_PAGES)
def test_other_sites_patient_is_404(client, clinician, other_patient, name):
    response = login(client, clinician).get(reverse(name, args=[other_patient.pk]))
    assert response.status_code == 404
    response = client.post(reverse(name, args=[other_patient.pk]), {})
    assert response.status_code in (404, 405)


def test_other_site_patient_not_listed(client, clinician, patient, other_patient):
    html = login(client, clinician).get(reverse("patient_list")).content.decode()
    assert "SAL-001" in html and "OTH-001" not in html


@pytest.mark.parametrize("name", FORM_PAGES)
def test_research_may_not_open_or_post_forms(client, researcher, patient, name):
    login(client, researcher)
    assert client.get(reverse(name, args=[patient.pk])).status_code == 403
    assert client.post(reverse(name, args=[patient.pk]), {}).status_code == 403


def test_research_may_not_create_patients(client, researcher):
    login(client, researcher)
    assert client.get(reverse("patient_new")).status_code == 403
    assert client.post(reverse("patient_new"), {}).status_code == 403


# ------------------------------------------------------------------ forms


def _errors_next_to(html: str, field_id: str) -> bool:
    return f'id="{field_id}_error"' in html


def test_patient_form_creates_patient_with_identity(client, clinician, site):
    response = login(client, clinician).post(
        reverse("patient_new"),
        {
            "study_id": "NEW-1",
            "site": site.pk,
            "sex": "M",
            "primary_site": "midgut",
            "diagnosis_date": "2004-01-01",
            "identity-name": "Piet",
            "identity-hospital_number": "999",
        },
    )
    assert response.status_code == 302
    patient = site.patients.get(study_id="NEW-1")
    assert patient.identity.hospital_number == "999"
    assert patient.history.first().history_user == clinician


def test_patient_form_errors_next_to_fields(client, clinician, site):
    response = login(client, clinician).post(
        reverse("patient_new"),
        {
            "study_id": "",
            "site": site.pk,
            "primary_site": "midgut",
            "ki67_percent": "140",
            "diagnosis_date": "2004-01-01",
            "death_date": "2003-01-01",
            "identity-birth_date": "2999-01-01",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    for field in ("id_study_id", "id_ki67_percent", "id_death_date", "id_identity-birth_date"):
        assert _errors_next_to(html, field), field
    assert "cannot be before the diagnosis date" in html


def test_patient_edit_stale_version_is_reported(client, clinician, patient):
    login(client, clinician)
    data = {
        "version": patient.version - 1 if patient.version > 1 else 99,
        "study_id": patient.study_id,
        "site": patient.site_id,
        "sex": "F",
        "primary_site": "pancreas",
    }
    response = client.post(reverse("patient_edit", args=[patient.pk]), data)
    assert response.status_code == 200
    assert "changed by someone else" in response.content.decode()


def test_cycle_with_warning_needs_a_reason(client, clinician, patient):
    login(client, clinician)
    url = reverse("cycle_new", args=[patient.pk])
    course = patient.courses.get()
    data = {"course": course.pk, "date": "2005-09-01", "administered_gbq": "7.4"}
    response = client.post(url, data)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-code="short_interval"' in html  # 31 days after the previous cycle
    assert _errors_next_to(html, "id_warning_reason")
    assert "Lifetime cumulative activity after this cycle: <strong>22.2 GBq" in html
    assert not Cycle.objects.filter(course=course, date="2005-09-01").exists()
    response = client.post(url, {**data, "warning_reason": "Tumour board decision"})
    assert response.status_code == 302
    cycle = Cycle.objects.get(course=course, date="2005-09-01")
    assert cycle.warning_reason == "Tumour board decision"
    assert cycle.history.first().history_user == clinician


def test_cycle_form_field_errors(client, clinician, patient):
    login(client, clinician)
    course = patient.courses.get()
    response = client.post(
        reverse("cycle_new", args=[patient.pk]),
        {"course": course.pk, "date": "2005-06-01", "administered_gbq": "40"},
    )
    html = response.content.decode()
    assert _errors_next_to(html, "id_administered_gbq")
    assert _errors_next_to(html, "id_date")  # a cycle on that date exists


def test_cycle_check_fragment(client, clinician, patient):
    login(client, clinician)
    response = client.get(
        reverse("cycle_check", args=[patient.pk]), {"date": "2005-08-10", "gbq": "7.4"}
    )
    assert 'data-code="short_interval"' in response.content.decode()
    bad = client.get(reverse("cycle_check", args=[patient.pk]), {"date": "nope", "gbq": "x"})
    assert bad.status_code == 200


def test_blood_panel_saves_all_and_remembers_units(client, clinician, patient):
    login(client, clinician)
    response = client.post(
        reverse("labs_new", args=[patient.pk]),
        {
            "drawn_on": "2005-07-20",
            "value_hemoglobin": "6.1",
            "unit_hemoglobin": "mmol/L",
            "value_platelets": "20",
            "unit_platelets": "10^9/L",
            "unit_creatinine": "mg/dL",
        },
    )
    assert response.status_code == 302
    labs = LabResult.objects.filter(patient=patient, date="2005-07-20")
    assert {lab.analyte for lab in labs} == {"hemoglobin", "platelets"}
    hb = labs.get(analyte="hemoglobin")
    assert hb.canonical_value == pytest.approx(6.1 * 1.611)
    profile = StaffProfile.objects.get(user=clinician)
    assert profile.preferred_units["hemoglobin"] == "mmol/L"
    page = client.get(reverse("labs_new", args=[patient.pk])).content.decode()
    assert '<option value="mmol/L" selected>' in page


def test_blood_panel_errors_next_to_fields_and_nothing_saved(client, clinician, patient):
    login(client, clinician)
    before = LabResult.objects.count()
    response = client.post(
        reverse("labs_new", args=[patient.pk]),
        {
            "drawn_on": "2005-07-20",
            "value_hemoglobin": "30",
            "unit_hemoglobin": "g/dL",
            "value_platelets": "100",
            "unit_platelets": "10^9/L",
            "value_wbc": "-1",
            "unit_wbc": "10^9/L",
        },
    )
    html = response.content.decode()
    assert _errors_next_to(html, "id_value_hemoglobin") and "plausible maximum" in html
    assert _errors_next_to(html, "id_value_wbc")
    assert LabResult.objects.count() == before
    empty = client.post(reverse("labs_new", args=[patient.pk]), {"drawn_on": "2005-07-20"})
    assert "Enter at least one value." in empty.content.decode()
    bad_unit = client.post(
        reverse("labs_new", args=[patient.pk]),
        {"drawn_on": "2005-07-20", "value_platelets": "9", "unit_platelets": "furlongs"},
    )
    assert _errors_next_to(bad_unit.content.decode(), "id_unit_platelets")


def _scan_post(rows, **extra):
    data = {
        "scanned_on": "2006-01-10",
        "modality": "CT",
        "lesions-TOTAL_FORMS": str(len(rows)),
        "lesions-INITIAL_FORMS": str(extra.pop("initial", 0)),
        "lesions-MIN_NUM_FORMS": "0",
        "lesions-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"lesions-{i}-{key}"] = value
    return data


def test_scan_form_prefills_previous_lesions(client, clinician, patient):
    html = login(client, clinician).get(reverse("scan_new", args=[patient.pk])).content
    html = html.decode()
    assert 'name="lesions-0-lesion"' in html and 'value="L1"' in html
    assert 'name="lesions-INITIAL_FORMS" value="1"' in html


def test_scan_form_records_scan_with_lesions(client, clinician, patient):
    login(client, clinician)
    rows = [
        {"lesion": "L1", "organ": "liver", "target": "on", "long_mm": "20", "short_mm": "15"},
        {"lesion": "N1", "organ": "liver", "new": "on"},
        {"lesion": ""},
    ]
    response = client.post(reverse("scan_new", args=[patient.pk]), _scan_post(rows, initial=1))
    assert response.status_code == 302
    scan = Scan.objects.get(patient=patient, date="2006-01-10")
    assert sorted(scan.lesions.values_list("lesion", flat=True)) == ["L1", "N1"]


def test_scan_form_errors_next_to_lesion_fields(client, clinician, patient):
    login(client, clinician)
    rows = [
        {"lesion": "L1", "target": "on", "long_mm": "", "short_mm": ""},
        {"lesion": "L2", "target": "on", "long_mm": "10", "short_mm": "20"},
        {"lesion": "L2", "target": "", "status": ""},
    ]
    response = client.post(reverse("scan_new", args=[patient.pk]), _scan_post(rows, initial=1))
    html = response.content.decode()
    assert _errors_next_to(html, "id_lesions-0-long_mm")
    assert _errors_next_to(html, "id_lesions-1-short_mm")
    assert _errors_next_to(html, "id_lesions-2-status")
    assert _errors_next_to(html, "id_lesions-2-lesion")  # listed twice
    assert not Scan.objects.filter(date="2006-01-10").exists()
    # "Not assessed" skips a prefilled lesion without sizes.
    rows = [{"lesion": "L1", "target": "on", "DELETE": "on"}]
    response = client.post(reverse("scan_new", args=[patient.pk]), _scan_post(rows, initial=1))
    assert response.status_code == 302


def test_override_requires_reason_and_records_who(client, clinician, patient):
    login(client, clinician)
    course = patient.courses.get()
    url = reverse("override_new", args=[patient.pk])
    response = client.post(
        url, {"course": course.pk, "criteria": "recist", "response": "MR", "reason": "  "}
    )
    html = response.content.decode()
    assert _errors_next_to(html, "id_reason") and _errors_next_to(html, "id_response")
    response = client.post(
        url, {"course": course.pk, "criteria": "recist", "response": "PR", "reason": "Review"}
    )
    assert response.status_code == 302
    override = ResponseOverride.objects.get(course=course, criteria="recist")
    assert override.decided_by == clinician and override.reason == "Review"


def test_event_forms(client, clinician, patient):
    login(client, clinician)
    r = client.post(
        reverse("adverse_new", args=[patient.pk]),
        {"term": "MDS", "grade": "4", "onset": "2008-02-01"},
    )
    assert r.status_code == 302
    r = client.post(reverse("adverse_new", args=[patient.pk]), {"term": "", "grade": "9"})
    html = r.content.decode()
    assert _errors_next_to(html, "id_term") and _errors_next_to(html, "id_grade")
    assert _errors_next_to(html, "id_onset")
    r = client.post(reverse("progression_new", args=[patient.pk]), {"date": "2999-01-01"})
    assert _errors_next_to(r.content.decode(), "id_date")
    r = client.post(reverse("course_new", args=[patient.pk]), {"phase": "x"})
    assert _errors_next_to(r.content.decode(), "id_phase")


def test_garbage_input_never_500s(client, clinician, patient):
    login(client, clinician)
    for name in FORM_PAGES:
        url = reverse(name, args=[patient.pk])
        assert (
            client.post(url, {"date": "x" * 300, "course": "abc", "drawn_on": "0"}).status_code
            < 500
        )
    assert (
        client.get(reverse("patient_list"), {"page": "zz", "status": "x" * 99}).status_code == 200
    )


# ------------------------------------------------------------------ query counts


def _count_queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_patient_list_query_count_is_constant(client, clinician, site, django_assert_num_queries):
    login(client, clinician)
    p, _ = build_patient(site, "Q-000")
    recompute_patient(p.pk)
    url = reverse("patient_list")
    client.get(url)  # warm the session
    one = _count_queries(client, url)
    for i in range(1, 30):
        q, _ = build_patient(site, f"Q-{i:03d}")
        recompute_patient(q.pk)
    with django_assert_num_queries(one):
        response = client.get(url)
    assert response.content.decode().count('href="/patients/') >= 30


def test_patient_page_query_count_is_constant(client, clinician, site, django_assert_num_queries):
    login(client, clinician)
    small, _ = build_patient(site, "S-001")
    recompute_patient(small.pk)
    big, course = build_patient(site, "B-001", extra_labs=40)
    _events(big, course, clinician)
    for i in range(10):
        factories.CycleFactory(course=course, date=dt.date(2006, 1, 1) + dt.timedelta(days=50 * i))
        scan = factories.ScanFactory(patient=big, date=dt.date(2006, 1, 5) + dt.timedelta(50 * i))
        factories.LesionFactory(scan=scan, lesion="L1", long_mm=30, short_mm=20)
        factories.LesionFactory(scan=scan, lesion="L2", long_mm=10, short_mm=10)
    recompute_patient(big.pk)
    client.get(reverse("patient_detail", args=[small.pk]))  # warm the session
    baseline = _count_queries(client, reverse("patient_detail", args=[small.pk]))
    with django_assert_num_queries(baseline):
        client.get(reverse("patient_detail", args=[big.pk]))
