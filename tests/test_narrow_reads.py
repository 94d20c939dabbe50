"""The API's cohort answers read only the columns they use (issue 17): the same answer as
from the whole rows, and no column read later one row at a time."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.research.analyses import survival_analysis, survival_reads
from registry.research.cohort import Cohort
from registry.research.filters import STRATA, CohortFilter
from registry.research.report import cohort_report, cohort_report_reads

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(django_capture_on_commit_callbacks):
    from registry.interchange.demo import create_demo_cohort

    with django_capture_on_commit_callbacks(execute=True):
        create_demo_cohort(24, seed=11)


def _queries(work) -> tuple[object, int]:
    with CaptureQueriesContext(connection) as queries:
        answer = work()
    return answer, len(queries)


def _same_answer_in_as_many_queries(user, selection: CohortFilter, analyse, reads) -> None:
    whole, whole_queries = _queries(lambda: analyse(Cohort(user, selection)))
    narrow, narrow_queries = _queries(lambda: analyse(Cohort(user, selection, **reads)))
    assert narrow == whole
    # A column read but not named would cost a query per row: 24 more, not 0.
    assert narrow_queries <= whole_queries


@pytest.mark.parametrize("strata", [None, *STRATA, "custom.enets_stage"])
@pytest.mark.parametrize("endpoint", ["ttp", "os"])
def test_survival_reads_name_every_column_a_stratum_reads(demo, admin_user, strata, endpoint):
    selection = CohortFilter(phase="regular", endpoint=endpoint, strata=strata)
    reads = survival_reads(selection)
    assert reads["columns"], reads  # every stratum here is narrowed
    analysis, _ = _queries(lambda: survival_analysis(Cohort(admin_user, selection, **reads)))
    assert sum(group["n"] for group in analysis["groups"]) > 10  # the demo cohort is there
    _same_answer_in_as_many_queries(admin_user, selection, survival_analysis, reads)


@pytest.mark.parametrize("strata", [None, "site", "ttp_regular", "ecog", "custom.enets_stage"])
def test_incidence_reads_name_every_column_it_reads(demo, admin_user, strata):
    from registry.research.incidence import cumulative_incidence, incidence_reads

    selection = CohortFilter(phase="regular", strata=strata, times=(6.0, 12.0))
    reads = incidence_reads(selection)
    assert {"ttp_swog_months", "pfs_swog_event"} <= set(reads["columns"])
    _same_answer_in_as_many_queries(admin_user, selection, cumulative_incidence, reads)


def test_survival_reads_follow_the_criteria_of_the_best_response(demo, admin_user):
    selection = CohortFilter(phase="regular", criteria="recist", strata="best_response")
    assert "best_recist" in survival_reads(selection)["columns"]
    _same_answer_in_as_many_queries(
        admin_user, selection, survival_analysis, survival_reads(selection)
    )


def test_an_unknown_stratum_reads_the_whole_rows():
    assert survival_reads(CohortFilter(strata="custom.nothing_defined")) == {}


@pytest.mark.parametrize("criteria", ["swog", "recist"])
@pytest.mark.parametrize("window_days", [None, 30])
def test_cohort_report_reads_name_every_column_it_reads(demo, admin_user, criteria, window_days):
    """Both toxicity paths: the stored grades, and a window graded again from the labs
    (which reads the course's phase and window and the patient's sex)."""
    extra = {} if window_days is None else {"toxicity_window_days": window_days}
    selection = CohortFilter(phase="regular", criteria=criteria, **extra)
    reads = cohort_report_reads(selection)
    assert ("patient__sex" in reads["columns"]) == (window_days is not None)
    report, _ = _queries(lambda: cohort_report(Cohort(admin_user, selection, **reads)))
    assert report["n_patients"] > 10
    _same_answer_in_as_many_queries(admin_user, selection, cohort_report, reads)


def test_a_read_without_relations_builds_no_related_instance(demo, admin_user):
    """`related=()` reads the rows alone (`select_related()` without a name would follow
    every relation: five instances a row where one was asked for)."""
    rows = Cohort(admin_user, CohortFilter(phase="regular"), related=(), columns=("os_months",))
    assert rows.rows and all(row._state.fields_cache == {} for row in rows.rows)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"strata": "primary_site"},
        {"strata": "site", "endpoint": "os"},
        {"strata": "custom.enets_stage", "progression_curve": "km"},
        {"strata": "ecog", "criteria": "recist"},
        {"strata": "ttp_regular", "endpoint": "pfs"},
        {"strata": "pancreas", "toxicity_window_days": "30"},
        {"strata": "sex", "endpoint": "os", "progression_curve": "km"},
        {"strata": "who_grade", "criteria": "recist", "progression_curve": "km"},
        {"cox": "ecog"},  # the Cox panel reads the rows whole
    ],
)
def test_dashboard_reads_name_every_column_its_panels_read(demo, admin_user, params, monkeypatch):
    from django.test import RequestFactory

    from registry.models.custom import definitions_read_once
    from registry.research.views import pages

    request = RequestFactory().get("/research/", {"phase": "regular", **params})
    request.user = admin_user
    research_filter, errors = pages.parse(request)
    assert not errors
    reads = pages.dashboard_reads(request, research_filter.selected)
    assert bool(reads) == ("cox" not in params)

    def dashboard():
        with definitions_read_once():  # as in a request (CustomFieldsMiddleware)
            return pages._dashboard(request, research_filter)

    narrow, narrow_queries = _queries(dashboard)
    monkeypatch.setattr(pages, "dashboard_reads", lambda request, selection: {})
    whole, whole_queries = _queries(dashboard)
    assert narrow["report"]["n_patients"] > 10
    assert narrow == whole
    assert narrow_queries <= whole_queries


@pytest.mark.parametrize("criteria", ["swog", "recist"])
@pytest.mark.parametrize("window_days", [None, 30])
def test_paper_report_reads_name_every_column_it_reads(demo, admin_user, criteria, window_days):
    """The report page: every table and its figure, from the named columns only."""
    from registry.models.custom import definitions_read_once
    from registry.research.km_svg import cohort_km_figure
    from registry.research.report import paper_report, paper_report_reads

    extra = {} if window_days is None else {"toxicity_window_days": window_days}
    selection = CohortFilter(phase="regular", criteria=criteria, **extra)
    reads = paper_report_reads(selection)
    assert "patient__identity__birth_date" in reads["columns"]
    assert not any("name" in c or "hospital_number" in c for c in reads["columns"])

    def page(cohort):
        with definitions_read_once():
            return paper_report(cohort), cohort_km_figure(cohort)

    (report, _), _ = _queries(lambda: page(Cohort(admin_user, selection, **reads)))
    assert report["characteristics"]["n"] > 10 and report["characteristics"]["custom"]
    assert report["characteristics"]["age"]["n"] > 10
    _same_answer_in_as_many_queries(admin_user, selection, page, reads)
