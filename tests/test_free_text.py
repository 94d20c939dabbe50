"""Research roles get no free text: names get typed into notes and reasons.

Clinicians and admins see every note, warning reason, override reason and change
reason; research staff see that a note exists only where that is clinically
relevant (a cycle given despite warnings), never its words — on the patient page,
in its change history and through the API (`null`), as in the research exports.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from registry import models
from registry.records.facts import save_fact
from tests import factories
from tests.api.conftest import client_for

NAME = "Jan Jansen"
D = dt.date


@pytest.fixture
def patient(site, clinician):
    patient = factories.PatientFactory(site=site, study_id="FT-1")
    course = factories.CourseFactory(patient=patient)
    cycle = factories.CycleFactory(course=course, date=D(2006, 1, 10))
    cycle.note = f"{NAME} came with his wife"
    cycle.warning_reason = f"agreed with {NAME}"
    save_fact(cycle, by=clinician, reason=f"typo, {NAME} called")
    save_fact(
        models.ClinicalProgression(patient=patient, date=D(2006, 6, 1), note=f"{NAME}: new pain"),
        by=clinician,
    )
    save_fact(
        models.AdverseEvent(
            patient=patient, term="Nausea", grade=2, onset=D(2006, 1, 12), note=f"{NAME} vomited"
        ),
        by=clinician,
    )
    save_fact(
        models.ResponseOverride(
            course=course,
            criteria="swog",
            response="SD",
            reason=f"{NAME}'s liver lesion is a cyst",
            decided_by=clinician,
        ),
        by=clinician,
    )
    return patient


def test_the_patient_page_shows_research_no_free_text(client, researcher, clinician, patient):
    url = reverse("patient_detail", args=[patient.pk])
    client.force_login(clinician)
    page = client.get(url).content.decode()
    assert page.count(NAME) >= 6  # note, warning, progression, event, override, change reason
    assert "(free text)" not in page

    client.force_login(researcher)
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert NAME not in page
    assert "Given despite warnings" in page  # that it happened is clinical, not identifying
    assert "(free text)" in page  # the history says a note changed, not what it said
    assert "Nausea" in page and "01/06/2006" in page  # the facts themselves stay


@pytest.mark.parametrize(
    ("resource", "fields"),
    [
        ("cycles", ("note", "warning_reason")),
        ("clinical-progressions", ("note",)),
        ("adverse-events", ("note",)),
        ("response-overrides", ("reason",)),
    ],
)
def test_the_api_gives_research_null_free_text(researcher, clinician, patient, resource, fields):
    path = f"/api/v1/{resource}/?patient={patient.pk}"
    for user, expect_text in ((clinician, True), (researcher, False)):
        response = client_for(user).get(path)
        assert response.status_code == 200
        [row] = response.json()["results"]
        for name in fields:
            if expect_text:
                assert NAME in row[name]
            else:
                assert row[name] is None, (resource, name)
        detail = client_for(user).get(f"/api/v1/{resource}/{row['id']}/")
        assert (NAME in detail.content.decode()) is expect_text


def test_the_schema_documents_the_null(clinician):
    schema = client_for(clinician).get("/api/v1/schema/?format=json").json()["components"]
    reason = schema["schemas"]["ResponseOverride"]["properties"]["reason"]
    assert reason.get("nullable") is True and "research" in reason["description"]
    request = schema["schemas"]["ResponseOverrideRequest"]["properties"]["reason"]
    assert not request.get("nullable")  # a clinician must still give a reason
    assert "reason" in schema["schemas"]["ResponseOverrideRequest"]["required"]


def test_a_clinician_still_cannot_override_without_a_reason(clinician, patient):
    course = patient.courses.get()
    for reason in (None, ""):
        response = client_for(clinician).post(
            "/api/v1/response-overrides/",
            {"course": course.pk, "criteria": "recist", "response": "PR", "reason": reason},
            format="json",
        )
        assert response.status_code == 400 and "reason" in response.json()
