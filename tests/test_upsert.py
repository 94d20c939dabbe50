"""The derived tables' upserts (`registry.derive.upsert`): rows inserted, changed ones
updated, unchanged ones left alone, the same way on PostgreSQL (COPY) and elsewhere."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from registry import models
from registry.derive import recompute
from registry.derive.upsert import upsert
from tests.services import need_postgres
from tests.test_recompute import salvage_patient

pytestmark = pytest.mark.django_db


def row_versions(table: str) -> dict[int, int]:
    """PostgreSQL's xmin of each row: it moves whenever the row is written."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, xmin::text::bigint FROM {table}")
        return dict(cursor.fetchall())


def test_a_second_recompute_of_the_same_facts_writes_no_row():
    need_postgres()
    patient = salvage_patient(labs=3, follow_ups=3)
    recompute.recompute_patient(patient.pk)
    courses, points = (
        row_versions(m._meta.db_table) for m in (models.CourseOutcome, models.TimePointResponse)
    )
    assert points, "the patient has time points"
    recompute.recompute_patient(patient.pk)
    assert row_versions(models.CourseOutcome._meta.db_table) == courses
    assert row_versions(models.TimePointResponse._meta.db_table) == points


def test_a_changed_fact_updates_the_row_in_place():
    patient = salvage_patient(labs=3, follow_ups=2)
    recompute.recompute_patient(patient.pk)
    before = models.CourseOutcome.objects.get(patient=patient)
    models.Cycle.objects.filter(course__patient=patient).update(administered_gbq=3.5)
    recompute.recompute_patient(patient.pk)
    after = models.CourseOutcome.objects.get(patient=patient)
    assert after.pk == before.pk and after.activity_gbq != before.activity_gbq


def test_two_upserts_of_one_table_in_one_transaction_write_each_its_own_rows():
    """The temporary table is emptied before each use, not only at commit: the second
    upsert of a patient in one transaction writes its new rows, not the first ones."""
    patient = salvage_patient(labs=2, follow_ups=2)
    cycles = models.Cycle.objects.filter(course__patient=patient)
    with transaction.atomic():
        for gbq in (7.4, 3.5, 5.0):
            cycles.update(administered_gbq=gbq)
            assert recompute.recompute_patient(patient.pk) == "done"
            outcome = models.CourseOutcome.objects.get(patient=patient)
            assert outcome.activity_gbq == pytest.approx(2 * gbq)


def test_nothing_to_write_is_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        upsert(
            models.TimePointResponse,
            [],
            unique_fields=["course", "scan", "criteria"],
            update_fields=["response"],
            batch_size=10,
        )
