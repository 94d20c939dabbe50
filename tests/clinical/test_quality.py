"""Data-quality findings (CLINICAL.md §8)."""

from __future__ import annotations

from datetime import date, timedelta

from registry.clinical import units
from registry.clinical.facts import (
    CourseFact,
    CycleFact,
    LabFact,
    LesionFact,
    PatientFacts,
    ScanFact,
)
from registry.clinical.timeline import findings

START = date(2010, 1, 1)


def day(n: int) -> date:
    return START + timedelta(days=n)


def plt(n: int) -> LabFact:
    return LabFact(
        day(n), "platelets", 200, "10^9/L", units.to_canonical("platelets", 200, "10^9/L")
    )


def target(label: str, organ: str = "liver", long: float = 20) -> LesionFact:
    return LesionFact(label, organ, False, True, False, long, 10)


def patient(**kw) -> PatientFacts:
    base = dict(
        study_id="Q-1",
        sex="M",
        birth_date=None,
        diagnosis_date=None,
        last_follow_up=day(400),
        death_date=None,
        weight_kg=None,
        courses=(CourseFact(1, "salvage", (CycleFact(START, 7.4),)),),
        labs=(plt(56),),
        scans=(ScanFact(1, day(-10), "CT", (target("L1"),)),),
        clinical_progressions=(),
    )
    base.update(kw)
    return PatientFacts(**base)


def codes(p: PatientFacts, today: date | None = None) -> list[str]:
    return [f.code for f in findings(p, today=today)]


def test_clean_patient() -> None:
    assert codes(patient(), today=day(500)) == []


def test_no_baseline_scan() -> None:
    assert codes(patient(scans=())) == ["no_baseline_scan"]
    assert codes(patient(scans=(ScanFact(1, day(-121), "CT", (target("L1"),)),))) == [
        "no_baseline_scan"
    ]


def test_cycle_without_blood_count_in_8_weeks() -> None:
    assert codes(patient(labs=(plt(57),))) == ["cycle_without_blood_count"]
    assert codes(patient(labs=(plt(0),))) == ["cycle_without_blood_count"]
    assert codes(patient(labs=()), today=day(55)) == []  # not yet due
    assert codes(patient(labs=()), today=day(56)) == ["cycle_without_blood_count"]


def test_follow_up_missing_target() -> None:
    scans = (
        ScanFact(1, day(-10), "CT", (target("L1"), target("L2", "lung"))),
        ScanFact(2, day(90), "CT", (target("L1"),)),
    )
    found = findings(patient(scans=scans))
    assert [(f.code, f.scan_key, f.course_key) for f in found] == [
        ("follow_up_missing_target", 2, 1)
    ]
    assert "L2" in found[0].message


def test_too_many_targets() -> None:
    scans = (ScanFact(1, day(-10), "CT", tuple(target(f"L{i}") for i in range(6))),)
    assert codes(patient(scans=scans)) == [
        "recist_too_many_targets",
        "recist_too_many_targets_in_organ",
    ]


def test_course_without_prior_progression() -> None:
    courses = (
        CourseFact(1, "regular", (CycleFact(day(-400), 7.4),)),
        CourseFact(2, "salvage", (CycleFact(START, 7.4),)),
    )
    labs = (plt(-350), plt(56))
    scans = (ScanFact(1, day(-10), "CT", (target("L1"),)), ScanFact(2, day(-420), "CT", ()))
    assert codes(patient(courses=courses, labs=labs, scans=scans)) == [
        "course_without_prior_progression"
    ]
    progressed = patient(courses=courses, labs=labs, scans=scans, clinical_progressions=(day(-30),))
    assert codes(progressed) == []


def test_follow_up_overdue_for_living_patient() -> None:
    lfu = day(400)
    twelve_months = lfu + timedelta(days=365)  # 11.99 months of 30.4375 days
    assert codes(patient(), today=twelve_months) == []
    assert codes(patient(), today=lfu + timedelta(days=366)) == ["follow_up_overdue"]
    dead = patient(death_date=day(300), last_follow_up=day(300))
    assert codes(dead, today=day(2000)) == []
    assert codes(patient(last_follow_up=None), today=day(100)) == ["no_last_follow_up"]


def test_last_follow_up_before_course() -> None:
    assert codes(patient(last_follow_up=day(-1))) == ["last_follow_up_before_course"]
