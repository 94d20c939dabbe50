"""`manage.py check_integrity`: derived rows against a recompute in memory (issue 17)."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from registry import models as m
from registry.derive.integrity import check_integrity

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("demo_cohort", "--patients", "12", "--seed", "1", stdout=io.StringIO())
    return list(m.Patient.objects.order_by("pk").values_list("pk", flat=True))


def run(*args) -> str:
    out = io.StringIO()
    call_command("check_integrity", *args, stdout=out)
    return out.getvalue()


def test_the_demo_cohort_has_no_drift(demo):
    assert run().endswith(
        "12 patients checked, 0 with differences, 0 failed, 0 stale "
        "(recompute pending, not checked).\n"
    )
    assert m.TimePointResponse.objects.exists()  # there was something to compare


def test_a_changed_course_outcome_is_named_and_fixed(demo):
    row = m.CourseOutcome.objects.filter(best_swog__isnull=False).first()
    truth = row.best_swog
    m.CourseOutcome.objects.filter(pk=row.pk).update(best_swog="CR" if truth != "CR" else "PD")
    with pytest.raises(CommandError):
        run()
    [drift] = check_integrity(demo).drift
    assert (drift.where, drift.what, drift.expected) == (
        f"course {row.course_id}",
        "best_swog",
        truth,
    )
    assert row.patient.study_id in str(drift)
    out = io.StringIO()
    call_command("check_integrity", "--fix", stdout=out)
    assert "Recomputed 1 patients." in out.getvalue()
    assert m.CourseOutcome.objects.get(pk=row.pk).best_swog == truth
    assert check_integrity(demo).clean


def test_a_changed_float_a_missing_and_an_extra_row_are_found(demo):
    point = m.TimePointResponse.objects.exclude(pct_vs_baseline=None).first()
    m.TimePointResponse.objects.filter(pk=point.pk).update(
        pct_vs_baseline=point.pct_vs_baseline + 1e-6
    )
    gone = m.TimePointResponse.objects.exclude(pk=point.pk).first()
    gone_key = f"course {gone.course_id}, scan {gone.scan_id}, {gone.criteria}"
    gone.delete()
    state = m.PatientState.objects.exclude(cumulative_activity_gbq=None).first()
    m.PatientState.objects.filter(pk=state.pk).update(
        cumulative_activity_gbq=state.cumulative_activity_gbq + 7.4
    )
    found = {(d.where, d.what) for d in check_integrity(demo).drift}
    assert (
        f"course {point.course_id}, scan {point.scan_id}, {point.criteria}",
        "pct_vs_baseline",
    ) in found
    assert (gone_key, "missing") in found
    assert ("patient", "cumulative_activity_gbq") in found


def test_an_identical_float_is_not_drift(demo):
    """Floats go to the database and back unchanged; a rounding there would show here."""
    assert check_integrity(demo).clean


def test_stale_patients_are_counted_not_compared(demo):
    m.PatientState.objects.filter(patient_id=demo[0]).update(stale=True)
    m.CourseOutcome.objects.filter(patient_id=demo[0]).update(cycles=99)
    report = check_integrity(demo)
    assert (report.stale, report.checked, report.clean) == (1, 11, True)


def test_an_unknown_study_id_is_refused_by_name(demo):
    with pytest.raises(CommandError, match="NOPE"):
        run("--patient", "NOPE")
