"""Small pieces of issue 17's scale work: planner statistics after a big import, list indexes."""

from __future__ import annotations

import copy

import pytest
from django.db import connection

from registry import models as m
from registry.interchange import documents
from tests.services import need_postgres

pytestmark = pytest.mark.django_db


def _reltuples(table: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
        return cursor.fetchone()[0]


def test_a_big_import_refreshes_the_planner_statistics(reference, monkeypatch):
    need_postgres()
    monkeypatch.setattr(documents, "ANALYZE_AFTER_PATIENTS", 2)
    assert documents.import_document(copy.deepcopy(reference("example_cohort.json"))).ok
    labs = m.LabResult.objects.count()
    assert labs > 0 and _reltuples("registry_labresult") == labs  # -1 until ANALYZE
    assert _reltuples("registry_patient") == m.Patient.objects.count()


def test_recompute_all_refreshes_the_planner_statistics_of_derived_rows(reference, monkeypatch):
    from io import StringIO

    from django.core.management import call_command

    from registry.management.commands import recompute

    need_postgres()
    monkeypatch.setattr(documents, "ANALYZE_AFTER_PATIENTS", 10**6)
    monkeypatch.setattr(recompute, "ANALYZE_AFTER_PATIENTS", 2)
    assert documents.import_document(copy.deepcopy(reference("example_cohort.json"))).ok
    call_command("recompute", "--all", stdout=StringIO())
    outcomes = m.CourseOutcome.objects.count()
    assert outcomes > 0 and _reltuples("registry_courseoutcome") == outcomes
    assert _reltuples("registry_timepointresponse") == m.TimePointResponse.objects.count()


@pytest.mark.parametrize(
    ("table", "order"),
    [("registry_labresult", "date, analyte, id"), ("registry_cycle", "date, id")],
)
def test_the_api_list_orders_are_served_by_an_index_not_a_sort(table, order):
    need_postgres()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN SELECT * FROM {table} ORDER BY {order} LIMIT 50")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Scan" in plan and "Sort" not in plan, plan
