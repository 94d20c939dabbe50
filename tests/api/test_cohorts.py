"""registry/research/: the filter, the selection and the on-the-fly toxicity window."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from registry import models
from registry.derive import recompute
from registry.research import cohort as cohorts
from registry.research.analyses import survival_analysis
from registry.research.cohort import Cohort
from registry.research.filters import CohortFilter
from registry.research.report import cohort_report
from tests import factories

pytestmark = pytest.mark.django_db


def test_defaults():
    cohort = CohortFilter.from_params({})
    assert (cohort.phase, cohort.round, cohort.criteria, cohort.conf_type) == (
        "salvage", 1, "swog", "log-log",
    )  # fmt: skip
    assert cohort.window_days == 90 and cohort.strata is None


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValidationError) as caught:
        CohortFilter.from_params({"phase": "x", "round": "y", "oops": "1"})
    assert set(caught.value.message_dict) == {"phase", "round", "oops"}


def test_filters_select_by_site_primary_site_and_disease_control(world, admin_user):
    everyone = CohortFilter.from_params({})
    assert cohorts.select_course_outcomes(admin_user, everyone).count() == 2
    rot = CohortFilter.from_params({"site": "ROT"})
    assert [o.patient.study_id for o in cohorts.select_course_outcomes(admin_user, rot)] == [
        "ROT-001"
    ]
    midgut = CohortFilter.from_params({"primary_site": "midgut"})
    assert cohorts.select_course_outcomes(admin_user, midgut).count() == 0
    # Both fixture patients have SWOG MR: disease control.
    control = CohortFilter.from_params({"disease_control": "true"})
    assert cohorts.select_course_outcomes(admin_user, control).count() == 2
    no_control = CohortFilter.from_params({"disease_control": "false"})
    assert cohorts.select_course_outcomes(admin_user, no_control).count() == 0
    second_round = CohortFilter.from_params({"round": "2"})
    assert cohorts.select_course_outcomes(admin_user, second_round).count() == 0


def test_selection_is_limited_to_visible_patients(world, clinician, other_clinician):
    everyone = CohortFilter.from_params({})
    assert [o.patient_id for o in cohorts.select_course_outcomes(clinician, everyone)] == [
        world.mine.pk
    ]
    assert [o.patient_id for o in cohorts.select_course_outcomes(other_clinician, everyone)] == [
        world.theirs.pk
    ]


def test_another_toxicity_window_grades_the_labs_again(site, admin_user):
    """A nadir 100 days after the last cycle counts in a 120-day window, not in 90."""
    patient = factories.PatientFactory(site=site, last_follow_up=dt.date(2007, 1, 1))
    course = factories.CourseFactory(patient=patient)
    factories.CycleFactory(course=course, date=dt.date(2005, 6, 1))
    factories.LabFactory(patient=patient, date=dt.date(2005, 6, 20), value=140.0)  # grade 1
    factories.LabFactory(patient=patient, date=dt.date(2005, 9, 9), value=20.0)  # day 100: g4
    recompute.recompute_patient(patient.pk)
    stored = models.CourseOutcome.objects.get(course=course)
    assert stored.grade_platelets == 1

    default = cohort_report(Cohort(admin_user, CohortFilter.from_params({})))
    assert default["toxicity"]["platelets"]["1"] == 1
    same = cohort_report(
        Cohort(admin_user, CohortFilter.from_params({"toxicity_window_days": "90"}))
    )
    assert same["toxicity"] == default["toxicity"]
    wide = cohort_report(
        Cohort(admin_user, CohortFilter.from_params({"toxicity_window_days": "120"}))
    )
    assert wide["toxicity"]["platelets"]["4"] == 1 and wide["toxicity"]["hematologic"]["4"] == 1
    assert wide["toxicity_window_days"] == 120
    narrow = cohort_report(
        Cohort(admin_user, CohortFilter.from_params({"toxicity_window_days": "5"}))
    )
    assert narrow["toxicity"]["platelets"]["not_assessed"] == 1


def test_an_empty_cohort_has_the_full_shape(admin_user):
    report = cohort_report(Cohort(admin_user, CohortFilter.from_params({})))
    assert report["n_patients"] == 0
    assert report["ttp"] == {"n": 0, "events": 0, "median_months": None, "ci95": [None, None]}
    assert report["follow_up"] == {
        "median_months": None,
        "min_months": None,
        "max_months": None,
        "reverse_km": {"median_months": None, "ci95": [None, None]},
    }
    analysis = survival_analysis(Cohort(admin_user, CohortFilter.from_params({}, analysis=True)))
    assert analysis["groups"][0]["label"] == "all" and analysis["groups"][0]["n"] == 0


def test_stale_patients_are_counted(world, admin_user):
    models.PatientState.objects.filter(patient=world.mine).update(stale=True)
    report = cohort_report(Cohort(admin_user, CohortFilter.from_params({})))
    assert report["stale_patients"] == 1
