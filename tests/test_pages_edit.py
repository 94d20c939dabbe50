"""Correcting and removing facts on the clinician pages: edit and delete, versions, audit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from registry.derive.recompute import recompute_patient
from registry.models import (
    AdverseEvent,
    ClinicalProgression,
    Course,
    Cycle,
    LabResult,
    LesionMeasurement,
    ResponseOverride,
    Scan,
)
from registry.records import clinic
from registry.records.facts import save_fact
from tests.test_pages_clinic import _events, _scan_post, build_patient, login

pytestmark = pytest.mark.django_db

STALE = "changed by someone else since you opened it"
KINDS = ("course", "cycle", "lab", "scan", "progression", "adverse", "override")
EDIT_AND_DELETE = [f"{kind}_{action}" for kind in KINDS for action in ("edit", "delete")]


@pytest.fixture
def patient(site, clinician):
    p, course = build_patient(site)
    _events(p, course, clinician)
    recompute_patient(p.pk)
    return p


@pytest.fixture
def neighbour(site, clinician):
    """A second patient of the same site: visible to the clinician, but not under `patient`."""
    p, course = build_patient(site, "SAL-002")
    _events(p, course, clinician)
    return p


@pytest.fixture
def other_patient(other_site):
    p, course = build_patient(other_site, "OTH-001")
    _events(p, course)
    return p


def fact_ids(patient) -> dict[str, int]:
    course = Course.objects.filter(patient=patient).first()
    return {
        "course": course.pk,
        "cycle": Cycle.objects.filter(course__patient=patient).order_by("date").last().pk,
        "lab": LabResult.objects.get(patient=patient, analyte="platelets").pk,
        "scan": Scan.objects.filter(patient=patient).order_by("date").last().pk,
        "progression": ClinicalProgression.objects.get(patient=patient).pk,
        "adverse": AdverseEvent.objects.get(patient=patient).pk,
        "override": ResponseOverride.objects.get(course__patient=patient).pk,
    }


def url(name: str, patient, ids: dict[str, int] | None = None) -> str:
    ids = ids or fact_ids(patient)
    return reverse(name, args=[patient.pk, ids[name.rsplit("_", 1)[0]]])


def _errors_next_to(html: str, field_id: str) -> bool:
    return f'id="{field_id}_error"' in html


# ------------------------------------------------------------------ pages and links


@pytest.mark.parametrize("name", EDIT_AND_DELETE)
def test_every_edit_and_delete_page_renders(client, clinician, patient, name):
    response = login(client, clinician).get(url(name, patient))
    assert response.status_code == 200, response.content[:500]
    html = response.content.decode()
    assert 'name="version"' in html
    if name.endswith("_delete"):
        assert 'name="reason"' in html and "Delete " in html


def test_patient_page_links_every_fact_with_a_named_link(client, clinician, patient):
    html = login(client, clinician).get(reverse("patient_detail", args=[patient.pk]))
    html = html.content.decode()
    ids = fact_ids(patient)
    for name in EDIT_AND_DELETE:
        assert f'href="{url(name, patient, ids)}"' in html, name
    assert 'Edit<span class="visually-hidden"> cycle 01/08/2005</span>' in html
    assert 'Delete<span class="visually-hidden"> cycle 01/08/2005</span>' in html
    assert 'Edit<span class="visually-hidden"> salvage course from 01/06/2005</span>' in html
    assert 'Edit<span class="visually-hidden"> Platelets value 01/07/2005</span>' in html
    assert 'Edit<span class="visually-hidden"> CT scan 20/10/2005</span>' in html
    assert 'Remove<span class="visually-hidden"> SWOG override</span>' in html


def test_research_page_has_no_edit_links(client, researcher, patient):
    html = login(client, researcher).get(reverse("patient_detail", args=[patient.pk]))
    html = html.content.decode()
    assert "/edit/" not in html and "/delete/" not in html


# ------------------------------------------------------------------ roles, sites, ownership


@pytest.mark.parametrize("name", EDIT_AND_DELETE)
def test_research_gets_403_on_get_and_post(client, researcher, patient, name):
    login(client, researcher)
    before = fact_ids(patient)
    assert client.get(url(name, patient)).status_code == 403
    assert client.post(url(name, patient), {"reason": "x", "version": "1"}).status_code == 403
    assert fact_ids(patient) == before


@pytest.mark.parametrize("name", EDIT_AND_DELETE)
def test_other_sites_fact_is_404_on_get_and_post(client, clinician, other_patient, name):
    login(client, clinician)
    target = url(name, other_patient)
    assert client.get(target).status_code == 404
    assert client.post(target, {"reason": "x", "version": "1"}).status_code == 404
    assert Course.objects.filter(patient=other_patient).exists()


@pytest.mark.parametrize("name", EDIT_AND_DELETE)
def test_other_sites_clinician_gets_404(client, other_clinician, patient, name):
    login(client, other_clinician)
    assert client.get(url(name, patient)).status_code == 404
    assert client.post(url(name, patient), {"reason": "x", "version": "1"}).status_code == 404


@pytest.mark.parametrize("name", EDIT_AND_DELETE)
def test_another_patients_fact_under_this_patient_is_404(
    client, clinician, patient, neighbour, name
):
    """The clinician may see both patients; a fact is still only found under its own one."""
    login(client, clinician)
    theirs = fact_ids(neighbour)
    target = reverse(name, args=[patient.pk, theirs[name.rsplit("_", 1)[0]]])
    assert client.get(target).status_code == 404
    assert client.post(target, {"reason": "x", "version": "1"}).status_code == 404
    assert fact_ids(neighbour) == theirs


def test_missing_fact_is_404_and_other_methods_405(client, clinician, patient):
    login(client, clinician)
    assert client.get(reverse("lab_edit", args=[patient.pk, 999999])).status_code == 404
    assert client.put(url("lab_delete", patient)).status_code == 405
    assert client.delete(url("lab_delete", patient)).status_code == 405


# ------------------------------------------------------------------ editing each kind


def test_edit_course(client, clinician, patient):
    login(client, clinician)
    course = Course.objects.get(patient=patient)
    response = client.post(
        url("course_edit", patient),
        {
            "version": course.version,
            "phase": "salvage",
            "intended_activity_gbq": "22.2",
            "stop_reason": "toxicity",
            "change_reason": "Letter from the referring hospital",
        },
    )
    assert response.status_code == 302 and response["Location"].endswith("#courses")
    course.refresh_from_db()
    assert course.stop_reason == "toxicity" and course.intended_activity_gbq == 22.2
    assert course.version == 2
    last = course.history.first()
    assert last.history_user == clinician
    assert last.history_change_reason == "Letter from the referring hospital"


def test_edit_cycle_note_only_needs_no_warning_reason(client, clinician, patient):
    """The recorded cycle warns (no recent labs), but correcting its note does not re-check."""
    login(client, clinician)
    cycle = Cycle.objects.get(course__patient=patient, date="2005-08-01")
    data = {
        "version": cycle.version,
        "course": cycle.course_id,
        "date": "2005-08-01",
        "administered_gbq": "7.4",
        "note": "Infusion over 30 min",
    }
    response = client.post(url("cycle_edit", patient), data)
    assert response.status_code == 302
    cycle.refresh_from_db()
    assert cycle.note == "Infusion over 30 min" and cycle.version == 2
    assert cycle.history.first().history_user == clinician


def test_edit_cycle_date_runs_the_checks_without_counting_itself(client, clinician, patient):
    login(client, clinician)
    cycle = Cycle.objects.get(course__patient=patient, date="2005-08-01")
    edit = url("cycle_edit", patient)
    page = client.get(edit).content.decode()
    # Its own stored row is not a "previous cycle": lifetime 14.8, not 22.2.
    assert "Lifetime cumulative activity after this cycle: <strong>14.8 GBq" in page
    assert f"?cycle={cycle.pk}" in page
    data = {
        "version": cycle.version,
        "course": cycle.course_id,
        "date": "2005-07-01",  # 30 days after the first cycle
        "administered_gbq": "7.4",
    }
    response = client.post(edit, data)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-code="short_interval"' in html and _errors_next_to(html, "id_warning_reason")
    assert Cycle.objects.get(pk=cycle.pk).date == dt.date(2005, 8, 1)
    response = client.post(edit, {**data, "warning_reason": "Tumour board"})
    assert response.status_code == 302
    assert Cycle.objects.get(pk=cycle.pk).date == dt.date(2005, 7, 1)


def test_check_cycle_excludes_the_cycle_being_corrected(patient):
    cycle = Cycle.objects.get(course__patient=patient, date="2005-08-01")
    later = dt.date(2005, 8, 11)
    counted = clinic.check_cycle(patient, cycle_date=later, activity_gbq=7.4)
    assert counted.lifetime_after_gbq == pytest.approx(22.2)
    assert "short_interval" in {w.code for w in counted.warnings}  # 10 days after itself
    moved = clinic.check_cycle(patient, cycle_date=later, activity_gbq=7.4, excluding=cycle)
    assert moved.lifetime_after_gbq == pytest.approx(14.8)
    assert "short_interval" not in {w.code for w in moved.warnings}  # 71 days after 06-01


def test_cycle_check_fragment_for_an_edited_cycle(client, clinician, patient, neighbour):
    login(client, clinician)
    cycle = Cycle.objects.get(course__patient=patient, date="2005-08-01")
    check = reverse("cycle_check", args=[patient.pk])
    query = {"date": "2005-08-11", "gbq": "7.4"}  # the stored cycle would count as before
    html = client.get(check, {**query, "cycle": cycle.pk}).content.decode()
    assert "<strong>14.8 GBq" in html
    # Another patient's cycle id is ignored, junk too.
    theirs = Cycle.objects.filter(course__patient=neighbour).last().pk
    for junk in (theirs, "x", "²", "9" * 40):
        response = client.get(check, {**query, "cycle": junk})
        assert response.status_code == 200 and "<strong>22.2 GBq" in response.content.decode()


def test_edit_lab_value_converts_and_reports_errors_next_to_fields(client, clinician, patient):
    login(client, clinician)
    lab = LabResult.objects.get(patient=patient, analyte="platelets")
    edit = url("lab_edit", patient)
    bad = client.post(
        edit, {"version": lab.version, "date": "2999-01-01", "value": "-3", "unit": "10^9/L"}
    )
    html = bad.content.decode()
    assert _errors_next_to(html, "id_value") and _errors_next_to(html, "id_date")
    implausible = client.post(
        edit, {"version": lab.version, "date": "2005-07-01", "value": "90000", "unit": "10^9/L"}
    )
    assert _errors_next_to(implausible.content.decode(), "id_value")
    bad_unit = client.post(
        edit, {"version": lab.version, "date": "2005-07-01", "value": "45", "unit": "g/dL"}
    )
    assert _errors_next_to(bad_unit.content.decode(), "id_unit")
    assert LabResult.objects.get(pk=lab.pk).value == 40
    ok = client.post(
        edit, {"version": lab.version, "date": "2005-07-02", "value": "45", "unit": "10^9/L"}
    )
    assert ok.status_code == 302 and ok["Location"].endswith("#labs")
    lab.refresh_from_db()
    assert (lab.value, lab.canonical_value, lab.date) == (45, 45, dt.date(2005, 7, 2))


def test_edit_hemoglobin_unit_recomputes_canonical_value(client, clinician, patient):
    login(client, clinician)
    lab = LabResult.objects.get(patient=patient, analyte="hemoglobin")
    response = client.post(
        reverse("lab_edit", args=[patient.pk, lab.pk]),
        {"version": lab.version, "date": "2005-07-02", "value": "11.3", "unit": "g/dL"},
    )
    assert response.status_code == 302
    lab.refresh_from_db()
    assert lab.unit == "g/dL" and lab.canonical_value == pytest.approx(11.3)


def test_edit_scan_updates_adds_and_removes_lesions(client, clinician, patient):
    login(client, clinician)
    scan = Scan.objects.filter(patient=patient).order_by("date").last()
    edit = url("scan_edit", patient)
    page = client.get(edit).content.decode()
    assert 'value="L1"' in page and 'value="30.0"' in page and "Remove" in page
    rows = [
        {"lesion": "L1", "organ": "liver", "target": "on", "long_mm": "28", "short_mm": "20"},
        {"lesion": "N1", "organ": "bone", "status": "present"},
    ]
    data = _scan_post(rows, initial=1)
    data.update({"scanned_on": "2005-10-21", "modality": "MRI", "version": scan.version})
    assert client.post(edit, data).status_code == 302
    scan.refresh_from_db()
    assert (scan.date, scan.modality, scan.version) == (dt.date(2005, 10, 21), "MRI", 2)
    lesions = {lesion.lesion: lesion for lesion in scan.lesions.all()}
    assert set(lesions) == {"L1", "N1"}
    assert lesions["L1"].long_mm == 28 and lesions["N1"].status == "present"

    # Remove N1 with the row's "Remove" box; L1 unchanged is not re-saved.
    l1_version = lesions["L1"].version
    rows = [
        {"lesion": "L1", "organ": "liver", "target": "on", "long_mm": "28", "short_mm": "20"},
        {"lesion": "N1", "organ": "bone", "status": "present", "DELETE": "on"},
    ]
    data = _scan_post(rows, initial=2)
    data.update({"scanned_on": "2005-10-21", "modality": "MRI", "version": scan.version})
    data["change_reason"] = "N1 was a cyst"
    assert client.post(edit, data).status_code == 302
    assert list(scan.lesions.values_list("lesion", flat=True)) == ["L1"]
    assert LesionMeasurement.objects.get(scan=scan, lesion="L1").version == l1_version
    gone = LesionMeasurement.history.filter(lesion="N1", history_type="-").get()
    assert gone.history_user == clinician and gone.history_change_reason == "N1 was a cyst"


def test_edit_scan_errors_next_to_lesion_fields_and_nothing_changed(client, clinician, patient):
    login(client, clinician)
    scan = Scan.objects.filter(patient=patient).order_by("date").last()
    rows = [
        {"lesion": "L1", "target": "on", "long_mm": "10", "short_mm": "20"},
        {"lesion": "L1", "target": "on", "long_mm": "5", "short_mm": "5"},
    ]
    data = _scan_post(rows, initial=1)
    data.update({"scanned_on": "2999-01-01", "modality": "CT", "version": scan.version})
    html = client.post(url("scan_edit", patient), data).content.decode()
    assert _errors_next_to(html, "id_lesions-0-short_mm")
    assert _errors_next_to(html, "id_lesions-1-lesion")
    scan.refresh_from_db()
    assert scan.version == 1 and scan.lesions.get().long_mm == 30


def test_edit_scan_future_date_is_a_field_error(client, clinician, patient):
    login(client, clinician)
    scan = Scan.objects.filter(patient=patient).order_by("date").last()
    rows = [{"lesion": "L1", "target": "on", "long_mm": "30", "short_mm": "25"}]
    data = _scan_post(rows, initial=1)
    data.update({"scanned_on": "2999-01-01", "modality": "CT", "version": scan.version})
    html = client.post(url("scan_edit", patient), data).content.decode()
    assert _errors_next_to(html, "id_scanned_on")
    assert Scan.objects.get(pk=scan.pk).date == dt.date(2005, 10, 20)


def test_edit_progression_and_adverse_event(client, clinician, patient):
    login(client, clinician)
    progression = ClinicalProgression.objects.get(patient=patient)
    response = client.post(
        url("progression_edit", patient),
        {"version": progression.version, "date": "2006-03-05", "note": "bone pain"},
    )
    assert response.status_code == 302 and response["Location"].endswith("#events")
    progression.refresh_from_db()
    assert progression.date == dt.date(2006, 3, 5) and progression.note == "bone pain"

    event = AdverseEvent.objects.get(patient=patient)
    bad = client.post(
        url("adverse_edit", patient),
        {"version": event.version, "term": "", "grade": "7", "onset": "nope"},
    )
    html = bad.content.decode()
    for field in ("id_term", "id_grade", "id_onset"):
        assert _errors_next_to(html, field), field
    ok = client.post(
        url("adverse_edit", patient),
        {"version": event.version, "term": "Nausea", "grade": "3", "onset": "2005-06-02"},
    )
    assert ok.status_code == 302
    event.refresh_from_db()
    assert event.grade == 3 and event.history.first().history_user == clinician


def test_replace_override_with_reason(client, clinician, admin_user, patient):
    login(client, admin_user)
    override = ResponseOverride.objects.get(course__patient=patient)
    edit = url("override_edit", patient)
    bad = client.post(edit, {"version": override.version, "response": "XX", "reason": " "})
    html = bad.content.decode()
    assert _errors_next_to(html, "id_response") and _errors_next_to(html, "id_reason")
    ok = client.post(
        edit, {"version": override.version, "response": "SD", "reason": "Second review"}
    )
    assert ok.status_code == 302
    override.refresh_from_db()
    assert (override.response, override.reason) == ("SD", "Second review")
    assert override.decided_by == admin_user and override.version == 2


def test_recist_override_cannot_become_minor_response(client, clinician, patient):
    login(client, clinician)
    override = ResponseOverride.objects.get(course__patient=patient)
    override.criteria = "recist"
    save_fact(override, by=clinician)
    response = client.post(
        url("override_edit", patient),
        {"version": override.version, "response": "MR", "reason": "Review"},
    )
    assert _errors_next_to(response.content.decode(), "id_response")
    assert ResponseOverride.objects.get(pk=override.pk).response == "PR"


# ------------------------------------------------------------------ stale versions


def _edit_data(kind: str, patient) -> dict:
    """A valid edit of each kind (without the version)."""
    course = Course.objects.get(patient=patient)
    return {
        "course": {"phase": "salvage", "stop_reason": "completed"},
        "cycle": {
            "course": course.pk,
            "date": "2005-08-01",
            "administered_gbq": "7.4",
            "note": "stale edit",
        },
        "lab": {"date": "2005-07-01", "value": "41", "unit": "10^9/L"},
        "scan": {
            **_scan_post(
                [{"lesion": "L1", "target": "on", "long_mm": "11", "short_mm": "9"}], initial=1
            ),
            "scanned_on": "2005-10-20",
            "modality": "CT",
        },
        "progression": {"date": "2006-03-01", "note": "stale edit"},
        "adverse": {"term": "Vomiting", "grade": "2", "onset": "2005-06-02"},
        "override": {"response": "SD", "reason": "stale edit"},
    }[kind]


MODELS = {
    "course": Course,
    "cycle": Cycle,
    "lab": LabResult,
    "scan": Scan,
    "progression": ClinicalProgression,
    "adverse": AdverseEvent,
    "override": ResponseOverride,
}


def _snapshot(kind: str, pk: int) -> dict:
    row = MODELS[kind].objects.filter(pk=pk).values().get()
    row.pop("updated_at")
    if kind == "scan":
        row["lesions"] = list(LesionMeasurement.objects.filter(scan_id=pk).values())
    return row


@pytest.mark.parametrize("kind", KINDS)
def test_stale_edit_is_refused_and_changes_nothing(client, clinician, patient, kind):
    login(client, clinician)
    ids = fact_ids(patient)
    fact = MODELS[kind].objects.get(pk=ids[kind])
    # Someone else saves the record after this clinician opened the page at version 1.
    save_fact(fact, by=clinician)
    before = _snapshot(kind, fact.pk)
    assert before["version"] == 2
    response = client.post(
        url(f"{kind}_edit", patient, ids), {**_edit_data(kind, patient), "version": 1}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert STALE in html and "reload" in html
    assert _snapshot(kind, fact.pk) == before
    # The same edit at the current version goes through (so the data above was valid).
    response = client.post(
        url(f"{kind}_edit", patient, ids), {**_edit_data(kind, patient), "version": 2}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert _snapshot(kind, fact.pk)["version"] == 3


@pytest.mark.parametrize("kind", KINDS)
def test_stale_delete_is_refused_and_deletes_nothing(client, clinician, patient, kind):
    login(client, clinician)
    ids = fact_ids(patient)
    fact = MODELS[kind].objects.get(pk=ids[kind])
    save_fact(fact, by=clinician)
    response = client.post(url(f"{kind}_delete", patient, ids), {"version": 1, "reason": "dup"})
    assert response.status_code == 200 and STALE in response.content.decode()
    assert MODELS[kind].objects.filter(pk=fact.pk).exists()
    assert fact_ids(patient) == ids


def test_edit_without_version_is_refused(client, clinician, patient):
    login(client, clinician)
    response = client.post(url("progression_edit", patient), {"date": "2006-03-02"})
    assert "lacks the record&#x27;s version" in response.content.decode()
    assert ClinicalProgression.objects.get(patient=patient).date == dt.date(2006, 3, 1)


# ------------------------------------------------------------------ deleting


def test_delete_asks_for_confirmation_and_a_reason(client, clinician, patient):
    login(client, clinician)
    lab = LabResult.objects.get(patient=patient, analyte="platelets")
    target = url("lab_delete", patient)
    page = client.get(target).content.decode()
    assert "Delete Platelets value 01/07/2005?" in page
    assert LabResult.objects.filter(pk=lab.pk).exists()  # GET never deletes
    response = client.post(target, {"version": lab.version, "reason": "   "})
    assert _errors_next_to(response.content.decode(), "id_reason")
    long = client.post(target, {"version": lab.version, "reason": "x" * 101})
    assert _errors_next_to(long.content.decode(), "id_reason")
    assert LabResult.objects.filter(pk=lab.pk).exists()
    response = client.post(target, {"version": lab.version, "reason": "Wrong patient's sample"})
    assert response.status_code == 302 and response["Location"].endswith("#labs")
    assert not LabResult.objects.filter(pk=lab.pk).exists()
    row = LabResult.history.filter(id=lab.pk, history_type="-").get()
    assert row.history_user == clinician
    assert row.history_change_reason == "Wrong patient's sample"


def test_deleting_a_course_deletes_and_audits_its_cycles(client, clinician, patient):
    login(client, clinician)
    course = Course.objects.get(patient=patient)
    cycle_ids = list(course.cycles.values_list("pk", flat=True))
    page = client.get(url("course_delete", patient)).content.decode()
    assert "Its 2 cycles and 1 response override are deleted with it." in page
    response = client.post(
        url("course_delete", patient), {"version": course.version, "reason": "Duplicate entry"}
    )
    assert response.status_code == 302
    assert not Course.objects.filter(pk=course.pk).exists()
    assert not Cycle.objects.filter(pk__in=cycle_ids).exists()
    deleted = Cycle.history.filter(id__in=cycle_ids, history_type="-")
    assert deleted.count() == 2
    assert {(r.history_user, r.history_change_reason) for r in deleted} == {
        (clinician, "Course deleted: Duplicate entry")
    }
    assert ResponseOverride.history.filter(history_type="-").get().history_user == clinician
    recompute_patient(patient.pk)
    # The patient page's history shows the deletions with the reason.
    html = client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    assert '<span class="tag deleted">Deleted</span> Course' in html
    assert '<span class="tag deleted">Deleted</span> Cycle 01/06/2005' in html
    assert "Duplicate entry" in html and "Course deleted: Duplicate entry" in html


def test_deleting_a_scan_deletes_its_lesions(client, clinician, patient):
    login(client, clinician)
    scan = Scan.objects.filter(patient=patient).order_by("date").last()
    response = client.post(url("scan_delete", patient), {"version": 1, "reason": "Not ours"})
    assert response.status_code == 302
    assert not Scan.objects.filter(pk=scan.pk).exists()
    gone = LesionMeasurement.history.filter(scan_id=scan.pk, history_type="-").get()
    assert gone.history_user == clinician and gone.history_change_reason == "Scan deleted: Not ours"


@pytest.mark.parametrize("kind", ["cycle", "progression", "adverse", "override"])
def test_delete_each_kind_writes_history_with_user_and_reason(client, clinician, patient, kind):
    login(client, clinician)
    ids = fact_ids(patient)
    response = client.post(url(f"{kind}_delete", patient, ids), {"version": 1, "reason": "Typo"})
    assert response.status_code == 302
    assert not MODELS[kind].objects.filter(pk=ids[kind]).exists()
    row = MODELS[kind].history.filter(id=ids[kind], history_type="-").get()
    assert (row.history_user, row.history_change_reason) == (clinician, "Typo")
    html = client.get(reverse("patient_detail", args=[patient.pk])).content.decode()
    assert '<span class="tag deleted">Deleted</span>' in html and "<td>Typo</td>" in html


# ------------------------------------------------------------------ junk


@pytest.mark.parametrize("name", EDIT_AND_DELETE)
def test_junk_never_500s(client, clinician, patient, name):
    login(client, clinician)
    junk = {
        "version": "9" * 40,
        "date": "x" * 300,
        "course": "abc",
        "value": "NaN",
        "unit": "\x00",
        "scanned_on": "0",
        "lesions-TOTAL_FORMS": "zz",
        "response": "PR",
        "reason": "r" * 5000,
        "grade": "1e9",
        "administered_gbq": "inf",
    }
    assert client.post(url(name, patient), junk).status_code < 500
    assert client.post(url(name, patient), {}).status_code < 500
    assert client.post(url(name, patient), {"version": "-1", "reason": "x"}).status_code < 500
    assert fact_ids(patient)  # nothing deleted by any of it
