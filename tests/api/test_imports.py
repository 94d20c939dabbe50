"""Importing a cohort through the API, and reading analyses back (CONTRACT.md, "Import")."""

from __future__ import annotations

import datetime as dt

import pytest

from registry import models
from registry.clinical.courses import DAYS_PER_MONTH

pytestmark = pytest.mark.django_db

JOB_KEYS = {"id", "status", "progress", "errors", "created", "updated"}
START = dt.date(2000, 1, 3)
# The two `aml` groups become two primary sites.
AML_SITES = {"Maintained": "midgut", "Nonmaintained": "pancreas"}


def aml_document(km_aml: dict) -> dict:
    """R's `aml` as salvage courses: OS time = weeks × 7 days after the single cycle."""
    patients = []
    for group, data in km_aml["groups"].items():
        for i, (weeks, status) in enumerate(zip(data["time"], data["status"], strict=True)):
            end = (START + dt.timedelta(days=7 * weeks)).isoformat()
            patients.append(
                {
                    "study_id": f"AML-{group[0]}{i:02d}",
                    "site": "ROT",
                    "primary_site": AML_SITES[group],
                    "diagnosis_date": "1999-01-01",
                    "last_follow_up": end,
                    "death_date": end if status else None,
                    "courses": [
                        {
                            "phase": "salvage",
                            "cycles": [{"date": START.isoformat(), "activity_gbq": 7.4}],
                        }
                    ],
                }
            )
    return {"format": "lutetia-cohort/1", "sites": [{"code": "ROT"}], "patients": patients}


def weeks(months: float) -> float:
    return months * DAYS_PER_MONTH / 7


def import_through_api(client, document, capture) -> dict:
    with capture(execute=True):
        response = client.post("/api/v1/imports/", document, format="json")
        assert response.status_code == 202, response.content
        assert set(response.json()) == JOB_KEYS
        assert response.json()["status"] in {"queued", "running", "done"}
    poll = client.get(response["Location"])
    assert poll.status_code == 200 and set(poll.json()) == JOB_KEYS
    return poll.json()


def test_aml_reference_numbers_through_import_and_survival(
    clin, reference, django_capture_on_commit_callbacks
):
    km_aml = reference("km_aml.json")
    job = import_through_api(clin, aml_document(km_aml), django_capture_on_commit_callbacks)
    assert job["status"] == "done", job
    assert (job["created"], job["updated"], job["errors"], job["progress"]) == (23, 0, [], 1.0)

    response = clin.get(
        "/api/v1/analyses/survival/",
        {"endpoint": "os", "strata": "primary_site", "conf_type": "log", "phase": "salvage"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["stale_patients"] == 0
    groups = {g["label"]: g for g in body["groups"]}
    assert set(groups) == {"midgut", "pancreas"}
    for name, expected in km_aml["groups"].items():
        group = groups[AML_SITES[name]]
        assert (group["n"], group["events"]) == (expected["n"], expected["events"])
        assert weeks(group["median"]) == pytest.approx(expected["median"], abs=0.05)
        lower, upper = group["median_ci95"]
        assert weeks(lower) == pytest.approx(expected["median_ci95_log"][0], abs=0.05)
        assert upper is None and expected["median_ci95_log"][1] is None
        # One row per distinct time, in order, like summary(survfit, censored = TRUE).
        assert len(group["table"]) == len(set(expected["time"]))
        by_week = {round(weeks(row["time"])): row for row in group["table"]}
        for week, survival in expected.get("survival_at", {}).items():
            assert by_week[int(week)]["survival"] == pytest.approx(survival, abs=1e-4)
    assert body["logrank"]["df"] == km_aml["logrank"]["df"]
    assert body["logrank"]["chi2"] == pytest.approx(km_aml["logrank"]["chi2"], abs=1e-3)
    assert body["logrank"]["p"] == pytest.approx(km_aml["logrank"]["p"], abs=1e-3)

    log_log = clin.get(
        "/api/v1/analyses/survival/",
        {"endpoint": "os", "strata": "primary_site", "primary_site": "midgut"},
    ).json()
    (maintained,) = log_log["groups"]
    rows = {round(weeks(row["time"])): row for row in maintained["table"]}
    for week, (lo, hi) in km_aml["groups"]["Maintained"]["ci95_log_log_at"].items():
        assert rows[int(week)]["ci_lower"] == pytest.approx(lo, abs=1e-4)
        assert rows[int(week)]["ci_upper"] == pytest.approx(hi, abs=1e-4)


def test_importing_the_same_document_twice_changes_nothing(
    clin, reference, django_capture_on_commit_callbacks
):
    document = aml_document(reference("km_aml.json"))
    first = import_through_api(clin, document, django_capture_on_commit_callbacks)
    versions = dict(models.Patient.objects.values_list("study_id", "version"))
    second = import_through_api(clin, document, django_capture_on_commit_callbacks)
    assert first["created"] == 23 and (second["created"], second["updated"]) == (0, 0)
    assert second["status"] == "done"
    assert dict(models.Patient.objects.values_list("study_id", "version")) == versions


def test_an_invalid_document_fails_with_path_named_errors_and_changes_nothing(
    clin, reference, django_capture_on_commit_callbacks
):
    document = aml_document(reference("km_aml.json"))
    document["patients"][3]["courses"][0]["cycles"][0]["activity_gbq"] = 99
    document["patients"][5]["colour"] = "blue"
    job = import_through_api(clin, document, django_capture_on_commit_callbacks)
    assert job["status"] == "failed"
    paths = {error["path"] for error in job["errors"]}
    assert any(p.startswith("patients[3].courses[0].cycles[0].activity_gbq") for p in paths)
    assert any(p.startswith("patients[5]") for p in paths)
    assert not models.Patient.objects.exists()
    assert models.ImportJob.objects.get(pk=job["id"]).document is None


def test_clinicians_import_only_their_own_sites(
    clin, other_site, reference, django_capture_on_commit_callbacks
):
    from tests import factories

    factories.PatientFactory(study_id="AML-M01", site=other_site)
    document = aml_document(reference("km_aml.json"))
    document["patients"][0]["site"] = "OTH"
    document["sites"].append({"code": "NEW"})
    with django_capture_on_commit_callbacks(execute=True):
        response = clin.post("/api/v1/imports/", document, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {
        "patients[0].site",
        "patients[1].study_id",  # AML-M01 belongs to another site
        "sites[1].code",
    }
    assert not models.ImportJob.objects.exists()
    assert models.Patient.objects.count() == 1


def test_admins_import_any_site_and_research_imports_nothing(
    adm, res, reference, django_capture_on_commit_callbacks
):
    document = aml_document(reference("km_aml.json"))
    document["patients"][0]["site"] = "FAR"
    document["sites"].append({"code": "FAR", "name": "Far away"})
    assert res.post("/api/v1/imports/", document, format="json").status_code == 403
    job = import_through_api(adm, document, django_capture_on_commit_callbacks)
    assert job["status"] == "done" and job["created"] == 23
    assert models.Patient.objects.filter(site__code="FAR").count() == 1


def test_a_body_that_is_not_an_object_is_a_400(clin):
    for body in ([], "text", 3):
        response = clin.post("/api/v1/imports/", body, format="json")
        assert response.status_code == 400 and "non_field_errors" in response.json()


def test_a_job_runs_once_even_if_delivered_twice(clinician, reference):
    from registry.interchange import jobs

    document = aml_document(reference("km_aml.json"))
    job = models.ImportJob.objects.create(document=document, created_by=clinician)
    jobs.run_import_job(job.pk)
    jobs.run_import_job(job.pk)  # a redelivered message: the job is no longer queued
    job.refresh_from_db()
    assert (job.status, job.created, job.document) == ("done", 23, None)
    assert models.Patient.objects.count() == 23


def test_a_crash_inside_the_import_marks_the_job_failed(clinician, reference):
    from unittest import mock

    from registry.interchange import jobs

    job = models.ImportJob.objects.create(document={"format": "x"}, created_by=clinician)
    with mock.patch("registry.interchange.jobs.import_document", side_effect=RuntimeError("boom")):
        jobs.run_import_job(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and job.errors[0]["path"] == "$"
