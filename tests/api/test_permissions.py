"""Who may call what: the permission matrix of every endpoint (STYLE.md rule 5)."""

from __future__ import annotations

import json

import pytest

from registry import models

RESOURCES = (
    "sites",
    "patients",
    "courses",
    "cycles",
    "labs",
    "scans",
    "clinical-progressions",
    "adverse-events",
    "response-overrides",
)
COMPUTED = ("/api/v1/reports/cohort/", "/api/v1/analyses/survival/")


def every_get_url(world) -> list[str]:
    urls = [f"/api/v1/{name}/" for name in RESOURCES]
    urls += [f"/api/v1/{name}/{pk}/" for name, pk in world.objects(world.mine).items()]
    urls += [f"/api/v1/patients/{world.mine.pk}/outcomes/", "/api/v1/imports/", *COMPUTED]
    return urls


@pytest.mark.django_db
def test_anonymous_gets_401_json_everywhere_but_token_and_schema(world, anon):
    for url in every_get_url(world):
        response = anon.get(url)
        assert response.status_code == 401, url
        assert response["Content-Type"].startswith("application/json"), url
        assert "detail" in response.json(), url
    for name, pk in world.objects(world.mine).items():
        assert anon.patch(f"/api/v1/{name}/{pk}/", {}, format="json").status_code == 401
        assert anon.delete(f"/api/v1/{name}/{pk}/").status_code == 401
        assert anon.post(f"/api/v1/{name}/", {}, format="json").status_code == 401
    assert anon.post("/api/v1/imports/", {"format": "x"}, format="json").status_code == 401
    assert anon.get("/api/v1/schema/").status_code == 200
    # The token endpoint answers, but with no data for bad credentials.
    bad = anon.post("/api/v1/auth/token/", {"username": "clin", "password": "x"}, format="json")
    assert bad.status_code == 400 and "token" not in bad.json()


@pytest.mark.django_db
def test_other_sites_clinician_gets_404_for_every_object(world, other):
    for name, pk in world.objects(world.mine).items():
        url = f"/api/v1/{name}/{pk}/"
        assert other.get(url).status_code == 404, url
        if name == "sites":
            continue  # writing sites is for admins: 403 before any lookup
        assert other.patch(url, {}, format="json").status_code == 404, url
        assert other.put(url, {}, format="json").status_code == 404, url
        assert other.delete(url).status_code == 404, url
    assert other.get(f"/api/v1/patients/{world.mine.pk}/outcomes/").status_code == 404
    # Lists hold only their own site's records.
    for name in RESOURCES:
        body = other.get(f"/api/v1/{name}/").json()
        ids = {row["id"] for row in body["results"]}
        assert world.objects(world.mine)[name] not in ids, name
        assert world.objects(world.theirs)[name] in ids, name
    # And nothing of mine was changed or deleted.
    assert models.Patient.objects.filter(pk=world.mine.pk, version=1).exists()


@pytest.mark.django_db
def test_creating_a_fact_for_a_patient_you_cannot_see_is_refused(world, other):
    theirs_course = world.objects(world.mine)["courses"]
    attempts = {
        "courses": {"patient": world.mine.pk, "phase": "salvage"},
        "cycles": {"course": theirs_course, "date": "2006-01-01", "activity_gbq": 7.4},
        "labs": {
            "patient": world.mine.pk,
            "date": "2006-01-01",
            "analyte": "wbc",
            "value": 3,
            "unit": "10^9/L",
        },
        "scans": {"patient": world.mine.pk, "date": "2006-01-01", "modality": "CT"},
        "clinical-progressions": {"patient": world.mine.pk, "date": "2006-01-01"},
        "adverse-events": {
            "patient": world.mine.pk,
            "term": "x",
            "grade": 2,
            "onset": "2006-01-01",
        },
        "response-overrides": {
            "course": theirs_course,
            "criteria": "swog",
            "response": "PR",
            "reason": "r",
        },
        "patients": {"study_id": "NEW-1", "site": "ROT", "primary_site": "midgut"},
    }
    before = {name: _count(name) for name in attempts}
    for name, body in attempts.items():
        response = other.post(f"/api/v1/{name}/", body, format="json")
        assert response.status_code == 400, (name, response.content)
        assert set(response.json()) & {"patient", "course", "site"}, name
    assert before == {name: _count(name) for name in attempts}


def _count(name: str) -> int:
    model = {
        "courses": models.Course,
        "cycles": models.Cycle,
        "labs": models.LabResult,
        "scans": models.Scan,
        "clinical-progressions": models.ClinicalProgression,
        "adverse-events": models.AdverseEvent,
        "response-overrides": models.ResponseOverride,
        "patients": models.Patient,
    }[name]
    return model.objects.count()


@pytest.mark.django_db
def test_research_sees_no_identifier_anywhere_and_writes_nothing(world, res):
    identity = world.mine.identity
    secrets = [identity.name, identity.hospital_number, identity.birth_date.isoformat()]
    for url in every_get_url(world):
        response = res.get(url)
        assert response.status_code == 200, url
        text = response.content.decode()
        for secret in secrets:
            assert secret not in text, (url, secret)
        _assert_no_identifier_keys(response.json(), url)
    for name, pk in world.objects(world.mine).items():
        url = f"/api/v1/{name}/{pk}/"
        assert res.patch(url, {}, format="json").status_code == 403, url
        assert res.put(url, {}, format="json").status_code == 403, url
        assert res.delete(url).status_code == 403, url
        assert res.post(f"/api/v1/{name}/", {}, format="json").status_code == 403, name
    assert res.post("/api/v1/imports/", {"format": "x"}, format="json").status_code == 403
    # Research cannot probe identifiers through filters either: unknown filters are ignored
    # and the search still answers only study-ID-keyed rows.
    probe = res.get("/api/v1/patients/", {"hospital_number": identity.hospital_number}).json()
    assert identity.hospital_number not in json.dumps(probe)


def _assert_no_identifier_keys(data, url: str) -> None:
    if isinstance(data, dict):
        assert not {"hospital_number", "birth_date"} & set(data), url
        if "study_id" in data:  # a patient: not even a null name
            assert "name" not in data, url
        for value in data.values():
            _assert_no_identifier_keys(value, url)
    elif isinstance(data, list):
        for item in data:
            _assert_no_identifier_keys(item, url)


@pytest.mark.django_db
def test_clinicians_see_identifiers_of_their_own_patients(world, clin):
    body = clin.get(f"/api/v1/patients/{world.mine.pk}/").json()
    assert body["name"] == "Name of ROT-001"
    assert body["hospital_number"] == world.mine.identity.hospital_number


@pytest.mark.django_db
def test_admin_sees_every_site(world, adm):
    for name in RESOURCES:
        ids = {row["id"] for row in adm.get(f"/api/v1/{name}/").json()["results"]}
        assert world.objects(world.mine)[name] in ids, name
        assert world.objects(world.theirs)[name] in ids, name
    report = adm.get("/api/v1/reports/cohort/").json()
    assert report["n_patients"] == 2


@pytest.mark.django_db
def test_sites_are_written_by_admins_only(world, clin, adm):
    assert clin.post("/api/v1/sites/", {"code": "NEW"}, format="json").status_code == 403
    created = adm.post("/api/v1/sites/", {"code": "NEW", "name": "New"}, format="json")
    assert created.status_code == 201 and created["ETag"]
    # A site with patients cannot be deleted: a 409, not a 500.
    assert adm.delete(f"/api/v1/sites/{world.mine.site_id}/").status_code == 409
    assert adm.delete(f"/api/v1/sites/{created.json()['id']}/").status_code == 204


@pytest.mark.django_db
def test_a_user_without_a_role_gets_nothing(world, django_user_model):
    from tests.api.conftest import client_for

    nobody = django_user_model.objects.create_user("nobody", password="x-very-long-1")
    client = client_for(nobody)
    assert client.get("/api/v1/patients/").status_code == 403
    assert client.get("/api/v1/reports/cohort/").status_code == 403


@pytest.mark.django_db
def test_import_jobs_are_seen_by_their_creator_and_admins(clinician, other_clinician, adm):
    from tests.api.conftest import client_for

    job = models.ImportJob.objects.create(created_by=clinician, document=None)
    assert client_for(clinician).get(f"/api/v1/imports/{job.pk}/").status_code == 200
    assert client_for(other_clinician).get(f"/api/v1/imports/{job.pk}/").status_code == 404
    assert adm.get(f"/api/v1/imports/{job.pk}/").status_code == 200


@pytest.mark.django_db
def test_password_guessing_is_throttled(clinician, anon, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "3/minute", "user": None})
    answers = [
        anon.post("/api/v1/auth/token/", {"username": "clin", "password": "guess"}, format="json")
        for _ in range(4)
    ]
    assert [a.status_code for a in answers] == [400, 400, 400, 429]
    assert "detail" in answers[-1].json()


@pytest.mark.django_db
def test_token_sign_in_and_use(clinician, anon):
    from tests import factories

    response = anon.post(
        "/api/v1/auth/token/",
        {"username": "clin", "password": factories.PASSWORD},
        format="json",
    )
    assert response.status_code == 200 and set(response.json()) == {"token"}
    anon.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert anon.get("/api/v1/patients/").status_code == 200


@pytest.mark.django_db
def test_docs_page_is_served_without_a_cdn(anon):
    response = anon.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
