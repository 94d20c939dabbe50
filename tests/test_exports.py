"""De-identified exports: every value of the files against the known cohort, never an identifier."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from openpyxl import load_workbook

from registry import models
from registry.research import exports
from registry.research.cohort import age_at
from tests import factories
from tests.test_research_report import AGES, SPEC, build_known_cohort

D = dt.date
IDENTIFYING = ("Name of K-", "HNK-", "1950-03-01", "1940-07-15", "Jan Jansen")
# These tests compare exact dates: the researcher holds an admin's grant of
# pseudonymised exports (tests/test_export_levels.py tests the levels and the refusals).
EXACT = {"deid": "pseudonymised"}


@pytest.fixture
def researcher(researcher):
    from django.contrib.auth.models import Permission

    researcher.user_permissions.add(Permission.objects.get(codename="export_pseudonymised"))
    return researcher


def scope_of(user=None, **params) -> exports.ExportScope:
    return exports.export_options(user or factories.UserFactory(role="admin"), params).scope()


@pytest.fixture
def cohort(site, other_site, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    patients = build_known_cohort(site, other_site)
    k1 = patients["K-1"]
    factories.LabFactory(
        patient=k1,
        date=D(2005, 7, 1),
        analyte="platelets",
        value=48,
        unit="10^9/L",
        canonical_value=48,
        lln=150,
    )
    factories.LabFactory(
        patient=k1,
        date=D(2005, 7, 1),
        analyte="hemoglobin",
        value=6.5,
        unit="mmol/L",
        canonical_value=10.47,
    )
    factories.LabFactory(
        patient=patients["K-2"],
        date=D(2005, 8, 1),
        analyte="creatinine",
        value=1.2,
        unit="mg/dL",
        canonical_value=106.08,
        uln=1.1,
    )
    scan = factories.ScanFactory(patient=k1, date=D(2005, 5, 20), modality="CT")
    factories.LesionFactory(scan=scan, lesion="L1", organ="liver", long_mm=42, short_mm=30)
    factories.LesionFactory(
        scan=scan,
        lesion="N1",
        organ="node",
        lymph_node=True,
        target=False,
        long_mm=None,
        short_mm=None,
        status="present",
    )
    follow = factories.ScanFactory(patient=k1, date=D(2005, 9, 1), modality="MRI")
    salvage = k1.courses.get(phase="salvage")
    models.TimePointResponse.objects.create(
        course=salvage,
        scan=follow,
        criteria="swog",
        response="PR",
        total_mm=567.0,
        pct_vs_baseline=-55.0,
        pct_vs_nadir=-55.0,
        days_from_start=92,
    )
    models.AdverseEvent.objects.create(
        patient=k1,
        term="Myelodysplastic syndrome",
        grade=4,
        onset=D(2008, 2, 1),
        note="told Jan Jansen",
    )
    models.ClinicalProgression.objects.create(
        patient=patients["K-2"], date=D(2005, 10, 1), note="Name of K-2 phoned"
    )
    # Another site's facts must never appear.
    other = models.Patient.objects.get(study_id="OTHER-1")
    factories.LabFactory(patient=other, date=D(2005, 7, 2), value=77, canonical_value=77)
    return patients


def read_csv(client, table: str, **params) -> list[dict[str, str]]:
    response = client.get(reverse("research_export_csv", args=[table]), {**EXACT, **params})
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    assert not any(word in text for word in IDENTIFYING)
    return list(csv.DictReader(io.StringIO(text)))


def test_patients_table_has_every_value(client, researcher, cohort):
    client.force_login(researcher)
    rows = {r["study_id"]: r for r in read_csv(client, "patients")}
    assert set(rows) == set(SPEC)
    for sid, spec in SPEC.items():
        row = rows[sid]
        assert row["site"] == "ROT"
        assert row["sex"] == spec["sex"]
        assert row["sex_label"] == {"F": "Female", "M": "Male"}[spec["sex"]]
        assert row["age_at_start"] == ("" if AGES[sid] is None else str(AGES[sid]))
        assert row["primary_site"] == spec["primary"]
        assert row["ki67_percent"] == ("" if spec["ki67"] is None else str(spec["ki67"]))
        assert row["phase"] == "salvage" and row["phase_label"] == "Salvage"
        assert row["round"] == "1"
        assert row["start"] == spec["start"].isoformat()
        assert float(row["activity_gbq"]) == spec["gbq"]
        assert row["intended_activity_gbq"] == (
            "" if spec["intended"] is None else str(spec["intended"])
        )
        reached = None if spec["intended"] is None else spec["gbq"] >= spec["intended"] - 0.05
        assert row["intended_activity_reached"] == {None: "", True: "1", False: "0"}[reached]
        assert row["stop_reason"] == spec["stop"]
        assert float(row["cumulative_activity_before_gbq"]) == spec["prior"]
        for crit in ("swog", "recist"):
            code, pct = spec[crit]
            assert row[f"best_{crit}"] == code
            assert row[f"best_{crit}_label"] == dict(models.ResponseCode.choices)[code]
            assert row[f"best_{crit}_pct_change"] == ("" if pct is None else str(pct))
        for analyte, grade in spec["grades"].items():
            assert row[f"grade_{analyte}"] == ("" if grade is None else str(grade))
        assert float(row["ttp_swog_months"]) == spec["ttp"][0]
        assert row["ttp_swog_event"] == str(int(spec["ttp"][1]))
        assert float(row["os_months"]) == spec["os"][0]
        assert row["os_event"] == str(int(spec["os"][1]))
        assert float(row["follow_up_months"]) == spec["fu"]


def test_long_tables(client, researcher, cohort):
    client.force_login(researcher)
    labs = read_csv(client, "labs")
    assert [
        (
            r["study_id"],
            r["analyte"],
            r["value"],
            r["unit"],
            r["canonical_value"],
            r["canonical_unit"],
            r["lln"],
            r["uln"],
        )
        for r in labs
    ] == [
        ("K-1", "platelets", "48.0", "10^9/L", "48.0", "10^9/L", "150.0", ""),
        ("K-1", "hemoglobin", "6.5", "mmol/L", "10.47", "g/dL", "", ""),
        ("K-2", "creatinine", "1.2", "mg/dL", "106.1", "umol/L", "", "1.1"),  # 1 decimal
    ]
    assert labs[0]["analyte_label"] == "Platelets" and labs[0]["date"] == "2005-07-01"

    courses = read_csv(client, "courses")
    # Six salvage courses and five regular ones (K-5 has none).
    assert len(courses) == 11
    assert sorted(r["phase"] for r in courses) == ["regular"] * 5 + ["salvage"] * 6
    cycles = read_csv(client, "cycles")
    assert len(cycles) == 10  # two cycles, except the single 7.4 GBq cycle of K-2 and K-5
    assert {r["course_id"] for r in cycles} <= {r["course_id"] for r in courses}
    k2 = [r for r in cycles if r["study_id"] == "K-2"]
    assert [(r["date"], r["activity_gbq"]) for r in k2] == [("2005-06-01", "7.4")]

    scans = read_csv(client, "scans")
    assert [(r["date"], r["modality"], r["modality_label"]) for r in scans] == [
        ("2005-05-20", "CT", "CT"),
        ("2005-09-01", "MRI", "MRI"),
    ]
    lesions = read_csv(client, "lesions")
    assert [
        (
            r["lesion"],
            r["lymph_node"],
            r["target"],
            r["long_mm"],
            r["short_mm"],
            r["status"],
            r["status_label"],
        )
        for r in lesions
    ] == [
        ("L1", "0", "1", "42.0", "30.0", "", ""),
        ("N1", "1", "0", "", "", "present", "Present"),
    ]
    outcomes = read_csv(client, "outcomes")
    assert len(outcomes) == 11
    points = read_csv(client, "time_points")
    assert [
        (
            r["criteria"],
            r["response"],
            r["spd_mm2"],
            r["pct_vs_baseline"],
            r["days_from_start"],
            r["scan_date"],
        )
        for r in points
    ] == [("swog", "PR", "567.0", "-55.0", "92", "2005-09-01")]
    assert points[0]["sod_mm"] == "" and points[0]["course_id"] == str(salvage_id(cohort))
    events = read_csv(client, "adverse_events")
    k1 = [r for r in events if r["study_id"] == "K-1"]  # (K-3 and K-4 have late toxicities)
    assert [(r["study_id"], r["term"], r["grade"], r["onset"]) for r in k1] == [
        ("K-1", "Myelodysplastic syndrome", "4", "2008-02-01")
    ]
    late = {(r["study_id"], r["category"], r["category_label"]) for r in events}
    assert ("K-3", "mds", "Myelodysplastic syndrome") in late
    assert "note" not in events[0]
    progressions = read_csv(client, "clinical_progressions")
    assert [(r["study_id"], r["date"]) for r in progressions] == [("K-2", "2005-10-01")]
    k2_salvage = cohort["K-2"].courses.get(phase="salvage").pk
    assert progressions[0]["course_id"] == str(k2_salvage)  # inside the salvage course's window
    assert int(progressions[0]["progression_id"]) > 0


def salvage_id(cohort) -> int:
    return cohort["K-1"].courses.get(phase="salvage").pk


def test_the_filter_applies_to_every_table(client, researcher, cohort):
    client.force_login(researcher)
    assert {r["study_id"] for r in read_csv(client, "patients", primary_site="pancreas")} == {
        "K-1",
        "K-4",
    }
    assert {r["study_id"] for r in read_csv(client, "labs", primary_site="midgut")} == {"K-2"}
    assert read_csv(client, "labs", ttp_regular="long") == []


def test_no_identifier_column_in_any_table(db):
    scope = scope_of()
    for table in exports.TABLES.values():
        for header in exports.headers(table, scope):
            assert header not in {"name", "hospital_number", "birth_date"}
            assert "birth" not in header and header != "name"


def test_dictionary_describes_every_column(client, researcher, cohort):
    client.force_login(researcher)
    dictionary = read_csv(client, "dictionary")
    described = {(r["table"], r["variable"]) for r in dictionary}
    scope = scope_of(**EXACT)
    for table in exports.TABLES.values():
        for header in exports.headers(table, scope):
            assert (table.name, header) in described
    assert len(described) == len(dictionary)
    sex = next(r for r in dictionary if r["table"] == "patients" and r["variable"] == "sex")
    assert sex["type"] == "code" and sex["codes"] == "F=Female; M=Male; U=Unknown"
    ttp = next(r for r in dictionary if r["variable"] == "ttp_swog_months")
    assert ttp["unit"] == "months" and ttp["type"] == "number"


def test_xlsx_holds_the_same_rows_as_the_csv(client, researcher, cohort):
    client.force_login(researcher)
    response = client.get(reverse("research_export_xlsx"), EXACT)
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    assert book.sheetnames == ["README", "dictionary", *exports.TABLES]
    scope = scope_of(**EXACT)
    for name in ("patients", "labs", "lesions"):
        sheet = list(book[name].iter_rows(values_only=True))
        assert list(sheet[0]) == exports.headers(exports.TABLES[name], scope)
        csv_rows = read_csv(client, name)
        assert len(sheet) - 1 == len(csv_rows)
        for xrow, crow in zip(sheet[1:], csv_rows, strict=True):
            xrow = [*xrow, *[None] * (len(sheet[0]) - len(xrow))]  # trailing blanks are dropped
            for header, value in zip(sheet[0], xrow, strict=True):
                if isinstance(value, dt.datetime):
                    value = value.date().isoformat()
                if isinstance(value, int | float):  # Excel keeps 5.0 as 5
                    assert value == float(crow[header]), (name, header)
                else:
                    assert ("" if value is None else str(value)) == crow[header], (name, header)
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            assert not any(w in str(v) for v in row for w in IDENTIFYING)


def test_xlsx_too_large_for_the_request(client, researcher, cohort, settings):
    settings.LUTETIA_EXPORT_DIRECT_MAX_ROWS = 5
    client.force_login(researcher)
    response = client.get(reverse("research_export_xlsx"))
    assert response.status_code == 400 and "background" in response.json()["detail"]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_background_export_job(client, researcher, cohort, fmt, django_capture_on_commit_callbacks):
    client.force_login(researcher)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("research_export_jobs") + "?primary_site=pancreas", {"format": fmt}
        )
    assert response.status_code == 202
    status = client.get(response.json()["status_url"]).json()
    assert status["status"] == "done" and status["progress"] == 1
    job = models.ExportJob.objects.get(pk=status["id"])
    assert job.params["filter"]["primary_site"] == "pancreas"
    download = client.get(status["download_url"])
    assert download.status_code == 200
    data = b"".join(download.streaming_content)
    if fmt == "xlsx":
        book = load_workbook(io.BytesIO(data), read_only=True)
        patients = list(book["patients"].iter_rows(values_only=True))[1:]
        assert sorted(r[0] for r in patients) == ["K-1", "K-4"]
    else:
        archive = zipfile.ZipFile(io.BytesIO(data))
        folder = archive.namelist()[0].split("/")[0]
        assert folder.startswith("lutetia-salvage-r1-") and folder.endswith("-export")
        assert {n.split("/", 1)[1] for n in archive.namelist()} == {
            "dictionary.csv",
            "README.txt",
            "load.R",
        } | {f"{t}.csv" for t in exports.TABLES}
        text = archive.read(f"{folder}/patients.csv").decode()
        assert sorted(r["study_id"] for r in csv.DictReader(io.StringIO(text))) == ["K-1", "K-4"]
        assert not any(
            w in archive.read(n).decode() for n in archive.namelist() for w in IDENTIFYING
        )
    # A second run of the same job changes nothing (it is no longer queued).
    before = Path(job.file_path).stat().st_mtime_ns
    exports.run_export_job(job.pk)
    assert Path(job.file_path).stat().st_mtime_ns == before


def test_export_jobs_are_private_and_validated(
    client, researcher, clinician, cohort, django_capture_on_commit_callbacks
):
    client.force_login(researcher)
    with django_capture_on_commit_callbacks(execute=True):
        job = client.post(reverse("research_export_jobs"), {"format": "csv"}).json()
    client.force_login(clinician)
    assert client.get(job["status_url"]).status_code == 404
    assert client.get(reverse("research_export_download", args=[job["id"]])).status_code == 404
    bad = client.post(
        reverse("research_export_jobs") + "?round=zero", {"format": "pdf", "tables": ["secrets"]}
    )
    assert bad.status_code == 400 and set(bad.json()) == {"round", "format", "tables"}


def test_failed_job_is_recorded(researcher, cohort):
    job = models.ExportJob.objects.create(
        created_by=researcher, params={"filter": {"phase": "nope"}, "format": "csv"}
    )
    exports.run_export_job(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "phase" in job.error


def test_unknown_table_is_404_and_bad_filter_400(client, researcher, cohort):
    client.force_login(researcher)
    assert client.get(reverse("research_export_csv", args=["secrets"])).status_code == 404
    response = client.get(reverse("research_export_csv", args=["labs"]), {"criteria": "who"})
    assert response.status_code == 400 and "criteria" in response.json()


def test_age_in_completed_years():
    assert age_at(D(1950, 3, 1), D(2005, 2, 28)) == 54
    assert age_at(D(1950, 3, 1), D(2005, 3, 1)) == 55
    assert age_at(D(1952, 2, 29), D(2005, 2, 28)) == 52
    assert age_at(None, D(2005, 3, 1)) is None


@pytest.mark.celery_worker
@pytest.mark.xdist_group("celery")
def test_export_job_through_a_real_worker(transactional_db, client, tmp_path, settings):
    """The page's background export, run by `celery -A registry worker` on a real Redis broker."""
    from tests.celery_helpers import Worker, delete_queue, publishing_to, unique_queue, wait_for
    from tests.services import need_postgres, need_redis

    url = need_redis()
    need_postgres()
    site = factories.SiteFactory(code="ROT")
    researcher = factories.UserFactory(username="res", role="research", sites=[site])
    build_known_cohort(site, factories.SiteFactory(code="OTH"))
    settings.MEDIA_ROOT = tmp_path
    queue = unique_queue()
    worker = Worker(
        broker_url=url,
        queue=queue,
        log_path=tmp_path / "worker.log",
        env={"MEDIA_ROOT": str(tmp_path)},
    )
    try:
        worker.wait_ready()
        client.force_login(researcher)
        with publishing_to(url, queue):
            job = client.post(reverse("research_export_jobs"), {"format": "csv"}).json()
        assert wait_for(lambda: client.get(job["status_url"]).json()["status"] == "done", 60), (
            worker.tail()
        )
        status = client.get(job["status_url"]).json()
        archive = zipfile.ZipFile(io.BytesIO(b"".join(client.get(status["download_url"]))))
        name = next(n for n in archive.namelist() if n.endswith("/patients.csv"))
        patients = list(csv.DictReader(io.StringIO(archive.read(name).decode())))
        assert sorted(r["study_id"] for r in patients) == sorted(SPEC)
        assert "registry.export_tasks.run_export" in worker.log()
    finally:
        worker.stop()
        delete_queue(url, queue)


def test_text_a_spreadsheet_would_run_stays_text(client, researcher, cohort):
    """CSV injection: `=…`, `+…`, `-…`, `@…` text reaches the spreadsheet as text."""
    k1 = cohort["K-1"]
    k1.study_id = "-2-3"  # the one formula character a study ID may start with
    k1.save()
    scan = factories.ScanFactory(patient=k1, date=D(2005, 10, 1), modality="CT")
    # Research reads labels and organs coded (finding 8): "-9" is a short code, kept as
    # typed, so it still starts with a formula character; "+liver" becomes "other".
    factories.LesionFactory(scan=scan, lesion="-9", organ="+liver", long_mm=12)
    factories.LesionFactory(scan=scan, lesion="L10", organ="-spleen", long_mm=11)
    client.force_login(researcher)

    patients = read_csv(client, "patients")
    assert "'-2-3" in {r["study_id"] for r in patients}
    lesions = read_csv(client, "lesions")
    assert {"'-9", "L10"} <= {r["lesion"] for r in lesions}
    assert {"other", "spleen"} <= {r["organ"] for r in lesions}
    assert all(not r["long_mm"].startswith("'") for r in lesions)  # numbers are left alone

    response = client.get(reverse("research_export_xlsx"), EXACT)
    book = load_workbook(io.BytesIO(response.content))
    cells = [c for row in book["patients"].iter_rows(min_row=2) for c in row]
    formula = [c for c in cells if c.value == k1.study_id]
    assert formula and all(c.data_type == "s" for c in formula)
    assert not any(
        c.data_type == "f" for sheet in book.worksheets for r in sheet.iter_rows() for c in r
    )


def test_export_files_are_deleted_after_the_retention(
    client, researcher, cohort, settings, django_capture_on_commit_callbacks
):
    """Files go after LUTETIA_EXPORT_RETENTION_DAYS; the job stays as a record (410 Gone)."""
    settings.LUTETIA_EXPORT_RETENTION_DAYS = 7
    client.force_login(researcher)
    with django_capture_on_commit_callbacks(execute=True):
        status = client.post(reverse("research_export_jobs"), {"format": "csv"}).json()
    job = models.ExportJob.objects.get(pk=status["id"])
    download_url = reverse("research_export_download", args=[job.pk])
    path = Path(job.file_path)
    stray = path.with_name("export-999-dead.zip.part")  # a killed worker's partial file
    stray.write_bytes(b"half")
    outsider = path.parent.parent / "not-an-export.zip"  # never deleted: outside the folder
    outsider.write_bytes(b"keep")

    now = job.finished_at + dt.timedelta(days=7) - dt.timedelta(minutes=1)
    assert exports.purge_expired_exports(now=now) == 0
    assert path.is_file() and client.get(download_url).status_code == 200

    later = job.finished_at + dt.timedelta(days=7, minutes=1)
    assert exports.purge_expired_exports(now=later) == 1
    job.refresh_from_db()
    assert job.expired and job.status == "done" and not path.exists() and not stray.exists()
    gone = client.get(download_url)
    assert gone.status_code == 410 and b"7 days" in gone.content
    again = client.get(status["status_url"]).json()
    assert again["expired"] is True and again["download_url"] is None
    page = client.get(reverse("research_export")).content.decode()
    assert "file deleted after 7 days" in page
    assert exports.purge_expired_exports(now=later) == 0  # idempotent

    # A file_path pointing outside the export folder is not deleted.
    models.ExportJob.objects.filter(pk=job.pk).update(file_path=str(outsider))
    assert exports.purge_expired_exports(now=later) == 1
    assert outsider.read_bytes() == b"keep"


def test_the_purge_runs_on_the_beat(db):
    from django.conf import settings as django_settings

    from registry.research import tasks as export_tasks

    entry = django_settings.CELERY_BEAT_SCHEDULE["purge-expired-exports"]
    assert entry["task"] == export_tasks.purge_expired_exports.name
    assert export_tasks.purge_expired_exports.delay().get() == 0  # eager: runs in-process
