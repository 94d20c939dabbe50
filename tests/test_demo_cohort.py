"""The synthetic demo cohort: deterministic, valid, and clinically varied."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.core.management import call_command

from registry import models as m
from registry.clinical import units
from registry.interchange.demo import DATA_CUTOFF, build_demo_document
from registry.interchange.documents import export_document, validate_document


@pytest.fixture(scope="module")
def cohort():
    return build_demo_document(80, seed=7)


def _platelet_grade(value: float) -> int:
    return 4 if value < 25 else 3 if value < 50 else 2 if value < 75 else 1 if value < 150 else 0


def test_same_seed_same_cohort_other_seed_other_cohort(cohort):
    assert build_demo_document(80, seed=7) == cohort
    assert build_demo_document(80, seed=8) != cohort


@pytest.mark.django_db
def test_every_record_passes_validation(cohort):
    assert validate_document(cohort) == []


def test_dates_lie_in_the_past_and_in_order(cohort):
    today = dt.date.today()
    for p in cohort["patients"]:
        dates = [c["date"] for course in p["courses"] for c in course["cycles"]]
        dates += [lab["date"] for lab in p["labs"]] + [s["date"] for s in p["scans"]]
        assert max(dates) <= DATA_CUTOFF.isoformat() < today.isoformat()
        assert p["diagnosis_date"] < min(dates)
        assert p["last_follow_up"] >= max(dates)
        if p["death_date"]:
            assert p["death_date"] == p["last_follow_up"]


def test_both_phases_and_re_retreatment(cohort):
    phases = Counter(tuple(c["phase"] for c in p["courses"]) for p in cohort["patients"])
    assert phases[("regular",)] > 0
    assert phases[("regular", "salvage")] > phases[("regular",)] / 2
    assert phases[("regular", "salvage", "salvage")] > 0
    cycles = Counter(
        (c["phase"], len(c["cycles"])) for p in cohort["patients"] for c in p["courses"]
    )
    assert cycles[("regular", 4)] > cycles[("regular", 3)] > 0
    assert cycles[("salvage", 2)] > 0


def test_blood_counts_have_a_spread_of_grades_and_both_hemoglobin_units(cohort):
    worst = Counter()
    for p in cohort["patients"]:
        for course in p["courses"]:
            start = course["cycles"][0]["date"]
            values = [
                lab["value"]
                for lab in p["labs"]
                if lab["analyte"] == "platelets" and lab["date"] > start
            ]
            if values:
                worst[_platelet_grade(min(values))] += 1
    assert worst[0] + worst[1] > 0 and worst[2] > 0
    assert worst[3] + worst[4] > 0
    hb_units = {
        lab["unit"]
        for p in cohort["patients"]
        for lab in p["labs"]
        if lab["analyte"] == "hemoglobin"
    }
    assert hb_units == {"mmol/L", "g/dL"}
    for p in cohort["patients"]:
        for lab in p["labs"]:
            units.measure(lab["analyte"], lab["value"], lab["unit"])  # plausible


def test_scans_progressions_deaths_and_events(cohort):
    patients = cohort["patients"]
    assert sum(bool(p["death_date"]) for p in patients) > 0
    assert sum(bool(p["clinical_progressions"]) for p in patients) > 0
    assert sum(bool(p["adverse_events"]) for p in patients) > 0
    lesions = [le for p in patients for s in p["scans"] for le in s["lesions"]]
    assert any(le.get("new") for le in lesions)
    assert any(not le["target"] for le in lesions)
    for p in patients:
        for s in p["scans"]:
            targets = [le for le in s["lesions"] if le["target"]]
            assert 1 <= len(targets) <= 4


@pytest.mark.django_db
def test_command_builds_the_cohort_once_with_if_empty(capsys):
    call_command("demo_cohort", "--patients", "6", "--seed", "3", "--sites", "ROT,GRO")
    assert m.Patient.objects.count() == 6
    assert set(m.Site.objects.values_list("code", flat=True)) <= {"ROT", "GRO"}
    assert "6 patients created" in capsys.readouterr().out
    first = export_document()
    call_command("demo_cohort", "--patients", "6", "--seed", "3", "--if-empty")
    assert "already has patients" in capsys.readouterr().out
    assert export_document() == first
    # Rows written by the fast path pass the models' full validation.
    for model in (m.Patient, m.Course, m.Cycle, m.LabResult, m.Scan, m.LesionMeasurement):
        for obj in model.objects.all():
            obj.full_clean()
    lab = m.LabResult.objects.filter(unit="mmol/L").first()
    assert lab.canonical_value == pytest.approx(lab.value * 1.611)
