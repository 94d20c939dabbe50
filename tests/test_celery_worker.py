"""Live recomputation through a REAL Celery worker on a real Redis broker.

Each test starts `celery -A registry worker` subprocesses (tests/celery_helpers.py)
on a queue of its own, against this test's PostgreSQL database (an in-memory
SQLite test database is invisible to another process, hence need_postgres()).
Nothing here calls the recompute by hand: saving facts through the services is
all the test does, as a clinician would.
"""

from __future__ import annotations

import datetime as dt
import re
import socket

import pytest
from django.db import transaction

from registry import models
from registry.records.facts import save_fact
from tests.celery_helpers import Worker, delete_queue, publishing_to, unique_queue, wait_for
from tests.services import need_postgres, need_redis

pytestmark = [pytest.mark.celery_worker, pytest.mark.xdist_group("celery")]

START = dt.date(2005, 6, 1)
SETTLE = 60  # seconds a worker may take to bring a patient up to date


@pytest.fixture
def broker(transactional_db):
    """(broker URL, queue) for this test; the queue is deleted afterwards."""
    url = need_redis()
    need_postgres()
    queue = unique_queue()
    yield url, queue
    delete_queue(url, queue)


@pytest.fixture
def start_worker(broker, tmp_path):
    """Start workers on this test's queue; every one is stopped at teardown, pass or fail."""
    url, queue = broker
    workers: list[Worker] = []

    def start(
        env: dict[str, str] | None = None,
        extra_args: tuple[str, ...] = (),
        queues: tuple[str, ...] | None = None,
    ) -> Worker:
        worker = Worker(
            broker_url=url,
            queue=queue,
            log_path=tmp_path / f"worker-{len(workers)}.log",
            env=env or {},
            extra_args=extra_args,
            queues=queues,
        )
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.stop()


def record_patient(clinician) -> models.Patient:
    """A salvage patient entered through the services: course, cycles, baseline and follow-up."""
    site = clinician.staff_profile.sites.get()
    patient = save_fact(
        models.Patient(study_id="SAL-001", site=site, sex="F", primary_site="pancreas"),
        by=clinician,
    )
    course = save_fact(
        models.Course(patient=patient, phase="salvage", intended_activity_gbq=14.8), by=clinician
    )
    for days in (0, 56):
        save_fact(
            models.Cycle(course=course, date=START + dt.timedelta(days=days), administered_gbq=7.4),
            by=clinician,
        )
    for days, long_mm in ((-10, 40), (100, 36)):
        scan = save_fact(
            models.Scan(patient=patient, date=START + dt.timedelta(days=days), modality="CT"),
            by=clinician,
        )
        save_fact(
            models.LesionMeasurement(
                scan=scan, lesion="L1", organ="liver", long_mm=long_mm, short_mm=30
            ),
            by=clinician,
        )
    return patient


def state_of(patient: models.Patient) -> models.PatientState:
    return models.PatientState.objects.get(patient=patient)


def is_fresh(patient: models.Patient) -> bool:
    return (
        not state_of(patient).stale
        and models.CourseOutcome.objects.filter(patient=patient).exists()
    )


def settle(patient: models.Patient, *workers: Worker) -> None:
    logs = "\n---\n".join(w.tail() for w in workers)
    assert wait_for(lambda: is_fresh(patient), SETTLE), f"patient still stale:\n{logs}"


def test_a_saved_lab_changes_the_worst_grade_without_anyone_asking(broker, start_worker, clinician):
    url, queue = broker
    worker = start_worker()
    with publishing_to(url, queue):
        with transaction.atomic():
            patient = record_patient(clinician)
        settle(patient, worker)
        outcome = models.CourseOutcome.objects.get(patient=patient)
        assert outcome.grade_platelets is None and outcome.cycles == 2

        with transaction.atomic():
            save_fact(
                models.LabResult(
                    patient=patient,
                    date=START + dt.timedelta(days=30),
                    analyte="platelets",
                    value=20,
                    unit="10^9/L",
                ),
                by=clinician,
            )
            assert state_of(patient).stale is True  # marked in the same transaction
        assert wait_for(
            lambda: models.CourseOutcome.objects.get(patient=patient).grade_platelets == 4,
            SETTLE,
        ), worker.tail()
        settle(patient, worker)

    outcome = models.CourseOutcome.objects.get(patient=patient)
    assert (outcome.grade_platelets, outcome.grade_hematologic) == (4, 4)
    assert state_of(patient).stale is False


def test_a_clinicians_save_is_not_queued_behind_a_bulk_recompute(broker, start_worker, clinician):
    """Issue 17: one patient's recompute goes to `<queue>.interactive`, which has its own worker
    (docker-compose's worker-interactive), while a batch on the default queue is still running."""
    from registry.derive import tasks

    url, queue = broker
    bulk = start_worker(env={"LUTETIA_TEST_TASK_DELAY": "10"}, queues=(queue,))
    interactive = start_worker(queues=(f"{queue}.interactive",))
    with publishing_to(url, queue):
        with transaction.atomic():
            patient = record_patient(clinician)
        settle(patient, interactive)
        other = save_fact(
            models.Patient(study_id="BULK-1", site=patient.site, sex="M", primary_site="midgut"),
            by=clinician,
        )
        assert wait_for(lambda: not state_of(other).stale, SETTLE), interactive.tail()
        models.PatientState.objects.filter(patient=other).update(stale=True)
        assert tasks.enqueue_recompute([patient.pk, other.pk], force=True) == 1  # one batch
        assert wait_for(lambda: "recompute_patients" in bulk.log(), 20), bulk.tail()
        with transaction.atomic():
            save_fact(
                models.LabResult(
                    patient=patient,
                    date=START + dt.timedelta(days=30),
                    analyte="platelets",
                    value=20,
                    unit="10^9/L",
                ),
                by=clinician,
            )
        assert wait_for(
            lambda: models.CourseOutcome.objects.get(patient=patient).grade_platelets == 4, 15
        ), interactive.tail()
        assert state_of(other).stale is True  # the batch is still asleep on the bulk worker
    bulk.kill()  # no need to wait out its sleep
    assert "recompute_patient[" in interactive.log()
    assert "recompute_patient[" not in bulk.log()


def test_a_task_killed_with_its_worker_is_redelivered(broker, start_worker, clinician):
    url, queue = broker
    redeliver = {
        "LUTETIA_BROKER_VISIBILITY_TIMEOUT": "3",
        "LUTETIA_BROKER_RESTORE_INTERVAL": "1",
        "LUTETIA_BROKER_RESTORE_THROTTLE": "1",
    }
    # The first worker sleeps in the task long enough to be killed in it.
    slow = start_worker({"LUTETIA_TEST_TASK_DELAY": "120"})
    with publishing_to(url, queue):
        with transaction.atomic():
            patient = record_patient(clinician)  # one transaction: one task message

        received = re.compile(r"Task registry\.tasks\.recompute_patient\[([0-9a-f-]+)\] received")
        assert wait_for(lambda: received.search(slow.log()) is not None, 30), slow.tail()
        task_id = received.search(slow.log()).group(1)
        slow.kill()
        assert state_of(patient).stale is True

        fresh = start_worker(redeliver)
        settle(patient, fresh)

    assert task_id in fresh.log(), fresh.tail()  # the same message, delivered again
    course = patient.courses.get()
    assert models.CourseOutcome.objects.filter(patient=patient).count() == 1
    points = models.TimePointResponse.objects.filter(course=course)
    assert sorted(points.values_list("criteria", flat=True)) == ["recist", "swog"]
    assert models.CourseOutcome.objects.get(course=course).best_swog == "SD"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_saves_survive_a_broker_outage_and_the_sweep_catches_up(
    broker, start_worker, clinician, tmp_path
):
    _, queue = broker
    unreachable = f"redis://127.0.0.1:{closed_port()}/0"
    with publishing_to(unreachable, queue), transaction.atomic():
        patient = record_patient(clinician)
    assert models.Patient.objects.filter(pk=patient.pk).exists()  # the save succeeded
    assert state_of(patient).stale is True
    assert not models.CourseOutcome.objects.filter(patient=patient).exists()

    # The broker is back: a worker with its beat runs the periodic sweep.
    worker = start_worker(
        {"LUTETIA_STALE_SWEEP_SECONDS": "1", "LUTETIA_SWEEP_INTERVAL_SECONDS": "1"},
        extra_args=("--beat", "--schedule", str(tmp_path / "beat-schedule")),
    )
    settle(patient, worker)
    assert "sweep_stale_patients" in worker.log()
    assert models.CourseOutcome.objects.get(patient=patient).best_swog == "SD"
