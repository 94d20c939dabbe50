"""Data-quality findings of a patient (CLINICAL.md §8).

Decisions beyond CLINICAL.md's text:

- "Blood count" means a hemoglobin, platelets, wbc, neutrophils or
  lymphocytes value dated after the cycle and at most 56 days (8 weeks) after
  it.  With `today` given, a cycle less than 8 weeks old is not yet flagged.
- "Last follow-up older than 12 months" means more than 12 months of 30.4375
  days before `today`; without `today` the check is skipped.  A living patient
  with no last follow-up at all is flagged too.
- Each finding has a stable `code`; the message is for people.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, timedelta
from operator import attrgetter
from typing import Any, Protocol

from registry.clinical import plausibility
from registry.clinical.courses import ScheduledCourse, months_between, schedule_courses
from registry.clinical.facts import CycleFact, PatientFacts
from registry.clinical.response import (
    missing_targets,
    recist_target_observations,
    select_baseline_scan,
    select_follow_up_scans,
    unmeasured_targets,
)

BY_DATE = attrgetter("date")

BLOOD_COUNT_ANALYTES: frozenset[str] = frozenset(
    {"hemoglobin", "platelets", "wbc", "neutrophils", "lymphocytes"}
)
BLOOD_COUNT_DAYS = 56
FOLLOW_UP_OVERDUE_MONTHS = 12.0


class EvaluatedPatient(Protocol):
    """What the checks read of `timeline.evaluate_patient`'s result: its courses.

    A protocol, not an import: timeline imports this module to attach the
    findings to its outcome, so this module must not import timeline.
    """

    courses: tuple[Any, ...]


# Every finding code with the words a page shows for it (CLINICAL.md §8, §1, §2b, §3, §6).
FINDING_LABELS: dict[str, str] = {
    "course_without_cycles": "Course without cycles",
    "no_baseline_scan": "No baseline scan",
    "cycle_without_blood_count": "Cycle without a blood count in the 8 weeks after it",
    "follow_up_missing_target": "Follow-up scan missing a baseline target lesion",
    "recist_too_many_targets": "More targets than RECIST allows",
    "recist_too_many_targets_in_organ": "More targets in one organ than RECIST allows",
    "recist_target_not_measurable": "Target not measurable at baseline (RECIST)",
    "course_without_prior_progression": "Course started without a progression after the previous",
    "last_follow_up_before_course": "Last follow-up before a course",
    "no_last_follow_up": "No last follow-up date",
    "follow_up_overdue": "Last follow-up more than 12 months ago",
    "overlapping_courses": "Overlapping courses",
    "completed_below_intended": "Completed course below its intended activity",
    "implausible_value": "Implausible lab value (unit mix-up?)",
    "implausible_change": "Implausible change from the previous lab value",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One data-quality finding (CLINICAL.md §8)."""

    code: str
    message: str
    course_key: int | None = None
    scan_key: int | None = None


def findings(
    facts: PatientFacts, outcome: EvaluatedPatient, *, today: date | None = None
) -> list[Finding]:
    """Data-quality findings of one patient (CLINICAL.md §8, plus §2b and §3 warnings).

    Codes: `course_without_cycles`, `no_baseline_scan`,
    `cycle_without_blood_count`, `follow_up_missing_target`,
    `recist_too_many_targets`, `recist_too_many_targets_in_organ`,
    `recist_target_not_measurable`, `course_without_prior_progression`,
    `last_follow_up_before_course`, `no_last_follow_up`, `follow_up_overdue`,
    `overlapping_courses`, `completed_below_intended` (§1: stop reason
    `completed` on a course that did not reach its intended activity),
    `implausible_value` and `implausible_change` (§6, `plausibility`).
    `outcome` (from `timeline.evaluate_patient`) supplies the progression
    dates under the chosen criteria; `timeline.findings(facts)` evaluates the
    patient first when no outcome is at hand.
    """
    found: list[Finding] = [
        Finding("course_without_cycles", "Course has no cycles recorded.", course.key)
        for course in facts.courses
        if not course.cycles
    ]
    scheduled = schedule_courses(facts.courses)
    by_key = {c.course_key: c for c in outcome.courses}
    seen_baselines: set[int] = set()
    for i, sc in enumerate(scheduled):
        label = f"{sc.phase} course {sc.round} ({sc.start.isoformat()})"
        found.extend(_scan_findings(facts, sc, label, seen_baselines))
        if i > 0:
            found.extend(_sequence_findings(scheduled[i - 1], sc, label, by_key))
        found.extend(_follow_up_before_course(facts, sc, label))
        evaluated = by_key.get(sc.key)
        if (
            sc.course.stop_reason == "completed"
            and evaluated is not None
            and evaluated.intended_reached is False
        ):
            found.append(
                Finding(
                    "completed_below_intended",
                    f"The {label} is marked completed but {sc.activity_gbq:g} GBq is below "
                    f"its intended {sc.intended_activity_gbq:g} GBq.",
                    sc.key,
                )
            )
        found.extend(_blood_count_findings(facts, sc.key, sc.course.cycles, today))
    found.extend(lab_findings(facts))
    if facts.death_date is None and today is not None:
        if facts.last_follow_up is None:
            found.append(Finding("no_last_follow_up", "No last follow-up date is recorded."))
        elif months_between(facts.last_follow_up, today) > FOLLOW_UP_OVERDUE_MONTHS:
            found.append(
                Finding(
                    "follow_up_overdue",
                    f"Last follow-up {facts.last_follow_up.isoformat()} is more than "
                    f"{FOLLOW_UP_OVERDUE_MONTHS:g} months ago.",
                )
            )
    return found


def _scan_findings(
    facts: PatientFacts, sc: ScheduledCourse, label: str, seen_baselines: set[int]
) -> list[Finding]:
    """A missing baseline scan; RECIST target problems of the baseline (once per scan);
    follow-up scans that leave out a baseline target or its measurement."""
    baseline = select_baseline_scan(facts.scans, sc.start)
    if baseline is None:
        return [
            Finding(
                "no_baseline_scan",
                f"The {label} has no baseline scan in the 120 days before its start.",
                sc.key,
            )
        ]
    found: list[Finding] = []
    if baseline.key not in seen_baselines:
        seen_baselines.add(baseline.key)
        found.extend(
            Finding(o.code, o.message, sc.key, o.scan_key)
            for o in recist_target_observations(baseline)
        )
    for scan in select_follow_up_scans(facts.scans, sc.start, sc.window_end):
        missing = missing_targets(baseline, scan)
        if missing:
            found.append(
                Finding(
                    "follow_up_missing_target",
                    f"Scan of {scan.date.isoformat()} does not list baseline target "
                    f"{', '.join(missing)} ({label}); it is not evaluated.",
                    sc.key,
                    scan.key,
                )
            )
        unmeasured = unmeasured_targets(baseline, scan)
        if unmeasured:
            found.append(
                Finding(
                    "follow_up_missing_target",
                    f"Scan of {scan.date.isoformat()} lists baseline target "
                    f"{', '.join(unmeasured)} without the measurement SWOG or RECIST "
                    f"needs ({label}); it is not evaluated.",
                    sc.key,
                    scan.key,
                )
            )
    return found


def _sequence_findings(
    before: ScheduledCourse, sc: ScheduledCourse, label: str, by_key: dict
) -> list[Finding]:
    """A course overlapping the previous one, or started without its progression."""
    found: list[Finding] = []
    if sc.start <= before.last_cycle:
        # Courses are consecutive runs of cycles: a course starting on or before
        # the previous one's last cycle is a cycle filed under the wrong course
        # (or a duplicate), and leaves the earlier course a window too short.
        found.append(
            Finding(
                "overlapping_courses",
                f"The {label} starts on or before the last cycle "
                f"({before.last_cycle.isoformat()}) of the {before.phase} course "
                f"{before.round}; check which course each cycle belongs to.",
                sc.key,
            )
        )
    previous = by_key.get(before.key)
    if (
        previous is not None
        and previous.progression_date.get(previous.progression_criteria) is None
    ):
        found.append(
            Finding(
                "course_without_prior_progression",
                f"The {label} started without a recorded progression after the "
                f"previous course; that course's TTP is censored on "
                f"{(sc.start - timedelta(days=1)).isoformat()}.",
                sc.key,
            )
        )
    return found


def _follow_up_before_course(facts: PatientFacts, sc: ScheduledCourse, label: str) -> list[Finding]:
    """A cycle given after the last follow-up: the follow-up date is stale (OS and TTP
    would be censored too early)."""
    if facts.last_follow_up is None or facts.last_follow_up >= sc.last_cycle:
        return []
    where = (
        f"the start of the {label}"
        if facts.last_follow_up < sc.start
        else f"the last cycle ({sc.last_cycle.isoformat()}) of the {label}"
    )
    return [
        Finding(
            "last_follow_up_before_course",
            f"Last follow-up {facts.last_follow_up.isoformat()} is before {where}.",
            sc.key,
        )
    ]


def _blood_count_findings(
    facts: PatientFacts, course_key: int, cycles: tuple[CycleFact, ...], today: date | None
) -> list[Finding]:
    counts = sorted(lab.date for lab in facts.labs if lab.analyte in BLOOD_COUNT_ANALYTES)
    found: list[Finding] = []
    for cycle in sorted(cycles, key=lambda c: c.date):
        until = cycle.date + timedelta(days=BLOOD_COUNT_DAYS)
        if today is not None and until > today:
            continue  # not yet due
        if facts.death_date is not None and facts.death_date <= until:
            continue  # died before it was due: nothing to enter
        first_after = bisect_right(counts, cycle.date)  # the first count after the cycle
        if first_after == len(counts) or counts[first_after] > until:
            found.append(
                Finding(
                    "cycle_without_blood_count",
                    f"No blood count in the 8 weeks after the cycle of {cycle.date.isoformat()}.",
                    course_key,
                )
            )
    return found


def lab_findings(facts: PatientFacts) -> list[Finding]:
    """Implausible lab values and changes of a patient (CLINICAL.md §6), in date order.

    Each value is compared with the patient's previous value of its analyte, so
    a mix-up is reported once, at the value that jumped.
    """
    found: list[Finding] = []
    seen: dict[str, list[tuple[date, float]]] = {}  # analyte -> (date, value) in date order
    for lab in sorted(facts.labs, key=BY_DATE):
        if lab.analyte not in plausibility.USUAL_RANGE:
            continue
        odd = plausibility.check_value(lab.analyte, lab.value, lab.unit)
        if odd is not None:
            found.append(Finding(odd.code, f"Lab of {lab.date.isoformat()}: {odd.message}"))
        earlier = seen.setdefault(lab.analyte, [])
        before = None
        for dated in reversed(earlier):  # the latest value of an earlier day
            if dated[0] < lab.date:
                before = dated
                break
        jump = plausibility.check_change(lab.analyte, lab.canonical_value, lab.date, before)
        if jump is not None:
            found.append(Finding(jump.code, f"Lab of {lab.date.isoformat()}: {jump.message}"))
        earlier.append((lab.date, lab.canonical_value))
    return found
