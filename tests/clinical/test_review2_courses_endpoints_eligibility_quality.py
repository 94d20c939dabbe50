"""Second independent review: courses, endpoints, eligibility, data quality.

CLINICAL.md §1 (courses, phases, time), §3 (progression, censoring, TTP/PFS/OS),
§7 (pre-cycle eligibility warnings) and §8 (data-quality findings).

Every expected value is derived by hand from the text of CLINICAL.md (and, where
the text leaves a choice open, from the documented decision in the module
docstring, named in the comment).  Day counts are plain calendar arithmetic,
months are days / 30.4375, written out as literal constants.  The cases
deliberately avoid repeating test_review_timeline.py: they sit on the other
side of its thresholds or on the same-day edges a clinician meets.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from registry.clinical import units
from registry.clinical.courses import (
    in_window,
    intended_reached,
    months,
    months_between,
    schedule_courses,
)
from registry.clinical.eligibility import EligibilityThresholds, check_before_cycle
from registry.clinical.facts import (
    CourseFact,
    CycleFact,
    LabFact,
    LesionFact,
    PatientFacts,
    ScanFact,
)
from registry.clinical.timeline import evaluate_patient, findings

EPS = 1e-9


def d(s: str) -> date:
    return date.fromisoformat(s)


def crs(key: int, phase: str, *cycles: tuple[str, float], intended: float | None = None):
    return CourseFact(key, phase, tuple(CycleFact(d(x), a) for x, a in cycles), intended)


def lab(day: str, analyte: str, value: float, unit: str = "10^9/L") -> LabFact:
    return LabFact(d(day), analyte, value, unit, units.to_canonical(analyte, value, unit))


def tgt(label: str, long: float | None, short: float | None, organ: str | None = "liver"):
    return LesionFact(label, organ, False, True, False, long, short)


def node(label: str, organ: str, long: float = 30, short: float = 20) -> LesionFact:
    return LesionFact(label, organ, True, True, False, long, short)


def scan(key: int, day: str, *lesions: LesionFact) -> ScanFact:
    return ScanFact(key, d(day), "CT", tuple(lesions))


def pt(courses=(), **kw) -> PatientFacts:
    base = dict(
        study_id="R2",
        sex="M",
        birth_date=None,
        diagnosis_date=None,
        last_follow_up=None,
        death_date=None,
        weight_kg=None,
        courses=tuple(courses),
        labs=(),
        scans=(),
        clinical_progressions=(),
    )
    for name in ("last_follow_up", "death_date", "birth_date"):
        if isinstance(kw.get(name), str):
            kw[name] = d(kw[name])
    if "clinical_progressions" in kw:
        kw["clinical_progressions"] = tuple(d(x) for x in kw["clinical_progressions"])
    for name in ("labs", "scans"):
        if name in kw:
            kw[name] = tuple(kw[name])
    base.update(kw)
    return PatientFacts(**base)


def codes(p: PatientFacts, today: str | None = None, **kw) -> list[str]:
    out = evaluate_patient(p, today=None if today is None else d(today), **kw)
    return [f.code for f in out.findings]


# ====================================================================== §1 time

# months = days / 30.4375, unrounded


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (0, 0.0),
        (1, 0.03285420944558522),  # 1 / 30.4375
        (30, 0.9856262833675564),  # 30 / 30.4375: a 30-day month is < 1 month
        (31, 1.0184804928131417),  # 31 / 30.4375
        (487, 16.0),  # 16 × 30.4375 = 487 exactly (the seed paper's "16 months")
        (1217, 39.98357289527721),  # just under 40
        (1218, 40.01642710472279),  # 40 × 30.4375 = 1217.5: just over 40
    ],
)
def test_months_are_days_over_30_4375(days: int, expected: float) -> None:
    assert months(days) == pytest.approx(expected, abs=EPS)


def test_months_between_calendar_dates_including_leap_year() -> None:
    # 2010-01-01 → 2011-05-03: 365 + 31 + 28 + 31 + 30 + 2 = 487 days = 16.0 months
    assert months_between(d("2010-01-01"), d("2011-05-03")) == pytest.approx(16.0, abs=EPS)
    # 2012 is a leap year: 2012-01-01 → 2013-01-01 = 366 days = 12.02464 months
    assert months_between(d("2012-01-01"), d("2013-01-01")) == pytest.approx(
        12.024640657084189, abs=EPS
    )
    # same day: 0
    assert months_between(d("2012-02-29"), d("2012-02-29")) == 0.0


# ====================================================================== §1 courses


def test_rounds_are_per_phase_by_date_not_by_key_or_input_order() -> None:
    # regular 2008, salvage 2010, regular 2012, salvage 2014; given shuffled, keys reversed
    courses = [
        crs(1, "salvage", ("2014-02-01", 7.4)),
        crs(2, "regular", ("2012-03-01", 7.4)),
        crs(3, "salvage", ("2010-04-01", 7.4)),
        crs(4, "regular", ("2008-05-01", 7.4)),
    ]
    sc = schedule_courses(courses)
    assert [(c.key, c.phase, c.round) for c in sc] == [
        (4, "regular", 1),
        (3, "salvage", 1),
        (2, "regular", 2),
        (1, "salvage", 2),
    ]
    # window: to the day before the next course of ANY phase
    assert [c.window_end for c in sc] == [
        d("2010-03-31"),
        d("2012-02-29"),  # 2012 leap year: day before 03-01 is 02-29
        d("2014-01-31"),
        None,
    ]


def test_cycles_out_of_order_inside_a_course() -> None:
    # cycles entered in reverse: start = earliest, last = latest, window of the
    # previous course ends the day before the *earliest* cycle of the next
    first = crs(1, "regular", ("2010-05-01", 7.4), ("2010-01-01", 7.4), ("2010-03-01", 7.3))
    second = crs(2, "salvage", ("2012-03-01", 7.4), ("2012-01-10", 7.4))
    a, b = schedule_courses([second, first])
    assert (a.start, a.last_cycle, a.window_end, a.n_cycles) == (
        d("2010-01-01"),
        d("2010-05-01"),
        d("2012-01-09"),
        3,
    )
    assert (b.start, b.last_cycle, b.window_end) == (d("2012-01-10"), d("2012-03-01"), None)
    assert a.activity_gbq == pytest.approx(22.1, abs=EPS)  # 7.4 + 7.4 + 7.3
    assert b.cumulative_activity_gbq == pytest.approx(36.9, abs=EPS)  # 22.1 + 14.8


def test_salvage_course_without_a_preceding_regular_course() -> None:
    # e.g. regular PRRT given elsewhere: the salvage course is salvage round 1,
    # its window is open, and there is no "previous course" finding
    p = pt(
        [crs(7, "salvage", ("2010-01-01", 7.4), ("2010-03-01", 7.4), intended=14.8)],
        last_follow_up="2011-01-01",
        scans=[scan(1, "2009-12-01", tgt("L1", 20, 10))],
        labs=[lab("2010-01-20", "platelets", 200), lab("2010-03-20", "platelets", 200)],
    )
    out = evaluate_patient(p)
    (c,) = out.courses
    assert (c.phase, c.round, c.window_end) == ("salvage", 1, None)
    assert c.intended_reached is True  # 14.8 ≥ 14.75
    assert out.course("regular") is None
    assert out.course("salvage", 1) is c
    assert [f.code for f in out.findings] == []


@pytest.mark.parametrize(
    ("activities", "intended", "reached"),
    [
        ((7.4,), 7.4, True),  # one cycle exactly as intended
        ((6.66,), 7.4, True),  # exactly 0.9 × 7.4
        ((6.659,), 7.4, False),  # just below
        ((7.4, 7.4, 7.4), 22.2, True),  # float sum 22.200000000000003 is 22.2
        ((7.4, 7.4, 5.18), 22.2, True),  # 19.98 = 0.9 × 22.2
        ((7.4, 7.4, 5.17), 22.2, False),  # 19.97
        ((7.4, 7.4, 7.4, 7.4), 29.6, True),
        ((7.4, 7.4), 22.2, False),  # course stopped after two cycles: 14.8 < 19.98
    ],
)
def test_intended_activity_reached_in_scheduled_courses(activities, intended, reached) -> None:
    cycles = [(f"2010-0{1 + 2 * i}-01", a) for i, a in enumerate(activities)]
    (sc,) = schedule_courses([crs(1, "regular", *cycles, intended=intended)])
    assert sc.intended_reached is reached
    assert intended_reached(sc.activity_gbq, intended) is reached


def test_lifetime_activity_ignores_order_and_courses_without_cycles() -> None:
    p = pt(
        [
            crs(3, "salvage", ("2013-01-01", 7.4), ("2013-03-01", 7.4)),
            crs(1, "regular", ("2010-01-01", 7.4), ("2010-03-01", 7.4), ("2010-05-01", 7.35)),
            crs(2, "salvage"),  # planned, no cycle given: no start, not scheduled
        ]
    )
    out = evaluate_patient(p)
    assert [c.course_key for c in out.courses] == [1, 3]
    assert [c.cumulative_activity_gbq for c in out.courses] == pytest.approx([22.15, 36.95])
    assert out.cumulative_activity_gbq == pytest.approx(36.95, abs=EPS)  # 22.15 + 14.8
    assert "course_without_cycles" in [f.code for f in out.findings]


def test_two_courses_starting_the_same_day_are_ordered_by_key() -> None:
    # §1 read literally: the first course's window ends the day before the next
    # course starts, i.e. the day before its own start: it can hold no event.
    a, b = schedule_courses(
        [crs(9, "salvage", ("2010-01-01", 7.4)), crs(5, "regular", ("2010-01-01", 7.4))]
    )
    assert (a.key, a.window_end) == (5, d("2009-12-31"))
    assert (b.key, b.window_end) == (9, None)
    assert not in_window(d("2010-01-01"), a.start, a.window_end)
    assert not in_window(d("2010-01-02"), a.start, a.window_end)


def test_window_boundaries_of_in_window() -> None:
    start, end = d("2010-01-01"), d("2010-12-31")
    assert not in_window(start, start, end)  # the start day itself is pre-treatment
    assert in_window(d("2010-01-02"), start, end)
    assert in_window(end, start, end)  # the day before the next course is inside
    assert not in_window(d("2011-01-01"), start, end)
    assert in_window(d("2099-01-01"), start, None)  # open window


# ====================================================================== §3 endpoints

REG = crs(1, "regular", ("2010-01-01", 7.4), ("2010-03-01", 7.4), ("2010-05-01", 7.4))
SAL = crs(2, "salvage", ("2012-01-01", 7.4), ("2012-03-01", 7.4))


def only(p: PatientFacts, **kw):
    (c,) = evaluate_patient(p, **kw).courses
    return c


def ep(e) -> tuple[bool, date, float]:
    return (e.event, e.end_date, round(e.months, 6))


def test_clinical_progression_on_the_day_of_cycle_2_counts() -> None:
    # after the start (2010-01-01) and inside the open window → progression
    c = only(pt([REG], clinical_progressions=["2010-03-01"], last_follow_up="2011-01-01"))
    assert c.progression_date == {"swog": d("2010-03-01"), "recist": d("2010-03-01")}
    # 59 days / 30.4375 = 1.938398
    assert ep(c.ttp) == (True, d("2010-03-01"), 1.938398)
    assert ep(c.pfs) == (True, d("2010-03-01"), 1.938398)
    # OS censored at last follow-up: 365 days = 11.991786
    assert ep(c.os) == (False, d("2011-01-01"), 11.991786)


def test_clinical_progression_on_the_start_day_does_not_count() -> None:
    # "after the course start": 2010-01-01 is the start → not a progression
    c = only(pt([REG], clinical_progressions=["2010-01-01"], last_follow_up="2011-01-01"))
    assert c.progression_date == {"swog": None, "recist": None}
    assert ep(c.ttp) == (False, d("2011-01-01"), 11.991786)
    assert c.clinical_progression_date is None


def test_progression_exactly_16_months_after_start() -> None:
    # 2010-01-01 → 2011-05-03 = 487 days = 16.0 months
    c = only(pt([REG], clinical_progressions=["2011-05-03"], last_follow_up="2012-01-01"))
    assert c.ttp.months == pytest.approx(16.0, abs=EPS) and c.ttp.event


def test_progression_on_last_day_of_window_belongs_to_the_first_course() -> None:
    # SAL starts 2012-01-01 → REG window ends 2011-12-31
    p = pt([REG, SAL], clinical_progressions=["2011-12-31"], last_follow_up="2013-01-01")
    out = evaluate_patient(p)
    first, second = out.courses
    assert first.window_end == d("2011-12-31")
    # 2010-01-01 → 2011-12-31 = 729 days = 23.950719
    assert ep(first.ttp) == (True, d("2011-12-31"), 23.950719)
    assert first.censored_at_next_course is False
    assert second.progression_date["swog"] is None  # before the salvage start
    assert "course_without_prior_progression" not in [f.code for f in out.findings]


def test_progression_on_the_next_course_start_day_belongs_to_neither() -> None:
    # §3 "after the course start and inside the course window": 2012-01-01 is
    # after REG's window (ends 2011-12-31) and is SAL's start day, not after it.
    p = pt([REG, SAL], clinical_progressions=["2012-01-01"], last_follow_up="2013-01-01")
    out = evaluate_patient(p)
    first, second = out.courses
    assert first.progression_date["swog"] is None and second.progression_date["swog"] is None
    assert ep(first.ttp) == (False, d("2011-12-31"), 23.950719)  # 729 days
    assert first.censored_at_next_course is True
    assert first.censor_date == d("2011-12-31")
    assert "course_without_prior_progression" in [f.code for f in out.findings]
    # SAL: 2012-01-01 → 2013-01-01 = 366 days = 12.024641, censored
    assert ep(second.ttp) == (False, d("2013-01-01"), 12.024641)


def test_pd_scan_on_a_cycle_date_is_a_progression() -> None:
    # baseline SPD 20×10 = 200; scan on cycle 3's date: 25×10 = 250 = 1.25 × nadir → PD
    p = pt(
        [REG],
        scans=[scan(1, "2009-12-15", tgt("L1", 20, 10)), scan(2, "2010-05-01", tgt("L1", 25, 10))],
        last_follow_up="2011-01-01",
    )
    c = only(p)
    assert c.progression_date["swog"] == d("2010-05-01")
    # 2010-01-01 → 2010-05-01 = 120 days = 3.942505
    assert ep(c.ttp) == (True, d("2010-05-01"), 3.942505)


def test_scan_pd_and_clinical_progression_on_the_same_day() -> None:
    p = pt(
        [REG],
        scans=[scan(1, "2009-12-15", tgt("L1", 20, 10)), scan(2, "2010-08-01", tgt("L1", 30, 10))],
        clinical_progressions=["2010-08-01"],
        last_follow_up="2011-01-01",
    )
    c = only(p)
    assert c.progression_date["swog"] == d("2010-08-01")
    assert c.clinical_progression_date == d("2010-08-01")
    assert ep(c.ttp) == (True, d("2010-08-01"), 6.965092)  # 212 days


def test_swog_only_progression_depends_on_the_chosen_criteria() -> None:
    # baseline L1 20×10: SPD 200, SoD 20.  Follow-up 22×12: SPD 264 = +32 % ≥ 25 % → SWOG PD;
    # SoD 22 = +10 % and +2 mm → RECIST SD.  Then a salvage course.
    scans = [scan(1, "2009-12-15", tgt("L1", 20, 10)), scan(2, "2011-06-01", tgt("L1", 22, 12))]
    p = pt([REG, SAL], scans=scans, last_follow_up="2013-01-01")
    swog = evaluate_patient(p)
    first = swog.courses[0]
    assert first.progression_date == {"swog": d("2011-06-01"), "recist": None}
    # 2010-01-01 → 2011-06-01 = 516 days = 16.952772
    assert ep(first.ttp) == (True, d("2011-06-01"), 16.952772)
    assert ep(first.ttp_by_criteria["recist"]) == (False, d("2011-12-31"), 23.950719)
    assert first.censored_at_next_course is False
    assert "course_without_prior_progression" not in [f.code for f in swog.findings]
    recist = evaluate_patient(p, progression_criteria="recist")
    first = recist.courses[0]
    assert ep(first.ttp) == (False, d("2011-12-31"), 23.950719)
    assert ep(first.pfs) == (False, d("2011-12-31"), 23.950719)
    assert first.censored_at_next_course is True
    assert "course_without_prior_progression" in [f.code for f in recist.findings]


def test_death_on_the_last_follow_up_day() -> None:
    c = only(pt([REG], death_date="2011-06-01", last_follow_up="2011-06-01"))
    # 2010-01-01 → 2011-06-01 = 516 days = 16.952772
    assert ep(c.os) == (True, d("2011-06-01"), 16.952772)
    assert ep(c.pfs) == (True, d("2011-06-01"), 16.952772)
    assert ep(c.ttp) == (False, d("2011-06-01"), 16.952772)  # death without progression
    assert c.follow_up_months == pytest.approx(16.952772, abs=1e-6)


def test_death_with_no_last_follow_up_recorded() -> None:
    # censoring date falls back to the latest fact, which is the death itself;
    # a death is an event for OS and PFS regardless
    c = only(pt([REG], death_date="2010-09-01", labs=[lab("2010-08-01", "wbc", 4.0)]))
    assert ep(c.os) == (True, d("2010-09-01"), 7.983573)  # 243 days
    assert ep(c.pfs) == (True, d("2010-09-01"), 7.983573)
    assert ep(c.ttp) == (False, d("2010-09-01"), 7.983573)
    assert c.follow_up_months == pytest.approx(7.983573, abs=1e-6)


def test_progression_and_death_on_the_same_day() -> None:
    c = only(pt([REG], clinical_progressions=["2010-09-01"], death_date="2010-09-01"))
    assert ep(c.ttp) == (True, d("2010-09-01"), 7.983573)  # progression wins the tie
    assert ep(c.pfs) == (True, d("2010-09-01"), 7.983573)
    assert ep(c.os) == (True, d("2010-09-01"), 7.983573)


def test_progression_recorded_after_death_does_not_make_ttp_an_event() -> None:
    # Decision (timeline docstring): a progression dated after death is ignored
    c = only(
        pt([REG], clinical_progressions=["2010-09-02"], death_date="2010-09-01"),
    )
    assert ep(c.ttp) == (False, d("2010-09-01"), 7.983573)
    assert ep(c.pfs) == (True, d("2010-09-01"), 7.983573)  # death is the PFS event


def test_progression_after_death_is_not_reported_as_the_course_progression() -> None:
    c = only(pt([REG], clinical_progressions=["2010-09-02"], death_date="2010-09-01"))
    assert c.progression_date == {"swog": None, "recist": None}
    assert c.clinical_progression_date is None


def test_death_on_the_course_start_day() -> None:
    c = only(pt([REG], death_date="2010-01-01"))
    assert ep(c.os) == (True, d("2010-01-01"), 0.0)
    assert ep(c.pfs) == (True, d("2010-01-01"), 0.0)
    assert ep(c.ttp) == (False, d("2010-01-01"), 0.0)


def test_death_on_the_last_day_of_the_window_versus_on_the_next_start() -> None:
    # Windows are dates: REG's window ends 2011-12-31.
    inside = evaluate_patient(pt([REG, SAL], death_date="2011-12-31")).courses[0]
    assert ep(inside.pfs) == (True, d("2011-12-31"), 23.950719)  # 729 days
    assert ep(inside.ttp) == (False, d("2011-12-31"), 23.950719)
    assert inside.censored_at_next_course is False
    on_start = evaluate_patient(pt([REG, SAL], death_date="2012-01-01")).courses[0]
    assert ep(on_start.pfs) == (False, d("2011-12-31"), 23.950719)  # censored at window end
    assert on_start.censored_at_next_course is True
    assert ep(on_start.os) == (True, d("2012-01-01"), 23.983573)  # 730 days; OS not cut


def test_censoring_falls_back_to_the_latest_dated_fact_of_any_kind() -> None:
    # no last follow-up: latest of cycles, labs, scans, progressions, adverse events
    p = pt(
        [REG],
        labs=[lab("2010-07-01", "wbc", 4.0)],
        scans=[scan(1, "2010-09-01", tgt("L1", 20, 10))],
        adverse_events=(("kidney failure", 3, d("2011-02-01")),),
    )
    out = evaluate_patient(p)
    assert out.censor_date == d("2011-02-01")
    c = out.courses[0]
    # 2010-01-01 → 2011-02-01 = 396 days = 13.010267
    assert ep(c.os) == (False, d("2011-02-01"), 13.010267)
    assert ep(c.ttp) == (False, d("2011-02-01"), 13.010267)
    assert c.follow_up_months == pytest.approx(13.010267, abs=1e-6)


def test_censoring_without_any_fact_after_the_cycles() -> None:
    # the latest dated fact is the last cycle
    c = only(pt([REG]))
    assert ep(c.os) == (False, d("2010-05-01"), 3.942505)  # 120 days
    assert ep(c.pfs) == (False, d("2010-05-01"), 3.942505)


def test_last_follow_up_on_the_start_day_and_the_day_before() -> None:
    # on the start day: 0 months, flagged because later cycles were given after it;
    # the day before: moved to the start, flagged as before the start
    same = pt([REG], last_follow_up="2010-01-01")
    assert ep(only(same).os) == (False, d("2010-01-01"), 0.0)
    [stale] = [f for f in findings(same) if f.code == "last_follow_up_before_course"]
    assert "before the last cycle" in stale.message
    last = max(c.date for c in REG.cycles)
    on_last = pt([REG], last_follow_up=last.isoformat())
    assert "last_follow_up_before_course" not in codes(on_last)
    before = pt([REG], last_follow_up="2009-12-31")
    assert ep(only(before).os) == (False, d("2010-01-01"), 0.0)
    assert "last_follow_up_before_course" in codes(before)


def test_last_follow_up_between_two_courses_is_flagged_for_the_later_one() -> None:
    p = pt([REG, SAL], last_follow_up="2011-06-01", clinical_progressions=["2011-03-01"])
    out = evaluate_patient(p)
    flagged = [f.course_key for f in out.findings if f.code == "last_follow_up_before_course"]
    assert flagged == [2]
    # OS of REG is censored at the last follow-up, not at the next course
    assert ep(out.courses[0].os) == (False, d("2011-06-01"), 16.952772)  # 516 days


def test_os_of_every_course_runs_to_the_same_death() -> None:
    p = pt([REG, SAL], clinical_progressions=["2011-06-01"], death_date="2013-01-01")
    first, second = evaluate_patient(p).courses
    assert ep(first.os) == (True, d("2013-01-01"), 36.008214)  # 365 + 365 + 366 = 1096 days
    assert ep(second.os) == (True, d("2013-01-01"), 12.024641)  # 366 days
    assert ep(second.pfs) == (True, d("2013-01-01"), 12.024641)
    assert ep(second.ttp) == (False, d("2013-01-01"), 12.024641)
    assert second.follow_up_months == pytest.approx(12.024641, abs=1e-6)


def test_follow_up_uses_death_even_if_last_follow_up_is_later() -> None:
    # "months from course start to last follow-up or death": a last follow-up
    # entered after death (e.g. date of notification) does not extend follow-up
    c = only(pt([REG], death_date="2010-09-01", last_follow_up="2010-10-01"))
    assert c.follow_up_months == pytest.approx(7.983573, abs=1e-6)  # 243 days
    assert ep(c.os) == (True, d("2010-09-01"), 7.983573)


# ====================================================================== §7 eligibility

CYCLE = d("2012-06-01")


def before(days: int) -> str:
    return (CYCLE - timedelta(days=days)).isoformat()


GOOD = [
    lab(before(3), "hemoglobin", 7.0, "mmol/L"),
    lab(before(3), "wbc", 4.0),
    lab(before(3), "platelets", 200),
    lab(before(3), "creatinine", 80, "umol/L"),
]


def good_except(analyte: str) -> list[LabFact]:
    return [x for x in GOOD if x.analyte != analyte]


def warn(p: PatientFacts, activity: float = 7.4, **kw) -> list[str]:
    return sorted(w.code for w in check_before_cycle(p, CYCLE, activity, **kw))


def test_eligibility_clean_first_cycle() -> None:
    assert warn(pt(labs=GOOD)) == []


def test_only_one_missing_analyte_gives_only_its_own_warning() -> None:
    assert warn(pt(labs=good_except("creatinine"))) == ["missing_recent_creatinine"]
    assert warn(pt(labs=good_except("hemoglobin"))) == ["missing_recent_hemoglobin"]


def test_a_lab_after_the_cycle_date_is_not_a_recent_value() -> None:
    after = lab((CYCLE + timedelta(days=1)).isoformat(), "platelets", 200)
    assert warn(pt(labs=[*good_except("platelets"), after])) == ["missing_recent_platelets"]
    # a low value after the cycle is not used either: the 3-day-old 200 is the latest
    low_after = lab((CYCLE + timedelta(days=1)).isoformat(), "platelets", 20)
    assert warn(pt(labs=[*GOOD, low_after])) == []


def test_the_latest_value_decides_even_when_it_is_worse_than_an_older_one() -> None:
    # day −14: wbc 1.5 (low); day −1: wbc 2.0 (ok) → no warning; reversed → warning
    ok_last = [*good_except("wbc"), lab(before(14), "wbc", 1.5), lab(before(1), "wbc", 2.0)]
    assert warn(pt(labs=ok_last)) == []
    low_last = [*good_except("wbc"), lab(before(14), "wbc", 2.0), lab(before(1), "wbc", 1.99)]
    assert warn(pt(labs=low_last)) == ["low_wbc"]


@pytest.mark.parametrize(
    ("value", "unit", "warned"),
    [
        (6.0, "mmol/l", False),  # spelling ignored; 6.0 ≥ 6.0
        (5.95, "MMOL/L", True),
        (9.7, "g/dl", False),
        # Decision: compared in the unit entered. 9.66 g/dL ≈ 6.0 mmol/L × 1.611 = 9.666,
        # but 9.66 < 9.7 → warning.
        (9.66, "g/dL", True),
        (97.0, "G/L", False),  # 9.7 × 10
        (96.9, "g/L", True),
    ],
)
def test_hemoglobin_threshold_per_unit(value: float, unit: str, warned: bool) -> None:
    p = pt(labs=[*good_except("hemoglobin"), lab(before(2), "hemoglobin", value, unit)])
    assert (warn(p) == ["low_hemoglobin"]) is warned
    assert (warn(p) == []) is not warned


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "warned"),
    [
        ("wbc", 2000, "/mm3", False),  # 2000 / 1000 = 2.0
        ("wbc", 1999, "/mm3", True),  # 1.999 < 2.0
        ("wbc", 2.0, "10^3/uL", False),
        ("platelets", 75.0, "10^3/µL", False),
        ("platelets", 74.99, "10^9/L", True),
    ],
)
def test_count_thresholds_in_other_units(analyte, value, unit, warned) -> None:
    p = pt(labs=[*good_except(analyte), lab(before(2), analyte, value, unit)])
    assert warn(p) == ([f"low_{analyte}"] if warned else [])


@pytest.mark.parametrize(
    ("value", "unit", "warned"),
    [
        (1.69, "mg/dL", False),  # 1.69 × 88.4 = 149.396 ≤ 150
        (1.7, "mg/dL", True),  # 1.7 × 88.4 = 150.28 > 150; no weight → no clearance
        (150.0, "µmol/L", False),
        (150.1, "umol/L", True),
    ],
)
def test_creatinine_threshold_in_both_units(value, unit, warned) -> None:
    p = pt(labs=[*good_except("creatinine"), lab(before(2), "creatinine", value, unit)])
    assert warn(p) == (["high_creatinine"] if warned else [])


@pytest.mark.parametrize(
    ("birth", "sex", "warned"),
    [
        # creatinine 176.8 µmol/L = 2.0 mg/dL, weight 72 kg:
        # born 1951-06-02 → 60 completed years on 2012-06-01: (140−60)×72/(72×2) = 40.0 ≥ 40
        ("1951-06-02", "M", False),
        # born 1951-06-01 → 61 today (birthday): 79 × 72 / 144 = 39.5 < 40
        ("1951-06-01", "M", True),
        # female × 0.85: 40 × 0.85 = 34 < 40
        ("1951-06-02", "F", True),
        # unknown sex uses the male formula (kidney docstring): 40.0
        ("1951-06-02", None, False),
    ],
)
def test_clearance_of_40_rescues_a_high_creatinine(birth, sex, warned) -> None:
    labs = [*good_except("creatinine"), lab(before(2), "creatinine", 176.8, "umol/L")]
    p = pt(labs=labs, weight_kg=72.0, birth_date=birth, sex=sex)
    assert warn(p) == (["high_creatinine"] if warned else [])


def test_high_creatinine_with_weight_but_no_birth_date_still_warns() -> None:
    labs = [*good_except("creatinine"), lab(before(2), "creatinine", 176.8, "umol/L")]
    assert warn(pt(labs=labs, weight_kg=120.0)) == ["high_creatinine"]


def test_low_clearance_with_normal_creatinine_is_no_warning() -> None:
    # rule is "creatinine ≤ 150 OR clearance ≥ 40": 140 µmol/L passes on its own.
    # (CG: 90-year-old 40 kg woman, (140−90)×40/(72×1.5837)×0.85 ≈ 14.9 mL/min)
    labs = [*good_except("creatinine"), lab(before(2), "creatinine", 140, "umol/L")]
    p = pt(labs=labs, weight_kg=40.0, birth_date="1922-01-01", sex="F")
    assert warn(p) == []


def test_interval_counts_the_previous_cycle_of_another_course() -> None:
    # regular last cycle 41 days before this (first) salvage cycle → warning; 42 → none
    for gap, expected in ((41, ["short_interval"]), (42, [])):
        reg = crs(1, "regular", ("2011-06-01", 7.4), (before(gap), 7.4))
        assert warn(pt([reg], labs=GOOD)) == expected


def test_interval_to_the_latest_previous_cycle_with_cycles_out_of_order() -> None:
    # cycles recorded out of order; the previous cycle is the latest before the date
    c = crs(1, "regular", (before(10), 7.4), (before(100), 7.4), (before(50), 7.4))
    got = check_before_cycle(pt([c], labs=GOOD), CYCLE, 7.4)
    short = [w for w in got if w.code == "short_interval"]
    assert len(short) == 1 and "Only 10 days" in short[0].message


def test_lifetime_activity_over_several_courses() -> None:
    # 7.4 + 7.4 + 7.4 + 7.35 = 29.55 (regular) + 7.4 + 7.4 = 14.8 (salvage) = 44.35 so far
    reg = crs(1, "regular", ("2008-01-01", 7.4), ("2008-03-01", 7.4), ("2008-05-01", 7.4),
              ("2008-07-01", 7.35))  # fmt: skip
    sal = crs(2, "salvage", ("2011-01-01", 7.4), ("2011-03-01", 7.4))
    p = pt([reg, sal], labs=GOOD)
    assert warn(p, 0.05) == []  # 44.35 + 0.05 = 44.40, not above 44.4
    assert warn(p, 0.06) == ["lifetime_activity_exceeded"]  # 44.41
    assert warn(p, 7.4) == ["lifetime_activity_exceeded"]  # 51.75


def _tox(*labs_after: LabFact, thresholds=None) -> list[str]:
    prev = crs(1, "regular", ("2012-01-01", 7.4), ("2012-03-01", 7.4))
    labs = [*GOOD, *labs_after]
    return warn(pt([prev], labs=labs), thresholds=thresholds)


def test_toxicity_hemoglobin_grade_3_still_grade_2() -> None:
    # M, LLN 13.5 g/dL: 7.9 < 8.0 → G3 after the 2012-03-01 cycle; latest (05-30, after
    # GOOD's 05-29 value) 9.9 < 10 → G2 → warning; 9.9 ≥ 9.7 so no low_hemoglobin
    g3 = lab("2012-04-01", "hemoglobin", 7.9, "g/dL")
    assert _tox(g3, lab("2012-05-30", "hemoglobin", 9.9, "g/dL")) == ["toxicity_not_recovered"]
    # latest 10.0 g/dL: < LLN 13.5 but not < 10.0 → G1 → recovered
    assert _tox(g3, lab("2012-05-30", "hemoglobin", 10.0, "g/dL")) == []
    # latest before GOOD's 7.0 mmol/L of 05-29: that one decides (< LLN 8.5, ≥ 6.2 → G1)
    assert _tox(g3, lab("2012-05-25", "hemoglobin", 9.9, "g/dL")) == []


def test_toxicity_uses_the_latest_value_of_the_analyte() -> None:
    # GOOD's platelets 200 on 2012-05-29 is the latest: G3 on 04-01, G2 on 05-01 → recovered
    assert _tox(lab("2012-04-01", "platelets", 45), lab("2012-05-01", "platelets", 70)) == []


def test_toxicity_neutrophils_and_lymphocytes() -> None:
    # neutrophils LLN 2.0: 0.9 < 1.0 → G3; latest 1.2 < 1.5 → G2 → warning
    assert _tox(lab("2012-04-01", "neutrophils", 0.9), lab("2012-05-30", "neutrophils", 1.2)) == [
        "toxicity_not_recovered"
    ]
    # latest 1.5: not < 1.5, < 2.0 → G1 → recovered
    assert _tox(lab("2012-04-01", "neutrophils", 0.9), lab("2012-05-30", "neutrophils", 1.5)) == []
    # lymphocytes 0.49 < 0.5 → G3; latest 0.79 < 0.8 → G2 → warning
    assert _tox(lab("2012-04-01", "lymphocytes", 0.49), lab("2012-05-30", "lymphocytes", 0.79)) == [
        "toxicity_not_recovered"
    ]
    # lymphocytes 0.5 is not < 0.5 → G2 only: no warning even if it stays there
    assert _tox(lab("2012-04-01", "lymphocytes", 0.5), lab("2012-05-30", "lymphocytes", 0.5)) == []


def test_toxicity_labs_on_the_previous_cycle_day_are_pre_treatment() -> None:
    # G4 platelets (20 < 25) on the previous cycle's date, nothing after → no warning
    assert _tox(lab("2012-03-01", "platelets", 20)) == []
    # the same value the day after the previous cycle, not followed by a better one
    # (GOOD's 200 is later) → recovered; with no later value → warning
    assert _tox(lab("2012-03-02", "platelets", 20)) == []
    labs = [*good_except("platelets"), lab("2012-03-02", "platelets", 20)]
    prev = crs(1, "regular", ("2012-01-01", 7.4), ("2012-03-01", 7.4))
    assert warn(pt([prev], labs=labs)) == ["missing_recent_platelets", "toxicity_not_recovered"]


def test_toxicity_grade_3_on_the_cycle_day_itself() -> None:
    # a blood draw on the morning of the cycle counts (eligibility Decision)
    got = _tox(lab(CYCLE.isoformat(), "platelets", 40))  # 40 < 50 → G3 and < 75
    assert got == ["low_platelets", "toxicity_not_recovered"]


def test_toxicity_alert_grade_is_a_setting() -> None:
    g2 = (lab("2012-04-01", "platelets", 70), lab("2012-05-31", "platelets", 70))  # G2, G2
    assert _tox(*g2) == ["low_platelets"]  # 70 < 75 but no G3
    th = EligibilityThresholds(toxicity_alert_grade=2)
    assert _tox(*g2, thresholds=th) == ["low_platelets", "toxicity_not_recovered"]


def test_other_thresholds_are_settings() -> None:
    th = EligibilityThresholds(
        lab_lookback_days=7, min_days_between_cycles=56, max_lifetime_activity_gbq=30.0
    )
    labs = [*good_except("wbc"), lab(before(8), "wbc", 4.0)]
    prev = crs(1, "regular", ("2012-01-01", 7.4), ("2012-03-01", 7.4), ("2012-04-20", 7.4))
    # wbc 8 days old > 7; 2012-04-20 → 06-01 = 42 days < 56; 22.2 + 7.9 = 30.1 > 30
    assert warn(pt([prev], labs=labs), 7.9, thresholds=th) == [
        "lifetime_activity_exceeded",
        "missing_recent_wbc",
        "short_interval",
    ]


# ====================================================================== §8 data quality

Q_COURSE = crs(1, "salvage", ("2010-01-01", 7.4), ("2010-03-01", 7.4))
Q_SCAN = scan(1, "2009-12-01", tgt("L1", 20, 10))
Q_LABS = [lab("2010-02-01", "platelets", 200), lab("2010-04-01", "platelets", 200)]


def q(course: CourseFact = Q_COURSE, **kw) -> PatientFacts:
    base = dict(scans=[Q_SCAN], labs=Q_LABS, last_follow_up="2011-01-01")
    base.update(kw)
    return pt([course], **base)


def test_quality_clean_baseline() -> None:
    assert codes(q(), today="2011-06-01") == []


def test_quality_baseline_on_the_start_day_counts_a_scan_the_day_after_does_not() -> None:
    assert "no_baseline_scan" not in codes(q(scans=[scan(1, "2010-01-01", tgt("L1", 20, 10))]))
    after = codes(q(scans=[scan(1, "2010-01-02", tgt("L1", 20, 10))]))
    assert "no_baseline_scan" in after
    # 121 days before → too old; 120 → fine (2009-09-03 is 120 days before 2010-01-01)
    assert "no_baseline_scan" in codes(q(scans=[scan(1, "2009-09-02", tgt("L1", 20, 10))]))


def test_quality_no_baseline_scan_is_per_course() -> None:
    p = pt(
        [REG, SAL],
        scans=[scan(1, "2009-12-01", tgt("L1", 20, 10))],
        clinical_progressions=["2011-06-01"],
    )
    out = evaluate_patient(p)
    assert [f.course_key for f in out.findings if f.code == "no_baseline_scan"] == [2]


@pytest.mark.parametrize(
    ("analyte", "day", "flagged"),
    [
        ("lymphocytes", "2010-02-26", False),  # 56 days after 2010-01-01, a blood count
        ("neutrophils", "2010-01-02", False),  # the day after
        ("hemoglobin", "2010-02-27", True),  # 57 days: too late
        ("creatinine", "2010-01-20", True),  # not a blood count
        ("platelets", "2010-01-01", True),  # on the cycle day: before the infusion
    ],
)
def test_quality_blood_count_in_8_weeks(analyte: str, day: str, flagged: bool) -> None:
    one = crs(1, "salvage", ("2010-01-01", 7.4))
    unit = {"hemoglobin": "g/dL", "creatinine": "umol/L"}.get(analyte, "10^9/L")
    p = q(course=one, labs=[lab(day, analyte, 10.0 if analyte != "creatinine" else 80, unit)])
    assert ("cycle_without_blood_count" in codes(p)) is flagged


def test_quality_blood_count_is_checked_per_cycle() -> None:
    # a count after cycle 1 (02-01) but none in the 56 days after cycle 2 (03-01 → 04-26)
    p = q(labs=[lab("2010-02-01", "wbc", 4.0), lab("2010-04-27", "wbc", 4.0)])
    found = [f for f in evaluate_patient(p).findings if f.code == "cycle_without_blood_count"]
    assert len(found) == 1 and "2010-03-01" in found[0].message and found[0].course_key == 1


def test_quality_blood_count_not_yet_due_before_8_weeks() -> None:
    # cycle 2 on 2010-03-01: due on 2010-04-26 (56 days later)
    p = q(labs=[lab("2010-02-01", "wbc", 4.0)])
    assert "cycle_without_blood_count" not in codes(p, today="2010-04-25")
    assert "cycle_without_blood_count" in codes(p, today="2010-04-26")


def test_quality_blood_count_is_not_asked_of_a_patient_who_died_before_it_was_due() -> None:
    # cycle 2 on 2010-03-01, its count due by 2010-04-26; no count after it
    p = q(labs=[lab("2010-02-01", "wbc", 4.0)], last_follow_up=None, death_date="2010-03-22")
    assert "cycle_without_blood_count" not in codes(p)  # died 3 weeks after the cycle
    late = q(labs=[lab("2010-02-01", "wbc", 4.0)], last_follow_up=None, death_date="2010-04-27")
    assert "cycle_without_blood_count" in codes(late)  # alive on the day it was due


def test_quality_missing_target_only_for_targets_and_only_inside_the_window() -> None:
    nontarget = LesionFact("B1", "bone", False, False, False, None, None, "present")
    base = scan(1, "2009-12-01", tgt("L1", 20, 10), tgt("L2", 15, 10, "lung"), nontarget)
    # follow-up lists both targets but not the non-target: no finding
    ok = scan(2, "2010-06-01", tgt("L1", 20, 10), tgt("L2", 15, 10, "lung"))
    assert "follow_up_missing_target" not in codes(q(scans=[base, ok]))
    # L2 missing on a follow-up inside the window: one finding naming L2 and the scan
    miss = scan(3, "2010-06-01", tgt("L1", 20, 10))
    found = [f for f in findings(q(scans=[base, miss])) if f.code == "follow_up_missing_target"]
    assert [(f.scan_key, f.course_key) for f in found] == [(3, 1)]
    assert "L2" in found[0].message and "L1" not in found[0].message.split("target")[1]


def test_quality_missing_target_on_a_scan_after_the_window_belongs_to_no_course() -> None:
    # REG window ends 2011-12-31; a scan on 2012-01-01 is SAL's baseline, not REG's follow-up
    base = scan(1, "2009-12-01", tgt("L1", 20, 10), tgt("L2", 15, 10, "lung"))
    later = scan(2, "2012-01-01", tgt("L1", 20, 10))
    p = pt([REG, SAL], scans=[base, later], clinical_progressions=["2011-06-01"])
    assert "follow_up_missing_target" not in codes(p)


@pytest.mark.parametrize(
    ("lesions", "expected"),
    [
        # 5 targets, 2 + 2 + 1 per organ: allowed
        (
            [tgt("A", 20, 10, "liver"), tgt("B", 20, 10, "liver"), tgt("C", 20, 10, "lung"),
             tgt("D", 20, 10, "lung"), tgt("E", 20, 10, "bone")],
            [],
        ),
        # 3 targets without an organ: one "unspecified" organ → more than 2 per organ
        (
            [tgt("A", 20, 10, None), tgt("B", 20, 10, None), tgt("C", 20, 10, None)],
            ["recist_too_many_targets_in_organ"],
        ),
        # 2 nodes (one organ) + 2 liver: allowed
        (
            [node("N1", "neck"), node("N2", "groin"), tgt("A", 20, 10), tgt("B", 20, 10)],
            [],
        ),
        # 6 targets, at most 2 per organ: too many in total only
        (
            [tgt(x, 20, 10, o) for x, o in zip("ABCDEF", ["a", "a", "b", "b", "c", "c"],
                                               strict=True)],
            ["recist_too_many_targets"],
        ),
    ],
)  # fmt: skip
def test_quality_recist_target_counts(lesions, expected) -> None:
    got = [c for c in codes(q(scans=[scan(1, "2009-12-01", *lesions)])) if c.startswith("recist")]
    assert got == expected


def test_quality_course_without_prior_progression_per_course() -> None:
    # regular → (progression) → salvage 1 → (none) → salvage 2: only salvage 2 flagged
    sal2 = crs(3, "salvage", ("2014-01-01", 7.4))
    p = pt([REG, SAL, sal2], clinical_progressions=["2011-06-01"])
    out = evaluate_patient(p)
    flagged = [f.course_key for f in out.findings if f.code == "course_without_prior_progression"]
    assert flagged == [3]
    assert "2013-12-31" in next(
        f.message for f in out.findings if f.code == "course_without_prior_progression"
    )
    # salvage 1 censored the day before salvage 2: 2012-01-01 → 2013-12-31 = 730 days
    assert ep(out.courses[1].ttp) == (False, d("2013-12-31"), 23.983573)


@pytest.mark.parametrize(
    ("lfu", "today", "flagged"),
    [
        # 365 days = 11.991786 months: not older than 12
        ("2010-03-01", "2011-03-01", False),
        # across 29 Feb 2012: one calendar year = 366 days = 12.024641 months > 12
        ("2011-03-01", "2012-03-01", True),
        ("2011-03-01", "2012-02-29", False),  # 365 days
    ],
)
def test_quality_follow_up_overdue_uses_30_4375_day_months(lfu, today, flagged) -> None:
    p = q(last_follow_up=lfu)
    assert ("follow_up_overdue" in codes(p, today=today)) is flagged


def test_quality_follow_up_checks_need_today_and_a_living_patient() -> None:
    stale = q(last_follow_up="2010-06-01")
    assert "follow_up_overdue" not in codes(stale)  # no today: skipped
    assert "follow_up_overdue" in codes(stale, today="2015-01-01")
    dead = q(last_follow_up="2010-06-01", death_date="2010-07-01")
    assert "follow_up_overdue" not in codes(dead, today="2015-01-01")
    dead_no_fu = q(last_follow_up=None, death_date="2010-07-01")
    assert "no_last_follow_up" not in codes(dead_no_fu, today="2015-01-01")
    alive_no_fu = q(last_follow_up=None)
    assert "no_last_follow_up" in codes(alive_no_fu, today="2015-01-01")
    assert "no_last_follow_up" not in codes(alive_no_fu)


def test_quality_recist_counts_of_a_shared_baseline_are_reported_once() -> None:
    three = [tgt("A", 20, 10), tgt("B", 20, 10), tgt("C", 20, 10)]  # 3 liver targets
    # one scan 2009-12-01 is the baseline of both courses: 31 and 104 days before their starts
    reg = crs(1, "regular", ("2010-01-01", 7.4))
    sal = crs(2, "salvage", ("2010-03-15", 7.4))
    p = pt([reg, sal], scans=[scan(1, "2009-12-01", *three)], clinical_progressions=["2010-02-01"])
    out = evaluate_patient(p)
    assert [c.baseline_scan_key for c in out.courses] == [1, 1]
    found = [(f.scan_key, f.course_key) for f in out.findings if f.code.startswith("recist")]
    assert found == [(1, 1)]  # reported once, under the first course
    # distinct baseline scans each report their own
    scans = [scan(1, "2009-12-01", *three), scan(2, "2011-12-01", *three)]
    p = pt([REG, SAL], scans=scans, clinical_progressions=["2011-06-01"])
    found = [(f.scan_key, f.course_key) for f in evaluate_patient(p).findings
             if f.code == "recist_too_many_targets_in_organ"]  # fmt: skip
    assert found == [(1, 1), (2, 2)]


def test_quality_target_listed_without_a_measurement_is_reported() -> None:
    base = scan(1, "2009-12-01", tgt("L1", 20, 10), tgt("L2", 15, 10, "lung"))
    unmeasured = scan(2, "2010-06-01", tgt("L1", 20, 10), tgt("L2", None, None, "lung"))
    p = q(scans=[base, unmeasured])
    c = evaluate_patient(p).courses[0]
    assert [t.response for t in c.time_points] == ["NE", "NE"]  # both criteria: L2 not evaluated
    assert "follow_up_missing_target" in codes(p)


def test_overlapping_courses_are_flagged() -> None:
    # REG runs 2010-01-01 … 2010-05-01 (last cycle)
    on_last = crs(2, "salvage", ("2010-05-01", 7.4), ("2010-07-01", 7.4))
    inside = crs(2, "salvage", ("2010-03-15", 7.4))
    next_day = crs(2, "salvage", ("2010-05-02", 7.4))
    for course, flagged in ((on_last, True), (inside, True), (next_day, False)):
        p = pt([REG, course], clinical_progressions=["2010-04-20"])
        found = [f for f in findings(p) if f.code == "overlapping_courses"]
        assert bool(found) is flagged, course
        if flagged:
            assert found[0].course_key == 2 and "2010-05-01" in found[0].message
    same_day = pt([REG, crs(2, "regular", ("2010-01-01", 7.4))])
    assert [f.course_key for f in findings(same_day) if f.code == "overlapping_courses"] == [2]
