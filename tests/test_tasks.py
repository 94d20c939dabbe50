"""The Celery tasks' contract (registry/derive/tasks.py), run in-process.

A real worker and broker run the same tasks in tests/test_celery_worker.py.
"""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from celery.exceptions import Retry
from django.db import OperationalError
from django.utils import timezone

from registry import models
from registry.celery import app
from registry.derive import recompute, tasks
from tests import factories


def test_tasks_are_registered_under_the_names_beat_uses():
    for name in (
        "registry.tasks.recompute_patient",
        "registry.tasks.recompute_patients",
        "registry.tasks.sweep_stale_patients",
    ):
        assert name in app.tasks
    schedule = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "registry.tasks.sweep_stale_patients" in schedule


def test_tasks_are_late_acked_json_and_time_limited():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.task_serializer == "json" and app.conf.accept_content == ["json"]
    assert app.conf.worker_prefetch_multiplier == 1
    for task in (tasks.recompute_patient, tasks.recompute_patients, tasks.sweep_stale_patients):
        assert task.soft_time_limit and task.time_limit > task.soft_time_limit
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    assert visibility > tasks.recompute_patients.time_limit


def test_recompute_patient_retries_database_errors_with_jittered_backoff():
    task = tasks.recompute_patient
    assert OperationalError in task.autoretry_for
    assert task.retry_backoff and task.retry_jitter and task.max_retries


@pytest.mark.django_db
def test_batch_retries_only_the_patients_that_hit_a_database_error():
    a, b, c = (factories.PatientFactory() for _ in range(3))
    real = recompute.store_outcomes

    def flaky(evaluated):
        # The batch's write cannot take its locks, then only b's row stays held.
        if len(evaluated) > 1 or evaluated[0][0].patient_id == b.pk:
            raise OperationalError("could not obtain lock")
        return real(evaluated)

    with (
        mock.patch.object(recompute, "store_outcomes", side_effect=flaky),
        mock.patch.object(tasks.recompute_patients, "retry", side_effect=Retry()) as retry,
        pytest.raises(Retry),
    ):
        tasks.recompute_patients.run([a.pk, b.pk, c.pk], force=True)
    assert retry.call_args.kwargs["args"] == [[b.pk]]
    assert retry.call_args.kwargs["countdown"] >= 0
    assert models.PatientState.objects.filter(patient__in=[a, c], stale=False).count() == 2


@pytest.mark.django_db
def test_batch_goes_on_after_a_patient_fails():
    a, b = factories.PatientFactory(), factories.PatientFactory()
    real = recompute.evaluate

    def broken(loaded, **kwargs):
        if loaded.patient_id == a.pk:
            raise ValueError("engine bug")
        return real(loaded, **kwargs)

    with mock.patch.object(recompute, "evaluate", side_effect=broken):
        counts = tasks.recompute_patients.run([a.pk, b.pk, 10**9], force=True)
    assert counts == {"failed": 1, "done": 1, "missing": 1}


@pytest.mark.django_db
def test_batch_skips_patients_no_longer_stale():
    patient = factories.PatientFactory()
    recompute.recompute_patient(patient.pk)
    assert tasks.recompute_patients.run([patient.pk]) == {"fresh": 1}


@pytest.mark.django_db
def test_sweep_queues_patients_stale_too_long_in_batches(settings):
    settings.LUTETIA_RECOMPUTE_BATCH_SIZE = 2
    old = [factories.PatientFactory() for _ in range(3)]
    recent = factories.PatientFactory()
    long_ago = timezone.now() - dt.timedelta(seconds=settings.LUTETIA_STALE_SWEEP_SECONDS + 5)
    for patient in old:
        models.PatientState.objects.create(patient=patient, stale=True, stale_since=long_ago)
    models.PatientState.objects.create(patient=recent, stale=True, stale_since=timezone.now())

    with mock.patch.object(tasks.recompute_patients, "delay") as batch:
        assert tasks.sweep_stale_patients.run() == 3
    sent = [pk for call in batch.call_args_list for pk in call.args[0]]
    assert batch.call_count == 2 and sorted(sent) == sorted(p.pk for p in old)


@pytest.mark.django_db
def test_sweep_recomputes_in_process_without_a_broker(settings):
    assert settings.CELERY_TASK_ALWAYS_EAGER  # the tests' default: no broker
    patient = factories.PatientFactory()
    long_ago = timezone.now() - dt.timedelta(hours=1)
    models.PatientState.objects.create(patient=patient, stale=True, stale_since=long_ago)
    tasks.sweep_stale_patients.delay()
    assert models.PatientState.objects.get(patient=patient).stale is False
