"""`ahead`: a query answered on a second connection while the page goes on (issue 17)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from registry.research.ahead import ahead, concurrent
from tests.services import need_postgres


def _backend_pid() -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return threading.get_ident(), cursor.fetchone()[0]


def _sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_work_runs_on_its_own_thread_and_connection():
    need_postgres()
    here = _backend_pid()
    before = _sessions()
    assert concurrent()
    there = ahead(_backend_pid)()
    assert there[0] != here[0] and there[1] != here[1]
    # The thread closed its connection: its server process ends a moment later.
    deadline = time.monotonic() + 10
    while _sessions() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _sessions() == before


@pytest.mark.django_db(transaction=True)
def test_an_error_of_the_work_is_raised_where_its_answer_is_asked_for():
    need_postgres()

    def broken():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")

    answer = ahead(broken)
    with pytest.raises(Exception, match="division by zero"):
        answer()


@pytest.mark.django_db
def test_inside_a_transaction_the_work_runs_here_when_asked_for():
    """A second connection would not see the transaction's rows: same thread, same
    connection, and nothing runs before the answer is asked for."""
    calls = []
    with transaction.atomic():
        assert not concurrent()
        answer = ahead(lambda: calls.append(threading.get_ident()) or len(calls))
        assert calls == []
        assert answer() == 1 and calls == [threading.get_ident()]


@pytest.mark.django_db(transaction=True)
def test_the_platelet_weeks_ahead_are_those_binned_here():
    import io

    from django.core.management import call_command

    from registry.research import figure_data
    from registry.research.cohort import Cohort
    from registry.research.filters import CohortFilter
    from tests import factories

    need_postgres()
    call_command("demo_cohort", patients=20, seed=3, stdout=io.StringIO())
    admin = factories.UserFactory(role="admin")
    cohort = Cohort(admin, CohortFilter())
    here = figure_data._platelet_weeks_streamed(cohort.rows)
    assert sum(week.n for week in here) > 50
    assert figure_data.platelet_weeks_ahead(Cohort(admin, CohortFilter()))() == here


@pytest.mark.django_db(transaction=True)
def test_a_cohort_read_ahead_answers_as_one_read_in_place():
    """`Cohort.read_ahead`: the TTP after regular therapy, the late events and the stale
    count, read on a second connection by the selection, equal those read here by the
    rows' ids; the report made from them is the same."""
    import io

    from django.core.management import call_command

    from registry import models as m
    from registry.research.cohort import Cohort
    from registry.research.filters import CohortFilter
    from registry.research.report import cohort_report
    from tests import factories

    need_postgres()
    call_command("demo_cohort", patients=30, seed=5, stdout=io.StringIO())
    m.AdverseEvent.objects.filter(category="").update(category="mds")  # some late events
    research = factories.UserFactory(role="research", sites=list(m.Site.objects.all()[:1]))
    for user in (factories.UserFactory(role="admin"), research):
        for phase in ("regular", "salvage"):
            here, there = (
                Cohort(user, CohortFilter(phase=phase)),
                Cohort(user, CohortFilter(phase=phase)),
            )
            there.read_ahead()
            assert there._ahead is not None
            for name in ("regular_ttp", "late_events", "stale_patients"):
                assert getattr(there, name) == getattr(here, name), (phase, name)
            assert cohort_report(there) == cohort_report(Cohort(user, CohortFilter(phase=phase)))
    assert sum(map(len, Cohort(research, CohortFilter(phase="regular")).late_events.values()))
