"""Exports a statistician opens without asking: the demo cohort through every format.

Whole-registry counts against the database; every CSV read with pandas with the
dictionary's types; every `.sav`/`.dta` read back with pyreadstat; `load.R` run
in R; the de-identification levels (dates shifted keep every interval, relative
has no dates) and who may choose which; file names after the cohort and day.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
import subprocess
import zipfile
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from registry import models
from registry.research import exports
from registry.research.exports.columns import CANONICAL_DECIMALS, SIGNIFICANT_DIGITS
from tests import factories
from tests.services import skip_or_fail

ISO_DATE = re.compile(r"\b(19|20)\d\d-\d\d-\d\d\b")


@pytest.fixture
def demo(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    call_command("demo_cohort", patients=24, seed=5, stdout=io.StringIO())
    call_command("recompute", "--all", stdout=io.StringIO())  # on-commit hooks do not run here
    return factories.UserFactory(username="boss", role="admin")


def unpack(scope: exports.ExportScope, tmp_path: Path, stat=("sav", "dta")) -> Path:
    buffer = io.BytesIO()
    exports.write_csv_zip(buffer, scope, stat_formats=stat)
    archive = zipfile.ZipFile(buffer)
    target = tmp_path / scope.level / scope.coverage
    archive.extractall(target)
    (folder,) = target.iterdir()
    return folder


def scope_for(user, **params) -> exports.ExportScope:
    return exports.export_options(user, params).scope()


def read_table(folder: Path, name: str, dictionary: pd.DataFrame) -> pd.DataFrame:
    """pandas with the dictionary's types: codes categorical, dates parsed, integers Int64."""
    spec = dictionary[dictionary["table"] == name]
    dtypes, dates = {}, []
    for row in spec.itertuples():
        if row.type in ("integer", "boolean"):
            dtypes[row.variable] = "Int64"
        elif row.type == "number":
            dtypes[row.variable] = "float64"
        elif row.type == "date":
            dates.append(row.variable)
        elif row.type == "code":
            codes = [c.split("=", 1)[0] for c in str(row.codes).split("; ")]
            dtypes[row.variable] = pd.CategoricalDtype(codes)
        else:
            dtypes[row.variable] = "string"
    frame = pd.read_csv(folder / f"{name}.csv", dtype=dtypes, keep_default_na=False, na_values=[""])
    for column in dates:
        raw = frame[column]
        frame[column] = pd.to_datetime(raw, format="%Y-%m-%d", errors="raise")
    return frame


def test_a_whole_registry_export_holds_every_patient_course_and_lab(demo, tmp_path):
    folder = unpack(scope_for(demo, coverage="registry"), tmp_path, stat=())
    dictionary = pd.read_csv(folder / "dictionary.csv", keep_default_na=False)
    expected = {
        "patients": models.Patient.objects.count(),
        "sites": models.Site.objects.filter(patients__isnull=False).distinct().count(),
        "courses": models.Course.objects.count(),
        "cycles": models.Cycle.objects.count(),
        "labs": models.LabResult.objects.count(),
        "scans": models.Scan.objects.count(),
        "lesions": models.LesionMeasurement.objects.count(),
        "outcomes": models.CourseOutcome.objects.count(),
        "time_points": models.TimePointResponse.objects.count(),
        "adverse_events": models.AdverseEvent.objects.count(),
        "clinical_progressions": models.ClinicalProgression.objects.count(),
    }
    assert expected["patients"] == 24 and expected["labs"] > 1000
    # Both phases and every round are in: a cohort export holds one course per patient.
    assert models.Course.objects.filter(phase="regular").exists()
    readme = (folder / "README.txt").read_text()
    for name, count in expected.items():
        table = read_table(folder, name, dictionary)
        assert len(table) == count, name
        assert re.search(rf"{name}\.csv\s+{count} rows", readme), name
    outcomes = read_table(folder, "outcomes", dictionary)
    assert set(outcomes["phase"].dropna()) == {"regular", "salvage"}
    assert outcomes["round"].max() >= 2
    # Every row has its key, unique; every foreign key joins.
    keys = {
        "courses": "course_id",
        "cycles": "cycle_id",
        "labs": "lab_id",
        "scans": "scan_id",
        "lesions": "lesion_measurement_id",
        "outcomes": "course_id",
        "time_points": "time_point_id",
        "adverse_events": "adverse_event_id",
        "clinical_progressions": "progression_id",
        "patients": "study_id",
        "sites": "site",
    }
    frames = {name: read_table(folder, name, dictionary) for name in keys}
    for name, key in keys.items():
        assert frames[name][key].notna().all() and frames[name][key].is_unique, name
    courses = set(frames["courses"]["course_id"])
    for name in ("cycles", "labs", "scans", "time_points", "adverse_events"):
        linked = set(frames[name]["course_id"].dropna())
        assert linked and linked <= courses, name
    assert set(frames["lesions"]["scan_id"]) <= set(frames["scans"]["scan_id"])
    assert set(frames["patients"]["site"]) == set(frames["sites"]["site"])
    # Labs are linked to the course whose window holds their date.
    lab = models.LabResult.objects.order_by("-date").first()
    row = frames["labs"].set_index("lab_id").loc[lab.pk]
    windows = models.CourseOutcome.objects.filter(patient=lab.patient, start__lte=lab.date)
    assert row["course_id"] == windows.order_by("-start").first().course_id


def test_every_csv_reads_with_pandas_typed_and_without_float_noise(demo, tmp_path):
    folder = unpack(scope_for(demo, coverage="registry", deid="pseudonymised"), tmp_path, stat=())
    dictionary = pd.read_csv(folder / "dictionary.csv", keep_default_na=False)
    for name in dictionary["table"].unique():
        frame = read_table(folder, name, dictionary)
        spec = dictionary[dictionary["table"] == name].set_index("variable")
        for column in frame.columns:
            kind = spec.loc[column, "type"]
            values = frame[column].dropna()
            if kind == "date":
                assert str(frame[column].dtype).startswith("datetime64"), (name, column)
            elif kind == "code":
                # Every code is one of the dictionary's (unknown ones would be NaN here).
                raw = pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
                assert frame[column].isna().sum() == (raw[column] == "").sum(), (name, column)
                assert f"{column}_label" in frame.columns
            elif kind == "number":
                for value in values:
                    digits = len(repr(float(value)).replace("-", "").replace(".", "").strip("0"))
                    assert digits <= SIGNIFICANT_DIGITS + 1, (name, column, value)
    labs = read_table(folder, "labs", dictionary)
    for unit, decimals in CANONICAL_DECIMALS.items():
        values = labs.loc[labs["canonical_unit"] == unit, "canonical_value"]
        assert ((values * 10**decimals).round(6) % 1 == 0).all(), unit
    # Grade columns are integers even where a grade is never assessed.
    outcomes = read_table(folder, "outcomes", dictionary)
    assert all(str(outcomes[f"grade_{a}"].dtype) == "Int64" for a in ("ast", "bilirubin"))
    # SWOG rows carry SPD in mm², RECIST rows SoD in mm, never the other.
    points = read_table(folder, "time_points", dictionary)
    swog, recist = points[points["criteria"] == "swog"], points[points["criteria"] == "recist"]
    assert swog["sod_mm"].isna().all() and recist["spd_mm2"].isna().all()
    assert swog["spd_mm2"].notna().any() and recist["sod_mm"].notna().any()
    unit = dictionary.set_index(["table", "variable"]).loc[("time_points", "spd_mm2"), "unit"]
    assert unit == "mm²"
    # The subgroup variable of the seed paper is on every course row of a patient.
    regular = outcomes[(outcomes["phase"] == "regular") & (outcomes["round"] == 1)]
    patients = read_table(folder, "patients", dictionary).set_index("study_id")
    for row in regular.itertuples():
        if pd.notna(row.ttp_swog_months):
            assert patients.loc[row.study_id, "ttp_regular_months"] == pytest.approx(
                row.ttp_swog_months
            )
    assert set(patients["ttp_regular_group"].dropna()) <= {"short", "long", "unclassified"}


def test_spss_and_stata_files_read_back_with_their_labels(demo, tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    folder = unpack(scope_for(demo), tmp_path)
    dictionary = pd.read_csv(folder / "dictionary.csv", keep_default_na=False)
    for name in dictionary["table"].unique():
        csv_rows = len(pd.read_csv(folder / f"{name}.csv"))
        spec = dictionary[
            (dictionary["table"] == name) & ~dictionary["variable"].str.endswith("_label")
        ]
        for reader, path in (
            (pyreadstat.read_sav, folder / "spss" / f"{name}.sav"),
            (pyreadstat.read_dta, folder / "stata" / f"{name}.dta"),
        ):
            frame, meta = reader(str(path))
            assert len(frame) == csv_rows, path
            assert list(frame.columns) == list(spec["variable"]), path
            for row in spec.itertuples():
                assert meta.column_names_to_labels[row.variable].startswith(row.label[:40]), path
                if row.type == "code":
                    labels = meta.variable_value_labels[row.variable]
                    wanted = [c.split("=", 1)[1] for c in row.codes.split("; ")]
                    assert list(labels.values()) == wanted, (path, row.variable)
                if row.type == "date":
                    fmt = meta.original_variable_types[row.variable]
                    assert fmt in ("%td", "DATE11"), (path, row.variable, fmt)
    frame, meta = pyreadstat.read_sav(
        str(folder / "spss" / "outcomes.sav"), apply_value_formats=True
    )
    assert set(frame["phase"]) == {"Regular", "Salvage"}
    assert meta.variable_value_labels["os_event"] == {0.0: "no", 1.0: "yes"}


def test_load_r_reads_every_table_with_its_types(demo, tmp_path):
    if not shutil.which("Rscript"):
        skip_or_fail("needs R: apt-get install r-base-core")
    folder = unpack(scope_for(demo, coverage="registry"), tmp_path, stat=())
    check = folder / "check.R"
    check.write_text(
        'source("load.R")\n'
        'd <- read.csv("dictionary.csv", colClasses = "character", na.strings = NULL)\n'
        "for (i in seq_len(nrow(d))) {\n"
        "  x <- lutetia[[d$table[i]]][[d$variable[i]]]\n"
        '  want <- switch(d$type[i], date = "Date", code = "factor",\n'
        '    integer = "integer",\n'
        '    boolean = "integer", number = "numeric", string = "character")\n'
        "  if (!inherits(x, want))\n"
        '    stop(paste(d$table[i], d$variable[i], class(x)[1], "not", want))\n'
        "}\n"
        'cat(sapply(names(lutetia), function(n) paste0(n, "=", nrow(lutetia[[n]]))), sep = "\\n")\n'
        'cat("levels=", paste(levels(lutetia$outcomes$phase), collapse = ","), "\\n", sep = "")\n'
    )
    done = subprocess.run(
        ["Rscript", "check.R"], cwd=folder, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    counts = dict(line.split("=") for line in done.stdout.splitlines() if "=" in line)
    assert int(counts["labs"]) == models.LabResult.objects.count()
    assert int(counts["patients"]) == models.Patient.objects.count()
    assert counts["levels"] == "Regular,Salvage"


def _dated(folder: Path, dictionary: pd.DataFrame):
    """(table, key, column) -> date of every date cell, by each row's key."""
    keys = {"patients": "study_id", "outcomes": "course_id", "sites": "site"}
    cells = {}
    for name in dictionary["table"].unique():
        frame = read_table(folder, name, dictionary)
        key = keys.get(name) or frame.columns[0]
        spec = dictionary[(dictionary["table"] == name) & (dictionary["type"] == "date")]
        for column in spec["variable"]:
            for k, study, value in zip(frame[key], frame["study_id"], frame[column], strict=True):
                if pd.notna(value):
                    cells[(name, k, column)] = (study, value.date())
    return cells


def test_dates_shifted_keep_every_interval_and_no_real_date(demo, tmp_path):
    real = unpack(scope_for(demo, coverage="registry", deid="pseudonymised"), tmp_path, stat=())
    shifted = unpack(scope_for(demo, coverage="registry", deid="shifted"), tmp_path, stat=())
    dictionary = pd.read_csv(real / "dictionary.csv", keep_default_na=False)
    assert dictionary.equals(pd.read_csv(shifted / "dictionary.csv", keep_default_na=False))
    before, after = _dated(real, dictionary), _dated(shifted, dictionary)
    assert before.keys() == after.keys() and len(before) > 1000
    offsets = defaultdict(set)
    for cell, (study, day) in before.items():
        moved = after[cell][1]
        assert moved != day, cell  # no calendar date is the real one
        offsets[study].add((day - moved).days)
    # One offset per patient, 1–364 days: every interval between a patient's dates is exact.
    assert all(len(o) == 1 and 1 <= next(iter(o)) <= 364 for o in offsets.values())
    assert len({next(iter(o)) for o in offsets.values()}) > 1  # not one offset for all
    # Times to event and days from start are the same numbers.
    for name, columns in (
        ("outcomes", ["ttp_swog_months", "pfs_swog_months", "os_months", "follow_up_months"]),
        ("time_points", ["days_from_start"]),
    ):
        a, b = read_table(real, name, dictionary), read_table(shifted, name, dictionary)
        pd.testing.assert_frame_equal(a[columns], b[columns])
    cycles_a = read_table(real, "cycles", dictionary).groupby("study_id")["date"].diff()
    cycles_b = read_table(shifted, "cycles", dictionary).groupby("study_id")["date"].diff()
    pd.testing.assert_series_equal(cycles_a, cycles_b)
    assert "Dates shifted" in (shifted / "README.txt").read_text()


def test_a_relative_export_has_no_calendar_date(demo, tmp_path):
    folder = unpack(scope_for(demo, coverage="registry", deid="relative"), tmp_path)
    dictionary = pd.read_csv(folder / "dictionary.csv", keep_default_na=False)
    assert "date" not in set(dictionary["type"])
    for path in folder.rglob("*.csv"):
        assert not ISO_DATE.search(path.read_text()), path
    cycles = read_table(folder, "cycles", dictionary)
    assert "date_day" in cycles.columns and "date" not in cycles.columns
    first = cycles.groupby("study_id")["date_day"].min()
    assert (first == 0).all()  # day 0 is each patient's first cycle
    cycle = models.Cycle.objects.select_related("course__patient").order_by("-date").first()
    first_real = models.Cycle.objects.filter(course__patient=cycle.course.patient).earliest("date")
    row = cycles.set_index("cycle_id").loc[cycle.pk]
    assert row["date_day"] == (cycle.date - first_real.date).days
    # No date in the stat files either.
    pyreadstat = pytest.importorskip("pyreadstat")
    _, meta = pyreadstat.read_dta(str(folder / "stata" / "cycles.dta"))
    assert "%td" not in meta.original_variable_types.values()
    assert "Relative" in (folder / "README.txt").read_text()


def test_the_readme_says_which_cohort_and_how_every_variable_is_defined(demo, tmp_path):
    scope = scope_for(demo, primary_site="pancreas", criteria="recist")
    folder = unpack(scope, tmp_path, stat=())
    text = (folder / "README.txt").read_text()
    for needed in (
        "Exported by:       boss (admin)",
        f"Lutetia version:   {scope.version}",
        "salvage course 1",
        "Primary sites: pancreas",
        "criteria: RECIST",
        "Toxicity window: 90 days",
        "Months = days / 30.4375",
        "censored at the patient's last follow-up date",
        "platelets LLN 150",
        "0.9 × the intended activity",
        "short = progression before it",
    ):
        assert needed in text, needed
    assert "CLINICAL.md" not in text
    dictionary = (folder / "dictionary.csv").read_text()
    assert "CLINICAL.md" not in dictionary and "§" not in dictionary
    assert folder.name == f"lutetia-{scope.slug}-{timezone.localdate().isoformat()}-export"


def test_file_names_follow_the_cohort_and_day(client, demo):
    client.force_login(demo)
    day = timezone.localdate().isoformat()
    url = reverse("research_export_csv", args=["patients"])
    plain = client.get(url)["Content-Disposition"]
    assert plain == f'attachment; filename="lutetia-salvage-r1-{day}-patients.csv"'
    narrowed = client.get(url, {"primary_site": "pancreas"})["Content-Disposition"]
    assert re.fullmatch(
        rf'attachment; filename="lutetia-salvage-r1-[0-9a-f]{{6}}-{day}-patients.csv"', narrowed
    )
    regular = client.get(url, {"phase": "regular", "round": "2"})["Content-Disposition"]
    assert f"lutetia-regular-r2-{day}-patients.csv" in regular
    registry = client.get(url, {"coverage": "registry"})["Content-Disposition"]
    assert f"lutetia-registry-{day}-patients.csv" in registry


def test_the_export_page_says_how_many_patients_and_courses_before_download(client, demo):
    client.force_login(demo)
    page = client.get(reverse("research_export"), {"coverage": "registry"}).content.decode()
    n_patients, n_courses = models.Patient.objects.count(), models.Course.objects.count()
    assert f"{n_patients} patients</strong> and <strong>{n_courses} courses" in page
    assert f'data-count="labs">{models.LabResult.objects.count()}<' in page
    cohort = client.get(reverse("research_export")).content.decode()
    salvage = models.CourseOutcome.objects.filter(phase="salvage", round=1).count()
    assert f"{salvage} patient" in cohort


# --- who may choose which level ------------------------------------------------------


def test_a_research_role_cannot_export_exact_dates_unless_granted(
    client, demo, site, django_capture_on_commit_callbacks
):
    researcher = factories.UserFactory(username="res2", role="research", sites=[site])
    client.force_login(researcher)
    page = client.get(reverse("research_export")).content.decode()
    assert 'value="shifted"' in page and 'value="relative"' in page
    assert 'value="pseudonymised"' not in page
    refused = client.get(reverse("research_export_csv", args=["labs"]), {"deid": "pseudonymised"})
    assert refused.status_code == 400 and "admin" in refused.json()["deid"][0]
    assert client.get(reverse("research_export_xlsx"), {"deid": "pseudonymised"}).status_code == 400
    job = client.post(reverse("research_export_jobs"), {"format": "csv", "deid": "pseudonymised"})
    assert job.status_code == 400 and set(job.json()) == {"deid"}
    assert not models.ExportJob.objects.exists()
    bad = client.get(
        reverse("research_export_csv", args=["labs"]), {"deid": "none", "coverage": "x"}
    )
    assert bad.status_code == 400 and set(bad.json()) == {"deid", "coverage"}

    grant = Permission.objects.get(codename="export_pseudonymised")
    researcher.user_permissions.add(grant)
    researcher = type(researcher).objects.get(pk=researcher.pk)  # permissions are cached
    client.force_login(researcher)
    assert 'value="pseudonymised"' in client.get(reverse("research_export")).content.decode()
    ok = client.get(reverse("research_export_csv", args=["labs"]), {"deid": "pseudonymised"})
    assert ok.status_code == 200
    # A job queued while granted and run after the grant was withdrawn fails, writing nothing.
    job = models.ExportJob.objects.create(
        created_by=researcher, params={"filter": {}, "format": "csv", "deid": "pseudonymised"}
    )
    researcher.user_permissions.remove(grant)
    exports.run_export_job(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "deid" in job.error and not job.file_path


def test_clinicians_and_admins_may_export_exact_dates(client, demo, clinician):
    for user in (clinician, demo):
        client.force_login(user)
        response = client.get(
            reverse("research_export_csv", args=["cycles"]), {"deid": "pseudonymised"}
        )
        assert response.status_code == 200


def test_date_shift_is_secret_and_stable(settings):
    offsets = [exports.date_shift_days(pk) for pk in range(1, 200)]
    assert all(1 <= o <= 364 for o in offsets) and len(set(offsets)) > 100
    assert exports.date_shift_days(7) == exports.date_shift_days(7)
    settings.SECRET_KEY = "another-server-" + "x" * 40
    assert [exports.date_shift_days(pk) for pk in range(1, 200)] != offsets


def test_a_date_shifted_export_is_the_default(client, demo):
    client.force_login(demo)
    response = client.get(reverse("research_export_csv", args=["cycles"]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    real = dict(models.Cycle.objects.values_list("pk", "date"))
    assert rows and all(dt.date.fromisoformat(r["date"]) != real[int(r["cycle_id"])] for r in rows)


@pytest.mark.parametrize(("fmt", "folder"), [("sav", "spss"), ("dta", "stata")])
def test_stat_package_files_come_from_the_background_export(
    client, demo, fmt, folder, django_capture_on_commit_callbacks
):
    client.force_login(demo)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("research_export_jobs") + "?primary_site=pancreas",
            {"format": fmt, "coverage": "registry", "deid": "relative"},
        )
    assert response.status_code == 202
    status = client.get(response.json()["status_url"]).json()
    assert status["status"] == "done" and status["progress"] == 1, status
    job = models.ExportJob.objects.get(pk=status["id"])
    assert (job.params["format"], job.params["coverage"], job.params["deid"]) == (
        fmt,
        "registry",
        "relative",
    )
    download = client.get(status["download_url"])
    name = download["Content-Disposition"]
    assert f"lutetia-registry-{timezone.localdate().isoformat()}-export-{job.pk}.zip" in name
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    members = archive.namelist()
    assert any(m.endswith(f"/{folder}/labs.{fmt}") for m in members), members
    assert any(m.endswith("/load.R") for m in members)
