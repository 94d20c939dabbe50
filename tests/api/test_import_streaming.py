"""Large imports are streamed to disk and checked by the job (security review, 10 and 11).

A body over LUTETIA_IMPORT_INLINE_BYTES is never parsed in the request: it is
copied to MEDIA_ROOT/imports/ in chunks, the answer is 202 at once, and the job
reads, checks and imports it — then deletes the file, whatever the outcome. A
chunked body with no Content-Length is a 411 (it used to be read as empty: 202,
then a job that failed on nothing).
"""

from __future__ import annotations

import json

import pytest

from registry import models
from registry.interchange.scope import REFUSED
from registry.interchange.uploads import upload_dir

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def small_inline_limit(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.LUTETIA_IMPORT_INLINE_BYTES = 200  # every document below is "large"


def _document(*study_ids: str, site: str = "ROT") -> bytes:
    return json.dumps(
        {
            "format": "lutetia-cohort/1",
            "sites": [{"code": site}],
            "patients": [
                {"study_id": s, "site": site, "primary_site": "midgut"} for s in study_ids
            ],
        }
    ).encode()


def _post(client, body: bytes, capture, **extra):
    with capture(execute=True):
        answer = client.generic(
            "POST", "/api/v1/imports/", body, content_type="application/json", **extra
        )
    return answer


def _left_on_disk() -> list:
    return list(upload_dir().glob("*")) if upload_dir().exists() else []


def test_a_large_document_is_streamed_imported_and_its_file_deleted(
    clin, site, django_capture_on_commit_callbacks
):
    body = _document(*(f"BIG-{i:03d}" for i in range(20)))
    answer = _post(clin, body, django_capture_on_commit_callbacks)
    assert answer.status_code == 202 and answer["Location"]
    job = clin.get(answer["Location"]).json()
    assert job["status"] == "done" and job["created"] == 20, job
    assert models.Patient.objects.filter(study_id__startswith="BIG-").count() == 20
    assert _left_on_disk() == []
    stored = models.ImportJob.objects.get(pk=job["id"])
    assert stored.document is None and stored.upload_path == ""


def test_a_streamed_document_that_is_no_json_fails_the_job_with_a_path(
    clin, site, django_capture_on_commit_callbacks
):
    answer = _post(clin, b"{" + b" " * 300 + b"nope", django_capture_on_commit_callbacks)
    assert answer.status_code == 202
    job = clin.get(answer["Location"]).json()
    assert job["status"] == "failed"
    assert job["errors"][0]["path"] == "$" and "JSON" in job["errors"][0]["message"]
    assert _left_on_disk() == []


def test_a_streamed_document_with_a_schema_error_names_its_path(
    clin, site, django_capture_on_commit_callbacks
):
    document = json.loads(_document(*(f"OK-{i}" for i in range(10))))
    document["patients"][7]["primary_site"] = "liver"
    answer = _post(clin, json.dumps(document).encode(), django_capture_on_commit_callbacks)
    job = clin.get(answer["Location"]).json()
    assert job["status"] == "failed"
    assert any(e["path"].startswith("patients[7].primary_site") for e in job["errors"]), job
    assert not models.Patient.objects.filter(study_id__startswith="OK-").exists()


def test_a_streamed_document_for_another_site_is_refused_by_the_job(
    clin, site, other_site, django_capture_on_commit_callbacks
):
    answer = _post(
        clin, _document("THEIRS-1", "THEIRS-2", site="OTH"), django_capture_on_commit_callbacks
    )
    job = clin.get(answer["Location"]).json()
    assert job["status"] == "failed"
    assert any(REFUSED in e["message"] or "site" in e["path"] for e in job["errors"]), job
    assert not models.Patient.objects.filter(site=other_site).exists()
    assert _left_on_disk() == []


def test_research_roles_cannot_stream_an_import_either(
    res, site, django_capture_on_commit_callbacks
):
    answer = _post(
        res, _document(*(f"R-{i}" for i in range(20))), django_capture_on_commit_callbacks
    )
    assert answer.status_code in (400, 403)
    assert not models.ImportJob.objects.exists() and _left_on_disk() == []


def test_a_body_over_the_maximum_is_413_and_leaves_no_file(
    clin, site, settings, django_capture_on_commit_callbacks
):
    settings.LUTETIA_IMPORT_MAX_BYTES = 1000
    answer = _post(
        clin, _document(*(f"X-{i:03d}" for i in range(100))), django_capture_on_commit_callbacks
    )
    assert answer.status_code == 413
    assert not models.ImportJob.objects.exists() and _left_on_disk() == []


def test_a_streamed_body_must_be_json(clin, site, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        answer = clin.generic("POST", "/api/v1/imports/", b"x" * 500, content_type="text/plain")
    assert answer.status_code == 415 and _left_on_disk() == []


def test_a_chunked_body_without_a_length_is_411(clin, site):
    answer = clin.generic(
        "POST",
        "/api/v1/imports/",
        _document("C-1"),
        content_type="application/json",
        HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_LENGTH="",
    )
    assert answer.status_code == 411 and "Content-Length" in answer.json()["detail"]
    assert not models.ImportJob.objects.exists()
