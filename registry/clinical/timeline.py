"""A patient's courses, progression, censoring and TTP/PFS/OS (CLINICAL.md §1, §3).

`evaluate_patient` is the one entry point the Django side calls: it returns
every derived value of a patient as flat, frozen dataclasses.

Decisions beyond CLINICAL.md's text:

- A progression (PD scan or clinical) dated after the death date is ignored.
- TTP with neither progression nor death: censored the day before the next
  course (if any), else at the censoring date.  PFS likewise; a death counts
  for PFS only inside the course window.  OS is never cut by a later course.
- A censoring date before the course start (a last follow-up recorded before
  the course) is moved to the course start, giving 0 months; data quality
  reports it.
- Follow-up of a course: start → death, else last follow-up, else the
  latest dated fact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from registry.clinical import ctcae, quality
from registry.clinical.courses import (
    DEFAULT_INTENDED_ACTIVITY_FRACTION,
    ScheduledCourse,
    activity_sum,
    in_window,
    months_between,
    schedule_courses,
)
from registry.clinical.facts import PatientFacts
from registry.clinical.response import CRITERIA, TimePoint, evaluate_course_response


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Months from course start to an event or censoring (CLINICAL.md §3)."""

    months: float
    event: bool
    end_date: date


@dataclass(frozen=True, slots=True)
class ResponseSummary:
    """Best overall response as reported, with the computed one (CLINICAL.md §2c)."""

    criteria: str
    response: str  # the override if there is one, else the computed response
    computed: str
    overridden: bool
    reason: str  # of the computed response
    best_pct_change: float | None
    scan_key: int | None


@dataclass(frozen=True, slots=True)
class CourseOutcome:
    """Everything the registry derives for one course (CLINICAL.md §1–§3, §5)."""

    course_key: int
    phase: str
    round: int
    start: date
    last_cycle: date
    window_end: date | None
    n_cycles: int
    activity_gbq: float
    cumulative_activity_gbq: float  # lifetime, up to and including this course
    intended_activity_gbq: float | None
    intended_reached: bool | None
    baseline_scan_key: int | None
    best_response: dict[str, ResponseSummary]  # "swog", "recist"
    time_points: tuple[TimePoint, ...]  # both criteria, each tagged with its criteria
    worst_grades: dict[str, int | None]  # "hematologic" + graded analytes; None = not assessed
    progression_date: dict[str, date | None]  # by criteria (scan PD or clinical)
    clinical_progression_date: date | None
    censor_date: date  # TTP/PFS censoring without event: day before next course, else patient's
    censored_at_next_course: bool
    progression_criteria: str  # the criteria behind `ttp` and `pfs`
    ttp: Endpoint
    pfs: Endpoint
    os: Endpoint
    ttp_by_criteria: dict[str, Endpoint]
    pfs_by_criteria: dict[str, Endpoint]
    follow_up_months: float


@dataclass(frozen=True, slots=True)
class PatientOutcome:
    """A patient's derived results (CLINICAL.md §1–§8)."""

    study_id: str
    courses: tuple[CourseOutcome, ...]  # in date order
    cumulative_activity_gbq: float  # lifetime
    censor_date: date | None  # last follow-up, else latest dated fact
    findings: tuple[quality.Finding, ...]

    def course(self, phase: str, round: int = 1) -> CourseOutcome | None:
        """The course of `phase` and `round`, if any."""
        return next((c for c in self.courses if c.phase == phase and c.round == round), None)


def latest_fact_date(facts: PatientFacts) -> date | None:
    """The latest date anywhere in a patient's facts (CLINICAL.md §3)."""
    dates: list[date] = [cycle.date for course in facts.courses for cycle in course.cycles]
    dates += [lab.date for lab in facts.labs]
    dates += [scan.date for scan in facts.scans]
    dates += list(facts.clinical_progressions)
    dates += [onset for _, _, onset in facts.adverse_events if onset is not None]
    dates += [d for d in (facts.last_follow_up, facts.death_date) if d is not None]
    return max(dates, default=None)


def censoring_date(facts: PatientFacts) -> date | None:
    """The patient's last follow-up; if missing, the latest dated fact (CLINICAL.md §3)."""
    return facts.last_follow_up or latest_fact_date(facts)


def progression_date(
    first_pd_scan: date | None,
    clinical_progressions: tuple[date, ...],
    start: date,
    window_end: date | None,
    death: date | None = None,
) -> date | None:
    """Earliest of a PD scan and a clinical progression in the course window (CLINICAL.md §3).

    A progression dated after the death date is ignored (a data error), so no
    progression is reported, or drawn, after a patient's death.
    """
    dates = [*clinical_progressions, *([first_pd_scan] if first_pd_scan is not None else [])]
    candidates = [
        d for d in dates if in_window(d, start, window_end) and (death is None or d <= death)
    ]
    return min(candidates, default=None)


def _endpoint(start: date, end: date, event: bool) -> Endpoint:
    end = max(end, start)
    return Endpoint(months_between(start, end), event, end)


def time_to_progression(
    start: date,
    progression: date | None,
    death: date | None,
    window_end: date | None,
    censor: date,
) -> Endpoint:
    """TTP: start → progression (event); death without progression censors (CLINICAL.md §3)."""
    if progression is not None and (death is None or progression <= death):
        return _endpoint(start, progression, True)
    if death is not None and (window_end is None or death <= window_end):
        return _endpoint(start, death, False)
    return _endpoint(start, window_end if window_end is not None else censor, False)


def progression_free_survival(
    start: date,
    progression: date | None,
    death: date | None,
    window_end: date | None,
    censor: date,
) -> Endpoint:
    """PFS: start → progression or death, whichever first (CLINICAL.md §3)."""
    events: list[date] = []
    if progression is not None and (death is None or progression <= death):
        events.append(progression)
    if death is not None and (window_end is None or death <= window_end):
        events.append(death)
    if events:
        return _endpoint(start, min(events), True)
    return _endpoint(start, window_end if window_end is not None else censor, False)


def overall_survival(start: date, death: date | None, censor: date) -> Endpoint:
    """OS: start → death (event), else censored at the censoring date (CLINICAL.md §3)."""
    if death is not None:
        return _endpoint(start, death, True)
    return _endpoint(start, censor, False)


def evaluate_course(
    facts: PatientFacts,
    sc: ScheduledCourse,
    *,
    toxicity_window_days: int = ctcae.DEFAULT_TOXICITY_WINDOW_DAYS,
    confirmation_days: int | None = None,
    progression_criteria: str = "swog",
) -> CourseOutcome:
    """All derived values of one scheduled course (CLINICAL.md §1–§3, §5)."""
    if progression_criteria not in CRITERIA:
        raise ValueError(f"progression_criteria must be one of {CRITERIA}")
    responses = {
        c: evaluate_course_response(
            facts.scans, sc.start, sc.window_end, criteria=c, confirmation_days=confirmation_days
        )
        for c in CRITERIA
    }
    best: dict[str, ResponseSummary] = {}
    for c, r in responses.items():
        override = sc.course.best_response_override.get(c)
        best[c] = ResponseSummary(
            criteria=c,
            response=override or r.best.response,
            computed=r.best.response,
            overridden=bool(override),
            reason=r.best.reason,
            best_pct_change=r.best.best_pct_change,
            scan_key=r.best.scan_key,
        )
    death = facts.death_date
    patient_censor = censoring_date(facts) or sc.last_cycle
    window = (sc.start, sc.window_end, death)
    clinical = progression_date(None, facts.clinical_progressions, *window)
    prog = {
        c: progression_date(r.first_pd_date, facts.clinical_progressions, *window)
        for c, r in responses.items()
    }
    ttp = {
        c: time_to_progression(sc.start, prog[c], death, sc.window_end, patient_censor)
        for c in CRITERIA
    }
    pfs = {
        c: progression_free_survival(sc.start, prog[c], death, sc.window_end, patient_censor)
        for c in CRITERIA
    }
    no_progression = prog[progression_criteria] is None
    follow_up_end = death or facts.last_follow_up or patient_censor
    return CourseOutcome(
        course_key=sc.key,
        phase=sc.phase,
        round=sc.round,
        start=sc.start,
        last_cycle=sc.last_cycle,
        window_end=sc.window_end,
        n_cycles=sc.n_cycles,
        activity_gbq=sc.activity_gbq,
        cumulative_activity_gbq=sc.cumulative_activity_gbq,
        intended_activity_gbq=sc.intended_activity_gbq,
        intended_reached=sc.intended_reached,
        baseline_scan_key=responses["swog"].baseline_scan_key,
        best_response=best,
        time_points=tuple(tp for c in CRITERIA for tp in responses[c].time_points),
        worst_grades=ctcae.worst_grades(
            sc.course,
            facts.labs,
            sex=facts.sex,
            window_end=sc.window_end,
            toxicity_window_days=toxicity_window_days,
        ),
        progression_date=prog,
        clinical_progression_date=clinical,
        censor_date=sc.window_end or max(patient_censor, sc.start),
        censored_at_next_course=no_progression
        and sc.window_end is not None
        and (death is None or death > sc.window_end),
        progression_criteria=progression_criteria,
        ttp=ttp[progression_criteria],
        pfs=pfs[progression_criteria],
        os=overall_survival(sc.start, death, patient_censor),
        ttp_by_criteria=ttp,
        pfs_by_criteria=pfs,
        follow_up_months=months_between(sc.start, max(follow_up_end, sc.start)),
    )


def evaluate_patient(
    facts: PatientFacts,
    *,
    toxicity_window_days: int = ctcae.DEFAULT_TOXICITY_WINDOW_DAYS,
    confirmation_days: int | None = None,
    progression_criteria: str = "swog",
    today: date | None = None,
    intended_fraction: float = DEFAULT_INTENDED_ACTIVITY_FRACTION,
) -> PatientOutcome:
    """Every derived value of a patient (CLINICAL.md §1–§3, §5, §8).

    `toxicity_window_days` (§5, default 90), `confirmation_days` (§2c
    `RESPONSE_CONFIRMATION_DAYS`, default off) and `progression_criteria`
    ("swog" default, or "recist"; drives `ttp`/`pfs`, while
    `ttp_by_criteria`/`pfs_by_criteria` hold both) are the settings.  `today`
    enables the time-dependent data-quality checks of §8. `intended_fraction`
    is §1's `LUTETIA_INTENDED_ACTIVITY_FRACTION` (default 0.9).
    """
    scheduled = schedule_courses(facts.courses, intended_fraction=intended_fraction)
    courses = tuple(
        evaluate_course(
            facts,
            sc,
            toxicity_window_days=toxicity_window_days,
            confirmation_days=confirmation_days,
            progression_criteria=progression_criteria,
        )
        for sc in scheduled
    )
    outcome = PatientOutcome(
        study_id=facts.study_id,
        courses=courses,
        cumulative_activity_gbq=activity_sum(
            cycle.activity_gbq for course in facts.courses for cycle in course.cycles
        ),
        censor_date=censoring_date(facts),
        findings=(),
    )
    found = quality.findings(facts, outcome, today=today)
    return PatientOutcome(
        study_id=outcome.study_id,
        courses=outcome.courses,
        cumulative_activity_gbq=outcome.cumulative_activity_gbq,
        censor_date=outcome.censor_date,
        findings=tuple(found),
    )


def findings(facts: PatientFacts, *, today: date | None = None) -> list[quality.Finding]:
    """The data-quality findings of a patient evaluated with the default settings (§8)."""
    return list(evaluate_patient(facts, today=today).findings)
