"""Pollers see an import's progress while its single write transaction is still open."""

import pytest
from django.db import connections, transaction

from registry.interchange.documents import import_document
from registry.interchange.jobs import ProgressWriter
from registry.models import ImportJob
from tests.services import need_postgres


def progress_seen_from_outside(job_id: int) -> float:
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT progress FROM registry_importjob WHERE id = %s", [job_id])
            return cursor.fetchone()[0]
    finally:
        other.close()


@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_during_the_write_transaction():
    need_postgres()
    job = ImportJob.objects.create(document={})
    with ProgressWriter(job.pk) as progress, transaction.atomic():
        progress(0.5)
        assert progress_seen_from_outside(job.pk) == 0.5
    progress_seen = progress_seen_from_outside(job.pk)
    assert progress_seen == 0.5


def test_progress_runs_from_zero_to_one_through_checking_and_writing(db, reference):
    seen: list[float] = []
    result = import_document(reference("example_cohort.json"), progress=seen.append)
    assert not result.errors
    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert seen == sorted(seen)
    assert any(0 < f < 1 for f in seen)  # intermediate steps, not just start and end
