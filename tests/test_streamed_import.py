"""A document streamed from a file imports as the same document parsed whole (issue 17).

`jsonstream.DocumentStream` reads the top-level object itself and decodes one
patient at a time; `documents.import_file` checks and writes a batch of
patients at a time in one transaction. These tests hold both to what
`json.load` and `import_document` do, including their errors.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry import models as m
from registry.interchange import importing, jsonstream
from registry.interchange.documents import export_document, import_document, import_file
from registry.interchange.jsonstream import DocumentStream, StreamError

pytestmark = pytest.mark.django_db


def read_all(path: Path) -> tuple[dict, list]:
    with DocumentStream(path) as stream:
        stream.open()
        patients = [p for _, p in stream.patients()]
        return stream.header, patients, stream.late_keys


def write(tmp_path: Path, text: str | bytes, name: str = "doc.json") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


# --- the stream ---------------------------------------------------------------


def test_the_stream_reads_what_json_load_reads(tmp_path, reference, monkeypatch):
    monkeypatch.setattr(jsonstream, "READ", 97)  # patients span many reads
    doc = reference("example_cohort.json")
    path = write(tmp_path, json.dumps(doc, indent=1))
    header, patients, late = read_all(path)
    assert patients == doc["patients"]
    assert header == {**doc, "patients": []} and late == []


def test_keys_after_the_patients_are_named_late(tmp_path):
    path = write(tmp_path, '{"patients": [{"a": 1}, {"b": [2]}], "format": "x", "sites": []}')
    header, patients, late = read_all(path)
    assert patients == [{"a": 1}, {"b": [2]}]
    assert late == ["format", "sites"] and header["format"] == "x"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"patients": [{"a": 1} {"b": 2}]}', "',' or ']' between patients"),
        ('{"patients": [{"a": 1},', "it ends before it is complete"),
        ('{"patients": [{"a": tru}]}', "Expecting value"),
        ('{"patients": []} x', "extra data"),
        ('{"patients": [], "patients": []}', "two `patients`"),
        ('{"format" "x"}', "expecting ':'"),
        ("[1, 2]", "must be a JSON object"),
        ("", "Expecting value"),
        (b'{"a": "\xff"}', "not UTF-8"),
    ],
)
def test_what_is_not_json_is_refused_with_where(tmp_path, text, message):
    with pytest.raises(StreamError, match=message):
        read_all(write(tmp_path, text))


def test_a_byte_order_mark_and_a_patient_larger_than_a_read(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonstream, "READ", 16)
    big = {"note": "x" * 10_000, "n": 1234567890123}
    path = write(tmp_path, b"\xef\xbb\xbf" + json.dumps({"patients": [big, big]}).encode())
    _, patients, _ = read_all(path)
    assert patients == [big, big]


@pytest.mark.parametrize("read", range(1, 40))
def test_a_number_cut_by_a_read_is_read_whole(tmp_path, monkeypatch, read):
    """The decoder reads "1" of "1.5", "1e5" or "1e+5" at a buffer's end as a number."""
    monkeypatch.setattr(jsonstream, "READ", read)
    patients = [1.5, 1e5, 100000.0, -2, 123456, True, None, "a", [1.25]]
    text = '{"patients": [1.5, 1e5, 1e+5, -2, 123456, true, null, "a", [1.25]]}'
    assert read_all(write(tmp_path, text))[1] == patients


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    patients=st.lists(
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
            lambda inner: (
                st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
            ),
            max_leaves=12,
        ),
        max_size=6,
    ),
    read=st.integers(1, 64),
    indent=st.sampled_from([None, 0, 2]),
)
def test_any_json_patients_read_in_any_reads(tmp_path, patients, read, indent):
    jsonstream.READ, saved = read, jsonstream.READ
    try:
        path = write(tmp_path, json.dumps({"format": "f", "patients": patients}, indent=indent))
        header, got, _ = read_all(path)
    finally:
        jsonstream.READ = saved
    assert got == patients and header == {"format": "f", "patients": []}


# --- the import ---------------------------------------------------------------


def test_a_file_imports_as_the_document_and_again_changes_nothing(tmp_path, reference):
    doc = reference("example_cohort.json")
    path = write(tmp_path, json.dumps(doc))
    first = import_file(path)
    assert first.ok and first.created == len(doc["patients"])
    exported = export_document()
    again = import_file(path)
    assert again.ok and again.unchanged == len(doc["patients"])
    assert export_document() == exported


def test_in_batches_the_errors_are_the_documents_and_nothing_is_written(
    tmp_path, reference, monkeypatch
):
    monkeypatch.setattr(importing, "BATCH", 2)  # errors in a later batch than writes
    doc = reference("example_cohort.json")
    broken = copy.deepcopy(doc)
    broken["patients"][-1]["labs"][0]["unit"] = "furlongs"
    broken["patients"][-1]["study_id"] = broken["patients"][0]["study_id"]
    broken["patients"][1]["site"] = "NOWHERE"
    whole = import_document(copy.deepcopy(broken))
    monkeypatch.setattr(importing, "BATCH", 10**6)
    expected = import_document(copy.deepcopy(broken))
    monkeypatch.setattr(importing, "BATCH", 2)
    streamed = import_file(write(tmp_path, json.dumps(broken)))
    assert whole.errors and streamed.errors == whole.errors == expected.errors
    paths = {e.path for e in streamed.errors}
    assert f"patients[{len(doc['patients']) - 1}].study_id" in paths
    assert "patients[1].site" in paths
    assert m.Patient.objects.count() == 0 and m.LabResult.objects.count() == 0


def test_sites_and_fields_after_the_patients_are_known_to_them(tmp_path, reference):
    doc = reference("example_cohort.json")
    reordered = {"patients": doc["patients"], **{k: v for k, v in doc.items() if k != "patients"}}
    result = import_file(write(tmp_path, json.dumps(reordered)))
    assert result.ok and result.created == len(doc["patients"])
    assert set(m.Site.objects.values_list("code", flat=True)) >= {s["code"] for s in doc["sites"]}


def test_a_broken_file_writes_nothing_and_says_where(tmp_path, reference, monkeypatch):
    monkeypatch.setattr(importing, "BATCH", 1)  # the first patients were written
    text = json.dumps(reference("example_cohort.json"))
    result = import_file(write(tmp_path, text[: len(text) * 2 // 3]))
    assert [e.path for e in result.errors] == ["$"]
    assert result.errors[0].message.startswith("Not a JSON document")
    assert m.Patient.objects.count() == 0


def test_a_file_without_a_list_of_patients_gets_the_schemas_errors(tmp_path):
    result = import_file(write(tmp_path, '{"format": "lutetia-cohort/2", "patients": 3}'))
    assert [e.path for e in result.errors] == ["patients"]
    missing = import_file(write(tmp_path, '{"format": "lutetia-cohort/2"}'))
    assert [e.path for e in missing.errors] == ["patients"]


def test_an_empty_list_of_patients_imports_nothing(tmp_path):
    result = import_file(write(tmp_path, '{"format": "lutetia-cohort/2", "patients": []}'))
    assert result.ok and result.created == 0


def test_the_command_streams_from_standard_input(tmp_path, reference, monkeypatch):
    import io
    import sys

    from django.core.management import call_command

    doc = reference("example_cohort.json")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(doc).encode())))
    out = io.StringIO()
    call_command("import_cohort", "-", stdout=out)
    assert f"{len(doc['patients'])} created" in out.getvalue()


def test_a_job_whose_upload_is_gone_fails_and_says_so(tmp_path):
    from registry.interchange.jobs import run_import_job

    job = m.ImportJob.objects.create(upload_path=str(tmp_path / "deleted.json"))
    run_import_job(job.pk)
    job.refresh_from_db()
    assert job.status == m.JobStatus.FAILED
    assert job.errors == [
        {"path": "$", "message": "The uploaded document is gone (deleted before the import ran)."}
    ]


def test_a_document_without_patients_still_brings_its_sites_and_fields(tmp_path):
    doc = {
        "format": "lutetia-cohort/2",
        "sites": [{"code": "NEW", "name": "New centre"}],
        "fields": [{"code": "stage", "level": "patient", "type": "text", "label": "Stage"}],
        "patients": [],
    }
    assert import_file(write(tmp_path, json.dumps(doc))).ok
    assert m.Site.objects.get(code="NEW").name == "New centre"
    assert m.CustomField.objects.filter(code="stage").exists()
