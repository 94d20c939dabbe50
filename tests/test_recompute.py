"""Recomputing derived rows (registry/derive/) and the `recompute` command.

The service is tested directly here; tests/test_celery_worker.py runs the same
path through a real worker and broker.
"""

from __future__ import annotations

import datetime as dt
import math
from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from kombu.exceptions import OperationalError as KombuOperationalError

from registry import models
from registry.clinical.timeline import evaluate_patient
from registry.derive import recompute, schedule, tasks, version
from registry.derive.loading import load_patient
from registry.records.facts import delete_fact, save_fact
from tests import factories

START = dt.date(2005, 6, 1)


def salvage_patient(*, labs: int = 1, follow_ups: int = 1, site=None) -> models.Patient:
    """A salvage course of 2 × 7.4 GBq with a baseline scan, follow-ups and platelets."""
    patient = factories.PatientFactory(site=site or factories.SiteFactory(code="ROT"))
    course = factories.CourseFactory(patient=patient)
    factories.CycleFactory(course=course, date=START)
    factories.CycleFactory(course=course, date=START + dt.timedelta(days=56))
    baseline = factories.ScanFactory(patient=patient, date=START - dt.timedelta(days=10))
    factories.LesionFactory(scan=baseline, lesion="L1", long_mm=40, short_mm=30)
    for i in range(follow_ups):
        scan = factories.ScanFactory(patient=patient, date=START + dt.timedelta(days=90 + 7 * i))
        factories.LesionFactory(scan=scan, lesion="L1", long_mm=36, short_mm=28)
    for i in range(labs):
        factories.LabFactory(
            patient=patient, date=START + dt.timedelta(days=20 + i), value=140.0 - i
        )
    return patient


def derived_snapshot(patient: models.Patient) -> dict:
    outcomes = list(models.CourseOutcome.objects.filter(patient=patient).order_by("id").values())
    points = list(
        models.TimePointResponse.objects.filter(course__patient=patient).order_by("id").values()
    )
    state = models.PatientState.objects.filter(patient=patient).values().get()
    state.pop("computed_at")
    return {"outcomes": outcomes, "points": points, "state": state}


# ------------------------------------------------------------------ recompute_patient


@pytest.mark.django_db
def test_recompute_writes_course_outcome_time_points_and_state():
    patient = salvage_patient(labs=0)
    factories.LabFactory(patient=patient, date=START + dt.timedelta(days=30), value=48.0)

    assert recompute.recompute_patient(patient.pk) == "done"

    outcome = models.CourseOutcome.objects.get(patient=patient)
    assert (outcome.phase, outcome.round, outcome.cycles) == ("salvage", 1, 2)
    assert outcome.activity_gbq == pytest.approx(14.8)
    assert outcome.intended_activity_reached is True
    assert outcome.grade_platelets == 3  # CTCAE: < 50 – 25 × 10⁹/L
    assert outcome.grade_hematologic == 3
    # 36×28 vs 40×30: −16 % → SD, on a scan ≥ 42 days after the start.
    assert (outcome.best_swog, outcome.best_swog_computed, outcome.overridden) == (
        "SD",
        "SD",
        False,
    )
    points = models.TimePointResponse.objects.filter(course=outcome.course)
    assert sorted(points.values_list("criteria", "response")) == [
        ("recist", "SD"),
        ("swog", "SD"),
    ]
    state = models.PatientState.objects.get(patient=patient)
    assert state.stale is False and state.stale_since is None and state.computed_at
    assert state.cumulative_activity_gbq == pytest.approx(14.8)
    assert isinstance(state.quality_findings, list)
    assert all({"code", "message", "course", "scan"} <= set(f) for f in state.quality_findings)


@pytest.mark.django_db
def test_recompute_queries_do_not_grow_with_labs_and_scans():
    few, many = salvage_patient(labs=1, follow_ups=1), salvage_patient(labs=20, follow_ups=20)
    counts = []
    for patient in (few, many):
        with CaptureQueriesContext(connection) as queries:
            assert recompute.recompute_patient(patient.pk) == "done"
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert models.TimePointResponse.objects.filter(course__patient=many).count() == 40


@pytest.mark.django_db
def test_recompute_query_count_is_fixed(django_assert_num_queries):
    patient = salvage_patient(labs=5, follow_ups=3)
    models.AdverseEvent.objects.create(patient=patient, term="MDS", grade=4, onset=START)
    models.ClinicalProgression.objects.create(patient=patient, date=START + dt.timedelta(days=300))
    schedule.mark_stale([patient.pk])
    # load: patient+identity+state, courses, cycles, overrides, labs, scans, lesions,
    # clinical progressions, adverse events (9). write: savepoint, [lock timeout],
    # courses, scans, state locks, 2 upserts, a course delete, the time points' keys
    # (none gone: no delete), state update, release (10–11). On PostgreSQL each upsert
    # also makes sure of its temporary table and empties it (+4; its COPY is not counted).
    expected = 19 + (1 + 4 if connection.vendor == "postgresql" else 0)
    with django_assert_num_queries(expected):
        recompute.recompute_patient(patient.pk)


@pytest.mark.django_db
def test_recompute_is_idempotent():
    patient = salvage_patient(labs=3, follow_ups=2)
    recompute.recompute_patient(patient.pk)
    first = derived_snapshot(patient)
    assert recompute.recompute_patient(patient.pk) == "done"
    assert derived_snapshot(patient) == first  # same values, same row ids


@pytest.mark.django_db
def test_override_is_reported_with_the_computed_response_kept():
    patient = salvage_patient()
    course = patient.courses.get()
    models.ResponseOverride.objects.create(
        course=course, criteria="swog", response="MR", reason="radiology review"
    )
    recompute.recompute_patient(patient.pk)
    outcome = models.CourseOutcome.objects.get(course=course)
    assert (outcome.best_swog, outcome.best_swog_computed) == ("MR", "SD")
    assert (outcome.best_recist, outcome.best_recist_computed) == ("SD", "SD")
    assert outcome.overridden is True


@pytest.mark.django_db
def test_rows_no_longer_derived_are_removed():
    patient = salvage_patient(follow_ups=2)
    recompute.recompute_patient(patient.pk)
    scan = patient.scans.order_by("-date").first()
    scan.delete()  # its time points cascade; the remaining one must stay
    course = patient.courses.get()
    course.cycles.all().delete()  # a course without cycles has no outcome
    recompute.recompute_patient(patient.pk)
    assert not models.CourseOutcome.objects.filter(patient=patient).exists()
    assert not models.TimePointResponse.objects.filter(course__patient=patient).exists()


@pytest.mark.django_db
def test_a_write_during_the_recompute_keeps_the_patient_stale():
    patient = salvage_patient()
    schedule.schedule_recompute([patient.pk])
    loaded = load_patient(patient.pk)
    outcome = evaluate_patient(loaded.facts)
    schedule.schedule_recompute([patient.pk])  # a clinician saves meanwhile

    assert recompute.store_outcome(loaded, outcome) == "superseded"
    state = models.PatientState.objects.get(patient=patient)
    assert state.stale is True
    assert recompute.recompute_patient(patient.pk, force=False) == "done"
    assert models.PatientState.objects.get(patient=patient).stale is False


@pytest.mark.django_db
def test_unforced_recompute_skips_a_fresh_patient():
    patient = salvage_patient()
    recompute.recompute_patient(patient.pk)
    assert recompute.recompute_patient(patient.pk, force=False) == "fresh"
    assert recompute.recompute_patient(10**9) == "missing"


@pytest.mark.django_db
def test_engine_error_is_recorded_and_the_patient_stays_stale():
    patient = salvage_patient()
    schedule.schedule_recompute([patient.pk])
    with (
        mock.patch.object(recompute, "evaluate_patient", side_effect=ValueError("bad facts")),
        pytest.raises(ValueError),
    ):
        recompute.recompute_patient(patient.pk)
    state = models.PatientState.objects.get(patient=patient)
    assert state.stale is True and "bad facts" in state.last_error
    recompute.recompute_patient(patient.pk)
    assert models.PatientState.objects.get(patient=patient).last_error == ""


# ------------------------------------------------------------------ scheduling


@pytest.mark.django_db
def test_schedule_marks_stale_creates_state_and_moves_the_generation():
    a, b = factories.PatientFactory(), factories.PatientFactory()
    models.PatientState.objects.create(patient=a, stale=False, stale_generation=4)
    with mock.patch.object(tasks, "enqueue_recompute"):
        schedule.schedule_recompute([a.pk, b.pk, a.pk])
    state_a, state_b = (models.PatientState.objects.get(patient=p) for p in (a, b))
    assert (state_a.stale, state_a.stale_generation) == (True, 5)
    assert state_a.stale_since is not None
    assert (state_b.stale, state_b.stale_generation) == (True, 1)


@pytest.mark.django_db
def test_schedule_ignores_deleted_patients():
    with mock.patch.object(tasks, "enqueue_recompute"):
        schedule.schedule_recompute([10**9])
    assert not models.PatientState.objects.exists()


@pytest.mark.django_db
def test_stale_since_is_kept_while_the_patient_stays_stale():
    patient = factories.PatientFactory()
    with mock.patch.object(tasks, "enqueue_recompute"):
        schedule.schedule_recompute([patient.pk])
        first = models.PatientState.objects.get(patient=patient).stale_since
        schedule.schedule_recompute([patient.pk])
    assert models.PatientState.objects.get(patient=patient).stale_since == first


@pytest.mark.django_db
def test_a_burst_of_saves_enqueues_the_patient_once(clinician, django_capture_on_commit_callbacks):
    patient = factories.PatientFactory(site=clinician.staff_profile.sites.get())
    with (
        mock.patch.object(tasks.recompute_patient, "delay") as single,
        mock.patch.object(tasks.recompute_patients, "delay") as batch,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        transaction.atomic(),
    ):
        for i in range(100):
            lab = models.LabResult(
                patient=patient,
                date=START + dt.timedelta(days=i),
                analyte="platelets",
                value=100 + i,
                unit="10^9/L",
            )
            save_fact(lab, by=clinician)
    # One flush of the queue (beside at most one move of the data version).
    assert len([c for c in callbacks if c is not version._move]) == 1
    single.assert_called_once_with(patient.pk, force=False)
    batch.assert_not_called()
    assert models.PatientState.objects.get(patient=patient).stale_generation == 100


@pytest.mark.django_db
def test_a_rolled_back_savepoint_does_not_lose_the_enqueue(django_capture_on_commit_callbacks):
    a, b = factories.PatientFactory(), factories.PatientFactory()
    with (
        mock.patch.object(tasks, "enqueue_recompute") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        try:
            with transaction.atomic():
                schedule.schedule_recompute([a.pk])
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        schedule.schedule_recompute([b.pk])
    enqueue.assert_called_once_with([b.pk])


@pytest.mark.django_db
def test_a_cohort_import_enqueues_batches(django_capture_on_commit_callbacks, settings):
    site = factories.SiteFactory(code="ROT")
    models.Patient.objects.bulk_create(
        models.Patient(study_id=f"B-{i:04d}", site=site, primary_site="midgut") for i in range(1000)
    )
    ids = list(models.Patient.objects.values_list("pk", flat=True))
    with (
        mock.patch.object(tasks.recompute_patients, "delay") as batch,
        django_capture_on_commit_callbacks(execute=True),
    ):
        schedule.schedule_recompute(ids)
    size = settings.LUTETIA_RECOMPUTE_BATCH_SIZE
    assert batch.call_count == math.ceil(1000 / size)
    sent = [pk for call in batch.call_args_list for pk in call.args[0]]
    assert sorted(sent) == sorted(ids)
    assert all(len(call.args[0]) <= size for call in batch.call_args_list)
    assert models.PatientState.objects.filter(stale=True).count() == 1000


@pytest.mark.django_db
def test_broker_outage_does_not_fail_the_save(clinician, django_capture_on_commit_callbacks):
    patient = factories.PatientFactory(site=clinician.staff_profile.sites.get())
    lab = models.LabResult(patient=patient, date=START, analyte="wbc", value=3, unit="10^9/L")
    with (
        mock.patch.object(
            tasks.recompute_patient, "delay", side_effect=KombuOperationalError("refused")
        ),
        django_capture_on_commit_callbacks(execute=True),
    ):
        save_fact(lab, by=clinician)
    assert models.LabResult.objects.filter(pk=lab.pk).exists()
    assert models.PatientState.objects.get(patient=patient).stale is True


@pytest.mark.django_db
def test_eager_mode_recomputes_after_commit(clinician, django_capture_on_commit_callbacks):
    """Without a broker the same task runs in-process once the transaction commits."""
    patient = salvage_patient(labs=0, site=clinician.staff_profile.sites.get())
    recompute.recompute_patient(patient.pk)
    assert models.CourseOutcome.objects.get(patient=patient).grade_platelets is None
    lab = models.LabResult(
        patient=patient,
        date=START + dt.timedelta(days=30),
        analyte="platelets",
        value=20,
        unit="10^9/L",
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        save_fact(lab, by=clinician)
    assert models.PatientState.objects.get(patient=patient).stale is True
    for callback in callbacks:
        callback()
    assert models.CourseOutcome.objects.get(patient=patient).grade_platelets == 4
    assert models.PatientState.objects.get(patient=patient).stale is False

    with django_capture_on_commit_callbacks(execute=True):
        delete_fact(lab, by=clinician)
    assert models.CourseOutcome.objects.get(patient=patient).grade_platelets is None


@pytest.mark.django_db
def test_stale_patient_ids_only_lists_patients_waiting_long_enough():
    old, recent, fresh = (factories.PatientFactory() for _ in range(3))
    now = dt.datetime.now(dt.UTC)
    models.PatientState.objects.create(
        patient=old, stale=True, stale_since=now - dt.timedelta(minutes=10)
    )
    models.PatientState.objects.create(patient=recent, stale=True, stale_since=now)
    models.PatientState.objects.create(patient=fresh, stale=False)
    assert recompute.stale_patient_ids(180) == [old.pk]


# ------------------------------------------------------------------ the command


@pytest.mark.django_db
def test_command_recomputes_all_patients_with_progress():
    patients = [salvage_patient() for _ in range(3)]
    out = StringIO()
    call_command("recompute", "--all", stdout=out)
    assert "3/3" in out.getvalue() and "Recomputed 3 of 3" in out.getvalue()
    assert not models.PatientState.objects.filter(patient__in=patients, stale=True).exists()


@pytest.mark.django_db
def test_command_one_patient_and_only_stale():
    a, b = salvage_patient(), salvage_patient()
    out = StringIO()
    call_command("recompute", "--patient", a.study_id, stdout=out)
    assert "Recomputed 1 of 1" in out.getvalue()
    assert models.CourseOutcome.objects.filter(patient=a).exists()
    assert not models.CourseOutcome.objects.filter(patient=b).exists()

    out = StringIO()
    call_command("recompute", "--stale", stdout=out)  # b has no state row yet
    assert "Recomputed 1 of 1" in out.getvalue()
    assert models.CourseOutcome.objects.filter(patient=b).exists()


@pytest.mark.django_db
def test_command_refuses_unclear_or_unknown_selections():
    with pytest.raises(CommandError, match="--all"):
        call_command("recompute", stdout=StringIO())
    with pytest.raises(CommandError, match="NOPE"):
        call_command("recompute", "--patient", "NOPE", stdout=StringIO())
    with pytest.raises(CommandError, match="exclude"):
        call_command("recompute", "--all", "--patient", "X", stdout=StringIO())
    with pytest.raises(CommandError, match="1 or more"):
        call_command("recompute", "--all", "--jobs", "0", stdout=StringIO())
    if connection.vendor == "sqlite":
        with pytest.raises(CommandError, match="needs PostgreSQL"):
            call_command("recompute", "--all", "--jobs", "2", stdout=StringIO())
    else:  # forked processes cannot see this test's uncommitted rows
        with pytest.raises(CommandError, match="outside atomic"):
            call_command("recompute", "--all", "--jobs", "2", stdout=StringIO())


@pytest.mark.django_db
def test_the_default_is_a_process_per_core_on_postgresql_only_outside_a_transaction():
    from registry.management.commands.recompute import default_jobs, jobs_for

    assert default_jobs() == 1  # SQLite, or (PostgreSQL) this test's transaction
    assert jobs_for("postgresql", False, 2) == 2
    assert jobs_for("postgresql", False, 16) == 4  # DEFAULT_MAX_JOBS
    assert jobs_for("postgresql", True, 16) == 1
    assert jobs_for("sqlite", False, 16) == 1
    salvage_patient()
    out = StringIO()
    call_command("recompute", "--all", stdout=out)  # one batch: no process is forked
    assert "Recomputed 1 of 1 patient(s)" in out.getvalue()
    assert "with 1 process (" in out.getvalue()


@pytest.mark.django_db
def test_a_batch_costs_the_queries_of_one_patient():
    counts = []
    for size in (1, 3, 6):
        patients = [salvage_patient() for _ in range(size)]
        with CaptureQueriesContext(connection) as queries:
            results = recompute.recompute_patients([p.pk for p in patients])
        assert set(results.values()) == {"done"}
        counts.append(len(queries))
    # One read per kind of fact and one write per derived table, for the whole batch.
    assert counts[0] == counts[1] == counts[2]


@pytest.mark.django_db
def test_a_batch_writes_each_patient_on_its_own_terms():
    """In one batch: a patient superseded by a save keeps its stale flag, one whose facts
    the engine refuses keeps its error, one deleted is missing, the others are done."""
    done, superseded, failing = (salvage_patient() for _ in range(3))
    schedule.schedule_recompute([done.pk, superseded.pk, failing.pk])
    loaded = recompute.load_patients([done.pk, superseded.pk])
    outcomes = [(loaded[p.pk], recompute.evaluate(loaded[p.pk])) for p in (done, superseded)]
    schedule.schedule_recompute([superseded.pk])  # a clinician saves meanwhile
    assert recompute.store_outcomes(outcomes) == {done.pk: "done", superseded.pk: "superseded"}
    assert models.CourseOutcome.objects.filter(patient=done).exists()
    assert not models.CourseOutcome.objects.filter(patient=superseded).exists()
    assert models.PatientState.objects.get(patient=superseded).stale is True

    real = recompute.evaluate_patient

    def engine(facts, **rules):
        if facts.study_id == failing.study_id:
            raise ValueError("bad facts")
        return real(facts, **rules)

    with mock.patch.object(recompute, "evaluate_patient", side_effect=engine):
        results = recompute.recompute_patients([superseded.pk, failing.pk, 10**9], force=False)
    assert results[superseded.pk] == "done" and results[10**9] == "missing"
    assert isinstance(results[failing.pk], ValueError)
    assert list(results) == [superseded.pk, failing.pk, 10**9]  # in the order asked
    state = models.PatientState.objects.get(patient=failing)
    assert state.stale is True and "bad facts" in state.last_error


@pytest.mark.django_db
def test_a_batch_that_cannot_take_its_locks_is_written_patient_by_patient():
    """A lock wait given up for the batch (a clinician holds one of its rows) costs only
    the patient whose row is held: the others are written one at a time."""
    from django.db import OperationalError

    patients = [salvage_patient() for _ in range(3)]
    schedule.schedule_recompute([p.pk for p in patients])
    real, calls = recompute.store_outcomes, []

    def store(evaluated):
        calls.append([loaded.patient_id for loaded, _ in evaluated])
        if len(evaluated) > 1 or evaluated[0][0].patient_id == patients[1].pk:
            raise OperationalError("canceling statement due to lock timeout")
        return real(evaluated)

    with mock.patch.object(recompute, "store_outcomes", side_effect=store):
        results = recompute.recompute_patients([p.pk for p in patients])
    assert calls == [[p.pk for p in patients]] + [[p.pk] for p in patients]
    assert results[patients[0].pk] == results[patients[2].pk] == "done"
    assert isinstance(results[patients[1].pk], OperationalError)
    assert models.PatientState.objects.get(patient=patients[1]).stale is True
