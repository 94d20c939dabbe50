"""Security review, finding 1: a queued import cannot take over another site's patient.

The site check of `POST /api/v1/imports/` runs when the job is posted; the job
matches patients on `study_id` later. The job now checks again inside its
write transaction (`registry.interchange.scope`), so a patient another site
created while the job waited makes it fail with a path-named error and write
nothing. Also: one refusal message that does not reveal a study ID exists
elsewhere (finding 9), and the concurrent-import IntegrityError (finding 6).
"""

from __future__ import annotations

import datetime as dt

import pytest

from registry import models
from registry.interchange import jobs
from registry.interchange.documents import import_document
from registry.interchange.scope import REFUSED
from tests import factories
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


def document(study_id: str, site: str = "ROT") -> dict:
    return {
        "format": "lutetia-cohort/1",
        "sites": [{"code": site}],
        "patients": [
            {
                "study_id": study_id,
                "site": site,
                "name": "Mr Takeover",
                "primary_site": "pancreas",
                "diagnosis_date": "2001-01-01",
                "courses": [],
            }
        ],
    }


@pytest.fixture
def rot_and_gro(site):
    gro = factories.SiteFactory(code="GRO", name="Groningen")
    rot_clinician = factories.UserFactory(username="rotc", role="clinician", sites=[site])
    gro_clinician = factories.UserFactory(username="groc", role="clinician", sites=[gro])
    return rot_clinician, gro_clinician, gro


def test_a_queued_import_fails_when_another_site_created_the_patient_meanwhile(rot_and_gro):
    rot_clinician, _gro_clinician, gro = rot_and_gro
    # The ROT clinician posts RACE-1; the check at posting passes (nobody has it yet).
    response = client_for(rot_clinician).post("/api/v1/imports/", document("RACE-1"), format="json")
    assert response.status_code == 202
    job = models.ImportJob.objects.get(pk=response.json()["id"])
    # Tests run tasks on commit, which a test transaction never reaches: the job is queued.
    assert job.status == models.JobStatus.QUEUED
    # Meanwhile a GRO clinician creates the real RACE-1 with a lab.
    real = factories.PatientFactory(study_id="RACE-1", site=gro)
    factories.LabFactory(patient=real, date=dt.date(2005, 1, 3), value=150.0)
    identity = models.PatientIdentity.objects.filter(patient=real).first()
    before = (
        real.site_id,
        identity.name if identity else None,
        models.LabResult.objects.filter(patient=real).count(),
    )

    jobs.run_import_job(job.pk)

    job.refresh_from_db()
    assert job.status == models.JobStatus.FAILED
    assert job.errors == [{"path": "patients[0].study_id", "message": REFUSED}]
    assert (job.created, job.updated) == (0, 0)
    real.refresh_from_db()
    identity = models.PatientIdentity.objects.filter(patient=real).first()
    after = (
        real.site_id,
        identity.name if identity else None,
        models.LabResult.objects.filter(patient=real).count(),
    )
    assert after == before  # untouched: same site, no new name, its lab kept
    assert models.Patient.objects.filter(study_id="RACE-1").count() == 1


def test_the_refusal_does_not_say_the_study_id_exists_elsewhere(rot_and_gro):
    rot_clinician, _, gro = rot_and_gro
    factories.PatientFactory(study_id="ELSE-1", site=gro)
    response = client_for(rot_clinician).post("/api/v1/imports/", document("ELSE-1"), format="json")
    assert response.status_code == 400
    assert response.json() == {"patients[0].study_id": [REFUSED]}
    assert "site" not in REFUSED and "exist" not in REFUSED


def test_an_import_into_a_foreign_site_is_refused_at_posting_and_in_the_job(rot_and_gro):
    rot_clinician, _, _ = rot_and_gro
    response = client_for(rot_clinician).post(
        "/api/v1/imports/", document("NEW-1", site="GRO"), format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"sites[0].code", "patients[0].site"}
    # The job's own check, whatever the API let through:
    result = import_document(document("NEW-1", site="GRO"), by=rot_clinician, check_scope=True)
    assert {e.path for e in result.errors} == {"sites[0].code", "patients[0].site"}
    assert not models.Patient.objects.filter(study_id="NEW-1").exists()


def test_research_roles_import_nothing_even_in_a_job(researcher):
    result = import_document(document("R-1"), by=researcher, check_scope=True)
    assert [e.path for e in result.errors] == ["$"]
    assert not models.Patient.objects.exists()


def test_own_patients_import_as_before(rot_and_gro):
    rot_clinician, _, _ = rot_and_gro
    result = import_document(document("OWN-1"), by=rot_clinician, check_scope=True)
    assert result.ok and result.created == 1
    again = import_document(document("OWN-1"), by=rot_clinician, check_scope=True)
    assert again.ok and again.unchanged == 1


def test_the_operators_command_is_not_limited(site):
    result = import_document(document("OPS-1", site="NEW"))  # by nobody: manage.py
    assert result.ok and result.created == 1
