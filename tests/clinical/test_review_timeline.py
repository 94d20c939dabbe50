"""Independent review of courses, endpoints, eligibility and data quality.

CLINICAL.md §1, §3, §7 and §8.  Expected values are worked out by hand; day
counts use plain `date` subtraction, months are days / 30.4375.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from registry.clinical import units
from registry.clinical.courses import intended_reached, months, schedule_courses
from registry.clinical.eligibility import check_before_cycle
from registry.clinical.facts import (
    CourseFact,
    CycleFact,
    LabFact,
    LesionFact,
    PatientFacts,
    ScanFact,
)
from registry.clinical.timeline import evaluate_patient, findings


def D(s: str) -> date:
    return date.fromisoformat(s)


def M(start: str, end: str) -> float:
    return (D(end) - D(start)).days / 30.4375


def course(key: int, phase: str, cycles: list[tuple[str, float]], intended=None) -> CourseFact:
    return CourseFact(key, phase, tuple(CycleFact(D(x), a) for x, a in cycles), intended)


def lab(day: str, analyte: str, value: float, unit: str = "10^9/L") -> LabFact:
    return LabFact(D(day), analyte, value, unit, units.to_canonical(analyte, value, unit))


def target(label: str, long: float, short: float = 10) -> LesionFact:
    return LesionFact(label, "liver", False, True, False, long, short)


def scan(key: int, day: str, *lesions: LesionFact) -> ScanFact:
    return ScanFact(key, D(day), "CT", lesions)


def patient(courses, *, labs=(), scans=(), progressions=(), last_follow_up=None, death=None,
            sex="F", weight=None, birth=None) -> PatientFacts:  # fmt: skip
    return PatientFacts(
        "T-1", sex, birth and D(birth), None, last_follow_up and D(last_follow_up),
        death and D(death), weight, tuple(courses), tuple(labs), tuple(scans),
        tuple(D(p) for p in progressions),
    )  # fmt: skip


# ---------------------------------------------------------------- §1


@pytest.mark.parametrize(
    ("activities", "intended", "reached"),
    [
        ((7.4, 7.35), 14.8, True),
        ((7.4, 7.3), 14.8, True),  # 14.70 ≥ 0.9 × 14.8 = 13.32
        ((7.4, 3.7), 14.8, False),  # a halved cycle: 11.1
        ((7.4, 7.4, 7.4), 22.2, True),
        ((7.4, 7.4, 7.4, 4.44), 29.6, True),  # 26.64 = 0.9 × 29.6
        ((7.4, 7.4, 7.4, 4.43), 29.6, False),  # 26.63
        ((7.4, 7.4, 7.5), 22.2, True),  # above is reached
        ((7.4,), None, None),  # no intended activity
    ],
)
def test_intended_activity_tolerance(activities, intended, reached) -> None:
    assert intended_reached(round(sum(activities), 6), intended) is reached


THREE = [
    course(1, "regular", [("2010-01-01", 7.4), ("2010-03-01", 7.4), ("2010-05-01", 7.4),
                          ("2010-07-01", 7.35)], 29.6),
    course(3, "salvage", [("2015-01-01", 7.4), ("2015-03-01", 7.3)], 14.8),
    course(2, "salvage", [("2013-01-01", 7.4), ("2013-03-01", 7.4)], 14.8),
]  # fmt: skip


def test_rounds_windows_and_cumulative_activity() -> None:
    sc = schedule_courses(THREE)
    assert [(c.phase, c.round) for c in sc] == [("regular", 1), ("salvage", 1), ("salvage", 2)]
    assert [c.start for c in sc] == [D("2010-01-01"), D("2013-01-01"), D("2015-01-01")]
    assert [c.window_end for c in sc] == [D("2012-12-31"), D("2014-12-31"), None]
    assert [c.activity_gbq for c in sc] == pytest.approx([29.55, 14.8, 14.7])
    assert [c.cumulative_activity_gbq for c in sc] == pytest.approx([29.55, 44.35, 59.05])
    assert [c.intended_reached for c in sc] == [True, True, True]  # 14.7 of 14.8 is ≥ 90 %
    assert [c.n_cycles for c in sc] == [4, 2, 2]


def test_months() -> None:
    assert months(30.4375) == 1.0
    assert months(365) == pytest.approx(11.991786, abs=1e-6)


# ---------------------------------------------------------------- §3


def test_endpoints_over_three_courses() -> None:
    p = patient(
        THREE,
        progressions=["2012-06-01", "2013-01-01"],  # 2nd is course 2's start date: not counted
        death="2016-02-01",
        last_follow_up="2016-01-15",
    )
    c1, c2, c3 = evaluate_patient(p).courses
    # course 1: clinical progression → TTP/PFS events
    assert c1.ttp.event and c1.ttp.end_date == D("2012-06-01")
    assert c1.ttp.months == pytest.approx(M("2010-01-01", "2012-06-01"))
    assert c1.pfs.event and c1.pfs.end_date == D("2012-06-01")
    assert c1.os.event and c1.os.months == pytest.approx(M("2010-01-01", "2016-02-01"))
    assert c1.censored_at_next_course is False
    # course 2: next course without progression → censored the day before it
    assert (c2.ttp.event, c2.ttp.end_date) == (False, D("2014-12-31"))
    assert c2.ttp.months == pytest.approx(M("2013-01-01", "2014-12-31"))
    assert (c2.pfs.event, c2.pfs.end_date) == (False, D("2014-12-31"))
    assert c2.censored_at_next_course is True
    assert c2.os.event and c2.os.end_date == D("2016-02-01")
    # course 3: death without progression: TTP censored at death, PFS and OS events
    assert (c3.ttp.event, c3.ttp.end_date) == (False, D("2016-02-01"))
    assert (c3.pfs.event, c3.pfs.end_date) == (True, D("2016-02-01"))
    assert (c3.os.event, c3.os.end_date) == (True, D("2016-02-01"))
    assert c3.follow_up_months == pytest.approx(M("2015-01-01", "2016-02-01"))  # to death
    codes = [f.code for f in evaluate_patient(p).findings]
    assert codes.count("course_without_prior_progression") == 1  # course 3 after course 2


def test_progression_is_earliest_of_pd_scan_and_clinical_inside_window() -> None:
    c1 = course(1, "salvage", [("2010-01-01", 7.4), ("2010-03-01", 7.4)])
    scans = [
        scan(1, "2009-12-01", target("L1", 20)),  # SPD 200
        scan(2, "2010-06-01", target("L1", 25)),  # 250 = +25 % → PD
    ]
    later_clinical = patient([c1], scans=scans, progressions=["2010-07-01"],
                             last_follow_up="2011-01-01")  # fmt: skip
    out = evaluate_patient(later_clinical).courses[0]
    assert out.progression_date["swog"] == D("2010-06-01")
    assert out.ttp.end_date == D("2010-06-01") and out.ttp.event
    earlier_clinical = patient([c1], scans=scans, progressions=["2010-04-15"],
                               last_follow_up="2011-01-01")  # fmt: skip
    out = evaluate_patient(earlier_clinical).courses[0]
    assert out.progression_date["swog"] == D("2010-04-15")
    assert out.clinical_progression_date == D("2010-04-15")
    # RECIST: 25 mm vs 20 is 1.25 × and +5 mm → PD too
    assert out.progression_date["recist"] == D("2010-04-15")


def test_progression_outside_the_window_does_not_count() -> None:
    c1 = course(1, "regular", [("2010-01-01", 7.4)])
    c2 = course(2, "salvage", [("2011-01-01", 7.4)])
    scans = [
        scan(1, "2009-12-01", target("L1", 20)),
        scan(2, "2011-01-01", target("L1", 40)),  # course 2's start: baseline of course 2
    ]
    p = patient([c1, c2], scans=scans, progressions=["2010-01-01"], last_follow_up="2012-01-01")
    first = evaluate_patient(p).courses[0]
    assert first.progression_date == {"swog": None, "recist": None}
    assert (first.ttp.event, first.ttp.end_date) == (False, D("2010-12-31"))


def test_censoring_date_last_follow_up_else_latest_fact() -> None:
    c1 = course(1, "salvage", [("2010-01-01", 7.4)])
    with_fu = patient([c1], labs=[lab("2011-05-01", "wbc", 5)], last_follow_up="2011-03-01")
    out = evaluate_patient(with_fu).courses[0]
    assert (out.os.event, out.os.end_date) == (False, D("2011-03-01"))
    assert (out.ttp.event, out.ttp.end_date) == (False, D("2011-03-01"))
    assert out.follow_up_months == pytest.approx(M("2010-01-01", "2011-03-01"))
    without = patient([c1], labs=[lab("2011-05-01", "wbc", 5)])
    out = evaluate_patient(without).courses[0]
    assert out.os.end_date == D("2011-05-01")  # the latest dated fact
    assert out.ttp.end_date == D("2011-05-01")
    assert out.pfs.end_date == D("2011-05-01") and not out.pfs.event


def test_death_after_next_course_censors_ttp_and_pfs_at_day_before() -> None:
    c1 = course(1, "regular", [("2010-01-01", 7.4)])
    c2 = course(2, "salvage", [("2012-01-01", 7.4)])
    out = evaluate_patient(patient([c1, c2], death="2013-01-01")).courses[0]
    assert (out.ttp.event, out.ttp.end_date) == (False, D("2011-12-31"))
    assert (out.pfs.event, out.pfs.end_date) == (False, D("2011-12-31"))
    assert (out.os.event, out.os.end_date) == (True, D("2013-01-01"))


def test_pfs_progression_before_death() -> None:
    c1 = course(1, "salvage", [("2010-01-01", 7.4)])
    out = evaluate_patient(patient([c1], progressions=["2010-09-01"], death="2011-02-01"))
    c = out.courses[0]
    assert (c.ttp.event, c.ttp.end_date) == (True, D("2010-09-01"))
    assert (c.pfs.event, c.pfs.end_date) == (True, D("2010-09-01"))
    assert c.pfs.months == pytest.approx(M("2010-01-01", "2010-09-01"))
    assert (c.os.event, c.os.end_date) == (True, D("2011-02-01"))


def test_lifetime_activity_sums_every_course() -> None:
    out = evaluate_patient(patient(THREE))
    assert out.cumulative_activity_gbq == pytest.approx(59.05)


# ---------------------------------------------------------------- §7 eligibility

CYCLE = D("2012-06-01")


def elig_labs(days_before: int = 3, **override) -> list[LabFact]:
    day = (CYCLE - timedelta(days=days_before)).isoformat()
    values = {
        "hemoglobin": (7.0, "mmol/L"),
        "wbc": (4.0, "10^9/L"),
        "platelets": (200, "10^9/L"),
        "creatinine": (80, "umol/L"),
    }
    values.update(override)
    return [lab(day, a, v, u) for a, (v, u) in values.items()]


def elig_codes(p: PatientFacts, activity: float = 7.4) -> list[str]:
    return sorted(w.code for w in check_before_cycle(p, CYCLE, activity))


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "warned"),
    [
        ("hemoglobin", 6.0, "mmol/L", False),
        ("hemoglobin", 5.9, "mmol/L", True),
        ("hemoglobin", 9.7, "g/dL", False),
        ("hemoglobin", 9.6, "g/dL", True),
        ("hemoglobin", 97, "g/L", False),
        ("hemoglobin", 96, "g/L", True),
        ("wbc", 2.0, "10^9/L", False),
        ("wbc", 1.9, "10^9/L", True),
        ("wbc", 2000, "/mm3", False),
        ("platelets", 75, "10^9/L", False),
        ("platelets", 74, "10^3/uL", True),
        ("platelets", 75000, "/mm3", False),
        ("creatinine", 150, "umol/L", False),
        ("creatinine", 1.69, "mg/dL", False),  # 149.4 µmol/L
        ("creatinine", 151, "umol/L", True),  # no weight: no clearance to rescue it
    ],
)
def test_eligibility_thresholds(analyte, value, unit, warned) -> None:
    p = patient([], labs=elig_labs(**{analyte: (value, unit)}))
    codes = elig_codes(p)
    assert any(c.startswith(("low_", "high_")) for c in codes) is warned


def test_creatinine_or_clearance() -> None:
    # 151 µmol/L = 1.708145 mg/dL; M 60 y 70 kg: 80 × 70 / (72 × 1.708145) = 45.5 ≥ 40
    labs = elig_labs(creatinine=(151, "umol/L"))
    male = patient([], labs=labs, sex="M", weight=70, birth="1952-01-01")  # 60 y at the cycle
    assert "high_creatinine" not in elig_codes(male)
    # F: × 0.85 = 38.7 < 40 → warning
    female = PatientFacts(**{**_fields(male), "sex": "F"})
    assert "high_creatinine" in elig_codes(female)


def _fields(p: PatientFacts) -> dict:
    return {name: getattr(p, name) for name in p.__slots__}


def test_missing_recent_values() -> None:
    assert elig_codes(patient([], labs=elig_labs(days_before=14))) == []
    codes = elig_codes(patient([], labs=elig_labs(days_before=15)))
    assert codes == [
        "missing_recent_creatinine",
        "missing_recent_hemoglobin",
        "missing_recent_platelets",
        "missing_recent_wbc",
    ]


def test_interval_and_lifetime_activity() -> None:
    prev = [(f"2011-0{m}-01", 7.4) for m in (1, 3, 5, 7, 9)]  # 5 × 7.4 = 37.0 GBq
    c41 = course(1, "salvage", [*prev, ((CYCLE - timedelta(days=41)).isoformat(), 0.0)])
    c42 = course(1, "salvage", [*prev, ((CYCLE - timedelta(days=42)).isoformat(), 0.0)])
    assert "short_interval" in elig_codes(patient([c41], labs=elig_labs()))
    assert "short_interval" not in elig_codes(patient([c42], labs=elig_labs()))
    # 37.0 + 7.4 = 44.4 exactly: not above 44.4
    assert "lifetime_activity_exceeded" not in elig_codes(patient([c42], labs=elig_labs()))
    assert "lifetime_activity_exceeded" in elig_codes(patient([c42], labs=elig_labs()), 7.5)


def test_grade_3_not_recovered() -> None:
    prev = course(1, "salvage", [("2012-03-01", 7.4)])
    g3 = lab("2012-04-01", "platelets", 40)  # G3
    back_to_1 = lab("2012-05-25", "platelets", 80)  # G1
    still_2 = lab("2012-05-25", "platelets", 60)  # G2
    base = [x for x in elig_labs() if x.analyte != "platelets"]
    assert "toxicity_not_recovered" not in elig_codes(patient([prev], labs=[*base, g3, back_to_1]))
    assert "toxicity_not_recovered" in elig_codes(patient([prev], labs=[*base, g3, still_2]))


# ---------------------------------------------------------------- §8 data quality


def codes_of(p: PatientFacts, today: str | None = None) -> list[str]:
    return [f.code for f in findings(p, today=None if today is None else D(today))]


def test_quality_course_without_baseline_scan() -> None:
    c1 = course(1, "salvage", [("2010-01-01", 7.4)])
    assert "no_baseline_scan" in codes_of(patient([c1]))
    ok = patient([c1], scans=[scan(1, "2009-09-03", target("L1", 20))])  # 120 days before
    assert "no_baseline_scan" not in codes_of(ok)


def test_quality_cycle_without_blood_count_in_8_weeks() -> None:
    c1 = course(1, "salvage", [("2010-01-01", 7.4)])
    on_day_56 = patient([c1], labs=[lab("2010-02-26", "platelets", 200)])
    on_day_57 = patient([c1], labs=[lab("2010-02-27", "platelets", 200)])
    assert "cycle_without_blood_count" not in codes_of(on_day_56)
    assert "cycle_without_blood_count" in codes_of(on_day_57)


def test_quality_missing_target_and_too_many_targets() -> None:
    c1 = course(1, "salvage", [("2010-01-01", 7.4)])
    nodes = [LesionFact(f"N{i}", organ, True, True, False, 30, 20)
             for i, organ in enumerate(["neck", "axilla", "groin"])]  # fmt: skip
    base = scan(1, "2009-12-01", target("L1", 20), *nodes)  # 3 nodes = 3 in one organ
    follow = scan(2, "2010-04-01", target("L1", 20), *nodes[:2])  # N2 missing
    codes = codes_of(patient([c1], scans=[base, follow]))
    assert "follow_up_missing_target" in codes
    assert "recist_too_many_targets_in_organ" in codes
    assert "recist_too_many_targets" not in codes  # 4 targets ≤ 5
    six = scan(1, "2009-12-01", *(LesionFact(f"L{i}", f"o{i}", False, True, False, 20, 10)
                                 for i in range(6)))  # fmt: skip
    assert "recist_too_many_targets" in codes_of(patient([c1], scans=[six]))


def test_quality_follow_up_older_than_12_months() -> None:
    c1 = course(1, "salvage", [("2010-01-01", 7.4)])
    p = patient([c1], last_follow_up="2011-01-01")
    assert "follow_up_overdue" not in codes_of(p, today="2011-12-31")
    assert "follow_up_overdue" in codes_of(p, today="2012-01-15")
    dead = patient([c1], last_follow_up="2011-01-01", death="2011-02-01")
    assert "follow_up_overdue" not in codes_of(dead, today="2014-01-01")


def test_grade_3_not_recovered_is_graded_against_the_course_baseline() -> None:
    # §5: the baseline of a course is the latest value on/before the course START.
    # Course from 2012-01-01; creatinine baseline 50 µmol/L (F, ULN 90).
    c = course(1, "salvage", [("2012-01-01", 7.4), ("2012-03-01", 7.4)])
    labs = [
        *(x for x in elig_labs() if x.analyte != "creatinine"),
        lab("2011-12-27", "creatinine", 50, "umol/L"),
        lab("2012-02-01", "creatinine", 160, "umol/L"),  # after cycle 1: 3.2 × baseline
        lab("2012-03-10", "creatinine", 160, "umol/L"),  # after cycle 2: G3 vs 50
        lab("2012-05-30", "creatinine", 100, "umol/L"),  # 2.0 × 50 → G2: not back to ≤ 1
    ]
    assert "toxicity_not_recovered" in elig_codes(patient([c], labs=labs))
    recovered = [*labs[:-1], lab("2012-05-30", "creatinine", 70, "umol/L")]  # 1.4 × 50 → 0
    assert "toxicity_not_recovered" not in elig_codes(patient([c], labs=recovered))


@pytest.mark.parametrize(
    ("fraction", "activities", "reached"),
    [(1.0, (7.4, 7.35), False), (1.0, (7.4, 7.4), True), (0.5, (7.4,), True), (0.5, (7.3,), False)],
)
def test_the_intended_fraction_is_a_setting(fraction, activities, reached) -> None:
    """§1: LUTETIA_INTENDED_ACTIVITY_FRACTION reaches the rule through schedule_courses."""
    course = CourseFact(
        1,
        "salvage",
        tuple(CycleFact(date(2010, 1 + 2 * i, 1), a) for i, a in enumerate(activities)),
        14.8,
    )
    (sc,) = schedule_courses([course], intended_fraction=fraction)
    assert sc.intended_reached is reached
    assert intended_reached(sc.activity_gbq, 14.8, fraction) is reached


def test_a_completed_course_below_its_intended_activity_is_a_finding() -> None:
    """§1: stop reason `completed` on a course that did not reach its intended activity."""

    def patient(stop: str, gbq: float) -> PatientFacts:
        course = CourseFact(
            1,
            "salvage",
            (CycleFact(date(2010, 1, 1), 7.4), CycleFact(date(2010, 3, 1), gbq)),
            14.8,
            stop_reason=stop,
        )
        return PatientFacts(
            study_id="Q-1",
            sex="F",
            birth_date=None,
            diagnosis_date=None,
            last_follow_up=date(2011, 1, 1),
            death_date=None,
            weight_kg=None,
            courses=(course,),
            labs=(),
            scans=(),
            clinical_progressions=(),
        )

    codes = lambda p: [f.code for f in evaluate_patient(p).findings]  # noqa: E731
    assert "completed_below_intended" in codes(patient("completed", 3.7))  # 11.1 < 13.32
    assert "completed_below_intended" not in codes(patient("completed", 7.3))  # reached
    assert "completed_below_intended" not in codes(patient("toxicity", 3.7))  # not "completed"
