"""Record status, locking and data queries through the pages, the API and imports,
the refusals included (issue 14: verification and locking)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from registry import models
from registry.interchange.documents import export_document, import_document
from registry.records.verification import set_course_status
from tests import factories

D = dt.date


@pytest.fixture
def monitor(site):
    return factories.UserFactory(username="mona", role="monitor", sites=[site])


@pytest.fixture
def course(site):
    patient = factories.PatientFactory(site=site, study_id="VF-1")
    course = factories.CourseFactory(patient=patient)
    factories.CycleFactory(course=course, date=D(2005, 6, 1))
    factories.CycleFactory(course=course, date=D(2005, 7, 27))
    factories.LabFactory(patient=patient, date=D(2005, 7, 1), value=120, canonical_value=120)
    factories.ScanFactory(patient=patient, date=D(2005, 9, 1))
    return course


def status(client, course, value, **extra):
    url = reverse("course_status", args=[course.patient_id, course.pk])
    return client.post(url, {"status": value, **extra})


def current(course) -> str:
    return models.Course.objects.get(pk=course.pk).record_status


def test_clinicians_complete_monitors_verify_admins_unlock_with_a_reason(
    client, clinician, monitor, admin_user, researcher, course
):
    client.force_login(researcher)
    assert status(client, course, "complete").status_code == 403
    client.force_login(clinician)
    assert status(client, course, "complete").status_code == 302
    assert current(course) == "complete"
    assert status(client, course, "verified").status_code == 403  # a clinician cannot verify
    assert current(course) == "complete"
    client.force_login(monitor)
    assert status(client, course, "verified").status_code == 302
    assert current(course) == "verified"
    assert status(client, course, "complete").status_code == 403  # nor a monitor unlock
    client.force_login(admin_user)
    status(client, course, "complete")  # no reason: refused with a message
    assert current(course) == "verified"
    page = client.get(reverse("patient_detail", args=[course.patient_id])).content.decode()
    assert "Give the reason for unlocking" in page
    status(client, course, "complete", reason="lab value to correct (query 3)")
    assert current(course) == "complete"
    steps = models.Course.history.filter(id=course.pk).order_by("history_id")
    reasons = [h.history_change_reason for h in steps if h.history_change_reason]
    assert reasons == [
        "status incomplete → complete",
        "status complete → verified",
        "lab value to correct (query 3)",
    ]
    assert steps.last().history_user == admin_user
    page = client.get(reverse("patient_detail", args=[course.patient_id])).content.decode()
    assert 'data-status="complete"' in page


def test_verifying_needs_a_complete_course(client, monitor, course):
    client.force_login(monitor)
    status(client, course, "verified")
    assert current(course) == "incomplete"


@pytest.fixture
def locked(course, clinician, monitor):
    set_course_status(course, "complete", by=clinician)
    return set_course_status(course, "verified", by=monitor)


def test_a_locked_courses_facts_refuse_edits_on_the_pages(client, clinician, locked):
    client.force_login(clinician)
    cycle = locked.cycles.order_by("date").first()
    url = reverse("cycle_edit", args=[locked.patient_id, cycle.pk])
    form = {
        "course": locked.pk,
        "date": "2005-06-01",
        "administered_gbq": "7.0",
        "warning_reason": "ok",
    }
    response = client.post(url, {**form, "version": cycle.version})
    assert response.status_code == 200 and "verified and locked" in response.content.decode()
    cycle.refresh_from_db()
    assert cycle.administered_gbq == 7.4
    lab = models.LabResult.objects.get(patient_id=locked.patient_id)
    delete = reverse("lab_delete", args=[locked.patient_id, lab.pk])
    response = client.post(delete, {"version": lab.version, "reason": "typo"})
    assert response.status_code == 200 and "verified and locked" in response.content.decode()
    assert models.LabResult.objects.filter(pk=lab.pk).exists()
    panel = client.post(
        reverse("labs_new", args=[locked.patient_id]),
        {"drawn_on": "2005-08-01", "value_platelets": "150", "unit_platelets": "10^9/L"},
    )
    assert panel.status_code == 200 and "verified and locked" in panel.content.decode()
    # A lab before the course is not part of it.
    before = client.post(
        reverse("labs_new", args=[locked.patient_id]),
        {"drawn_on": "2005-05-01", "value_platelets": "150", "unit_platelets": "10^9/L"},
    )
    assert before.status_code == 302


def test_a_locked_courses_facts_answer_409_locked_through_the_api(clinician, locked):
    api = APIClient()
    api.force_authenticate(clinician)
    cycle = locked.cycles.order_by("date").first()
    patch = api.patch(f"/api/v1/cycles/{cycle.pk}/", {"activity_gbq": 7.0}, format="json")
    assert patch.status_code == 409 and "verified and locked" in patch.json()["detail"]
    assert patch.json()["locked"] is True
    cycle.refresh_from_db()
    assert cycle.administered_gbq == 7.4
    lab = models.LabResult.objects.get(patient_id=locked.patient_id)
    assert api.delete(f"/api/v1/labs/{lab.pk}/").status_code == 409
    body = {"patient": locked.patient_id, "date": "2005-08-01", "analyte": "wbc"}
    new = api.post("/api/v1/labs/", {**body, "value": 5, "unit": "10^9/L"}, format="json")
    assert new.status_code == 409
    assert (
        api.patch(f"/api/v1/courses/{locked.pk}/", {"stop_reason": "completed"}).status_code == 409
    )
    status_url = f"/api/v1/courses/{locked.pk}/status/"
    assert api.get(status_url).json()["status"] == "verified"
    assert api.post(status_url, {"status": "complete", "reason": "x"}).status_code == 403


def test_the_api_runs_the_same_status_rules(clinician, monitor, admin_user, course):
    api = APIClient()
    url = f"/api/v1/courses/{course.pk}/status/"
    api.force_authenticate(clinician)
    assert api.post(url, {"status": "complete"}, format="json").json()["status"] == "complete"
    assert api.post(url, {"status": "verified"}, format="json").status_code == 403
    assert api.post(url, {"status": "signed"}, format="json").status_code == 400
    api.force_authenticate(monitor)
    verified = api.post(url, {"status": "verified"}, format="json").json()
    assert verified["status"] == "verified" and verified["status_changed_by"] == "mona"
    api.force_authenticate(admin_user)
    refused = api.post(url, {"status": "complete"}, format="json")
    assert refused.status_code == 400 and "reason" in refused.json()
    assert api.post(url, {"status": "complete", "reason": "fix"}, format="json").status_code == 200
    other = factories.CourseFactory(patient=factories.PatientFactory(site=factories.SiteFactory()))
    api.force_authenticate(clinician)
    assert api.get(f"/api/v1/courses/{other.pk}/status/").status_code == 404


def test_an_import_may_not_change_a_locked_patient(clinician, locked):
    patient = models.Patient.objects.filter(pk=locked.patient_id)
    doc = export_document(patient)
    assert import_document(doc, by=clinician).ok  # the same facts: nothing to refuse
    doc["patients"][0]["courses"][0]["cycles"][0]["activity_gbq"] = 7.0
    result = import_document(doc, by=clinician)
    assert not result.ok
    assert [e.path for e in result.errors] == ["patients[0]"]
    assert "verified course" in result.errors[0].message
    assert sorted(
        models.Cycle.objects.filter(course=locked).values_list("administered_gbq", flat=True)
    ) == [7.4, 7.4]


# --- queries -------------------------------------------------------------------------


def test_a_query_is_opened_answered_and_closed_on_the_patient_page(
    client, clinician, monitor, researcher, course
):
    lab = models.LabResult.objects.get(patient_id=course.patient_id)
    client.force_login(researcher)
    url = reverse("query_open", args=[course.patient_id])
    assert client.post(url, {"fact": f"lab:{lab.pk}", "text": "?"}).status_code == 403
    client.force_login(monitor)
    page = client.get(reverse("patient_detail", args=[course.patient_id])).content.decode()
    assert f'value="lab:{lab.pk}"' in page
    client.post(url, {"fact": f"lab:{lab.pk}", "text": "Platelets 120 on 1 July: source says 210?"})
    query = models.DataQuery.objects.get()
    assert (query.status, query.fact_kind, query.course_id) == ("open", "lab", course.pk)
    assert query.subject == "Platelets 2005-07-01"

    client.force_login(clinician)
    page = client.get(reverse("patient_detail", args=[course.patient_id])).content.decode()
    assert "source says 210?" in page and f'id="answer-{query.pk}"' in page
    close = reverse("query_close", args=[course.patient_id, query.pk])
    assert client.post(close).status_code == 403  # only the monitor closes
    answer = reverse("query_answer", args=[course.patient_id, query.pk])
    client.post(answer, {"answer": "Transcription error: corrected to 210."})
    query.refresh_from_db()
    assert query.status == "answered" and query.answered_by == clinician

    client.force_login(monitor)
    assert client.post(answer, {"answer": "me too"}).status_code == 403
    client.post(close)
    query.refresh_from_db()
    assert query.status == "closed" and query.closed_by == monitor
    steps = [h.history_change_reason for h in query.history.order_by("history_id")]
    assert steps == ["query opened", "query answered", "query closed"]


def test_queries_through_the_api(clinician, monitor, researcher, course, other_clinician):
    lab = models.LabResult.objects.get(patient_id=course.patient_id)
    body = {"patient": course.patient_id, "fact_kind": "lab", "fact_id": lab.pk, "text": "Unit?"}
    api = APIClient()
    api.force_authenticate(researcher)
    assert api.post("/api/v1/queries/", body, format="json").status_code == 403
    api.force_authenticate(clinician)
    assert api.post("/api/v1/queries/", body, format="json").status_code == 403
    api.force_authenticate(monitor)
    created = api.post("/api/v1/queries/", body, format="json")
    assert created.status_code == 201, created.content
    qid = created.json()["id"]
    bad = api.post("/api/v1/queries/", {**body, "fact_id": 999999}, format="json")
    assert bad.status_code == 400 and "fact_id" in bad.json()
    api.force_authenticate(clinician)
    answered = api.post(f"/api/v1/queries/{qid}/answer/", {"answer": "Checked."}, format="json")
    assert answered.json()["status"] == "answered"
    listed = api.get("/api/v1/queries/", {"status": "answered"}).json()
    assert [q["id"] for q in listed.get("results", listed)] == [qid]
    api.force_authenticate(monitor)
    again = api.post(f"/api/v1/queries/{qid}/reopen/", {"text": "And the date?"}, format="json")
    assert again.json()["status"] == "open" and "And the date?" in again.json()["text"]
    assert api.post(f"/api/v1/queries/{qid}/close/").json()["status"] == "closed"
    api.force_authenticate(other_clinician)
    assert api.get(f"/api/v1/queries/{qid}/").status_code == 404


def test_research_can_keep_to_verified_courses(client, researcher, clinician, monitor, course):
    other = factories.CourseFactory(patient=factories.PatientFactory(site=course.patient.site))
    factories.CycleFactory(course=other, date=D(2006, 1, 1))
    from registry.derive.recompute import recompute_patient

    for c in (course, other):
        recompute_patient(c.patient_id, force=True)
    set_course_status(course, "complete", by=clinician)
    set_course_status(course, "verified", by=monitor)
    client.force_login(researcher)
    url = reverse("research_export_csv", args=["patients"])
    every = b"".join(client.get(url).streaming_content).decode()
    verified = b"".join(client.get(url, {"verified": "true"}).streaming_content).decode()
    assert "VF-1" in every and other.patient.study_id in every
    assert "VF-1" in verified and other.patient.study_id not in verified
    assert client.get(url, {"verified": "maybe"}).status_code == 400


def test_a_monitor_reads_like_a_clinician_and_records_nothing(client, monitor, course):
    factories.IdentityFactory(patient=course.patient, name="Jan Jansen")
    client.force_login(monitor)
    page = client.get(reverse("patient_detail", args=[course.patient_id])).content.decode()
    assert "Jan Jansen" in page
    assert client.get(reverse("labs_new", args=[course.patient_id])).status_code == 403
    api = APIClient()
    api.force_authenticate(monitor)
    body = {"patient": course.patient_id, "date": "2005-05-01", "analyte": "wbc"}
    assert api.post("/api/v1/labs/", {**body, "value": 5, "unit": "10^9/L"}).status_code == 403
