"""Small pieces of issue 17's scale work: planner statistics after a big import, list indexes."""

from __future__ import annotations

import copy
import datetime as dt

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


@pytest.mark.django_db(transaction=True)
def test_a_big_import_outside_a_transaction_also_vacuums(reference, monkeypatch):
    """VACUUM marks the imported pages all-visible, so index-only scans (the platelet
    panel's covering index) need not read the table; inside a transaction only ANALYZE."""
    need_postgres()

    monkeypatch.setattr(documents, "ANALYZE_AFTER_PATIENTS", 2)
    assert documents.import_document(copy.deepcopy(reference("example_cohort.json"))).ok
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relallvisible FROM pg_class WHERE relname = %s", [m.LabResult._meta.db_table]
        )
        assert cursor.fetchone()[0] > 0  # 0 until VACUUM: ANALYZE reads the map, never sets it


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


@pytest.mark.django_db(transaction=True)
def test_recompute_all_spreads_its_batches_over_processes():
    """`--jobs 2`, and the default on PostgreSQL: forked processes, each with its own
    connection, write every patient.

    The command runs as an operator runs it, in a process of its own: forking a test
    worker (with Playwright's and xdist's threads) could copy a lock another thread holds.
    """
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.test_recompute import salvage_patient

    need_postgres()
    patients = [salvage_patient() for _ in range(5)]
    m.PatientState.objects.update(stale=True)
    db = connection.settings_dict
    where = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{where}"
    env = {**os.environ, "DATABASE_URL": url, "LUTETIA_RECOMPUTE_BATCH_SIZE": "2"}
    env.pop("CELERY_BROKER_URL", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "recompute", "--all", "--jobs", "2"],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Recomputed 5 of 5 patient(s)" in done.stdout and "with 2 processes" in done.stdout
    assert not m.PatientState.objects.filter(stale=True).exists()
    assert m.CourseOutcome.objects.filter(patient__in=patients).count() == 5

    # Without --jobs: a process per core (at most 4), here three batches of two.
    m.PatientState.objects.update(stale=True)
    m.CourseOutcome.objects.all().delete()
    done = subprocess.run(
        [sys.executable, "manage.py", "recompute", "--all"],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    jobs = min(len(os.sched_getaffinity(0)), 4, 3)
    assert "Recomputed 5 of 5 patient(s) in" in done.stdout
    assert f"with {jobs} process{'es' if jobs > 1 else ''} (" in done.stdout
    assert not m.PatientState.objects.filter(stale=True).exists()
    assert m.CourseOutcome.objects.filter(patient__in=patients).count() == 5


def test_the_fact_lists_filter_is_exactly_the_visible_patients(
    site, other_site, clinician, admin_user
):
    """`patient_rows_filter` (an id list on PostgreSQL, a subquery elsewhere) keeps the
    rows of the user's sites and no other; admins get no filter, strangers nothing."""
    from django.contrib.auth import get_user_model

    from registry.access import patient_rows_filter, visible_patients
    from tests import factories

    mine = factories.PatientFactory(site=site)
    theirs = factories.PatientFactory(site=other_site)
    for patient in (mine, theirs):
        factories.LabFactory(patient=patient)
        factories.CycleFactory(course=factories.CourseFactory(patient=patient))
    labs = m.LabResult.objects.filter(patient_rows_filter(clinician))
    assert list(labs) == list(m.LabResult.objects.filter(patient__in=visible_patients(clinician)))
    assert {lab.patient_id for lab in labs} == {mine.pk}
    cycles = m.Cycle.objects.filter(patient_rows_filter(clinician, "course__patient"))
    assert {c.course.patient_id for c in cycles} == {mine.pk}
    assert m.LabResult.objects.filter(patient_rows_filter(admin_user)).count() == 2
    stranger = get_user_model().objects.create_user("stranger", password="x" * 16)
    assert not m.LabResult.objects.filter(patient_rows_filter(stranger)).exists()


def test_the_platelet_panel_summarised_in_postgresql_draws_the_streamed_weeks():
    """On PostgreSQL the database bins and summarises the platelets; the weeks are
    exactly those of binning every value in Python, on a cohort and on the edges."""
    import io

    from django.core.management import call_command

    from registry.research import figure_data
    from registry.research.cohort import Cohort
    from registry.research.filters import CohortFilter
    from tests import factories

    need_postgres()
    call_command("demo_cohort", patients=40, seed=4, stdout=io.StringIO())
    course = factories.CourseFactory(patient__study_id="ZZ-EDGE")
    first = dt.date(2010, 3, 1)
    for day in (first, first + dt.timedelta(days=61)):
        factories.CycleFactory(course=course, date=day)
    offsets = (-29, -28, -22, -21, -1, 0, 1, 6, 7, 8, 13, 60, 61, 62, 61 + 90, 61 + 91, 61 + 400)
    for value, offset in enumerate(offsets, start=100):
        factories.LabFactory(patient=course.patient, date=first + dt.timedelta(days=offset),
                             value=float(value))  # fmt: skip
    call_command("recompute", "--all", stdout=io.StringIO())
    admin = factories.UserFactory(role="admin")
    cohort = Cohort(admin, CohortFilter())
    summarised = figure_data.platelet_weeks(cohort)  # on PostgreSQL: in the database
    assert summarised == figure_data._platelet_weeks_streamed(cohort.rows)
    assert sum(week.n for week in summarised) > 100
    assert figure_data.platelet_weeks_ahead(cohort)() == summarised

    edge = figure_data.platelet_courses(cohort).filter(patient__study_id="ZZ-EDGE")
    weeks = figure_data._platelet_weeks_in_database(edge)
    bins = {(w.cycle, w.week): (w.n, w.median, w.low, w.high) for w in weeks}
    assert (0, -5) not in bins  # 29 days before the first cycle is outside the baseline
    assert bins[(0, -4)] == (2, 101.5, 101.0, 102.0)  # −28 and −22 days: an even median
    assert bins[(0, 0)] == (1, 105.0, 105.0, 105.0)  # on the first cycle's day: baseline
    assert bins[(1, 0)] == (2, 106.5, 106.0, 107.0)  # 1 and 6 days after
    assert bins[(1, 1)] == (3, 109.0, 108.0, 110.0)  # 7, 8 and 13 days after
    assert bins[(1, 8)] == (2, 111.5, 111.0, 112.0)  # 60, 61: the 2nd cycle's day is before it
    assert bins[(2, 0)] == (1, 113.0, 113.0, 113.0)
    edge_rows = [r for r in cohort.rows if r.patient.study_id == "ZZ-EDGE"]
    assert figure_data._platelet_weeks_streamed(edge_rows) == weeks
