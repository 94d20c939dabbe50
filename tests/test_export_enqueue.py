"""Security review, finding 4: with the broker down, starting a background export
answers 202 and leaves the job queued (the page polls it), and the beat sweep sends it
again once the broker is back."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from registry.models import ExportJob, JobStatus
from registry.research import tasks

pytestmark = pytest.mark.django_db


def test_a_broker_outage_leaves_the_export_queued_not_a_500(
    researcher, django_capture_on_commit_callbacks
):
    client = Client()
    client.force_login(researcher)
    refused = OperationalError("connection refused")
    with (
        mock.patch.object(tasks.run_export, "delay", side_effect=refused) as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(reverse("research_export_jobs"), {"format": "csv"})
    assert response.status_code == 202
    assert delay.called
    job = ExportJob.objects.get()
    assert job.status == JobStatus.QUEUED

    # Not yet due: the sweep leaves a fresh job alone.
    with mock.patch.object(tasks.run_export, "delay") as delay:
        assert tasks.sweep_queued_exports() == 0
    ExportJob.objects.filter(pk=job.pk).update(
        created_at=timezone.now()
        - dt.timedelta(seconds=django_settings.LUTETIA_STALE_SWEEP_SECONDS + 1)
    )
    with mock.patch.object(tasks.run_export, "delay") as delay:
        assert tasks.sweep_queued_exports() == 1
    delay.assert_called_once_with(job.pk)
    assert "sweep-queued-exports" in django_settings.CELERY_BEAT_SCHEDULE
