"""Derived results that are never silently stale (DESIGN.md, "How data flows").

Every write marks the patient stale *inside* its transaction and queues the
recomputation *after* commit (`schedule_recompute`). The task loads the
patient's facts, runs the pure engine and replaces the derived rows in one
transaction (`recompute_patient`).

Why a generation counter: a recompute notes `PatientState.stale_generation`
before it reads any fact, and clears `stale` only if the number has not moved
by the time it writes, holding the state row's lock. A write that committed
while the recompute was running has moved it, so its stale flag survives and
its own task brings the patient up to date.

Why the lock order and the lock timeout (PostgreSQL): writers lock the fact
row first and the state row last (`save_fact`), and a course or scan delete
cascades into the derived rows. The recompute takes the patient's course and
scan rows, then the state row, then writes the derived rows, and gives up
after a short lock wait instead of waiting out a writer: a clinician's save
never fails for a background task, which simply retries.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Literal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from registry.clinical.timeline import CourseOutcome as EngineCourseOutcome
from registry.clinical.timeline import PatientOutcome, evaluate_patient
from registry.derive.loading import LoadedPatient, load_patient, load_patients
from registry.models import Course, CourseOutcome, PatientState, Scan, TimePointResponse

logger = logging.getLogger(__name__)

Status = Literal["done", "fresh", "superseded", "missing"]

# Longer than any statement of the write phase, shorter than PostgreSQL's
# deadlock_timeout (1 s): in a lock cycle with a writer, the recompute is the
# one that gives up.
LOCK_TIMEOUT_MS = 500


# ------------------------------------------------------------------ sweeps


def stale_patient_ids(older_than_seconds: int, *, limit: int | None = None) -> list[int]:
    """Patients stale for longer than the given time, the longest-waiting first."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    rows = (
        PatientState.objects.filter(stale=True, stale_since__lte=cutoff)
        .order_by("stale_since", "patient_id")
        .values_list("patient_id", flat=True)
    )
    return list(rows[:limit] if limit else rows)


# ------------------------------------------------------------------ recompute


def recompute_patient(patient_id: int, *, force: bool = True, today: date | None = None) -> Status:
    """Replace one patient's derived rows from its facts; idempotent.

    `force=False` (what the tasks use) skips a patient that is no longer
    stale: a recompute that began after the triggering write has already run.
    Returns what happened: "done", "fresh" (skipped), "superseded" (a newer
    write arrived; its own task recomputes) or "missing" (patient deleted).
    """
    loaded = load_patient(patient_id)
    if loaded is None:
        return "missing"
    return _recompute_loaded(loaded, force=force, today=today)


def recompute_patients(
    patient_ids: Sequence[int], *, force: bool = True, today: date | None = None
) -> dict[int, Status | Exception]:
    """Recompute a batch: facts loaded for all at once, each patient written on its own.

    One patient's error does not stop the others; it is returned in its place.
    """
    loaded = load_patients(patient_ids)
    results: dict[int, Status | Exception] = {}
    for patient_id in patient_ids:
        if patient_id not in loaded:
            results[patient_id] = "missing"
            continue
        try:
            results[patient_id] = _recompute_loaded(loaded[patient_id], force=force, today=today)
        except Exception as exc:
            results[patient_id] = exc
    return results


def _recompute_loaded(loaded: LoadedPatient, *, force: bool, today: date | None) -> Status:
    patient_id = loaded.patient_id
    if not force and not loaded.stale:
        return "fresh"
    try:
        outcome = evaluate(loaded, today=today)
    except Exception as exc:
        # Kept for the patient page; the patient stays stale.
        PatientState.objects.filter(patient_id=patient_id).update(
            last_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    return store_outcome(loaded, outcome)


def evaluate(loaded: LoadedPatient, *, today: date | None = None) -> PatientOutcome:
    """The engine on one patient's facts, with the configured rules (CLINICAL.md §5, §2c)."""
    return evaluate_patient(
        loaded.facts,
        toxicity_window_days=settings.LUTETIA_TOXICITY_WINDOW_DAYS,
        confirmation_days=settings.RESPONSE_CONFIRMATION_DAYS,
        today=today or timezone.localdate(),
        intended_fraction=settings.LUTETIA_INTENDED_ACTIVITY_FRACTION,
    )


def store_outcome(loaded: LoadedPatient, outcome: PatientOutcome) -> Status:
    """Write the derived rows in one transaction, unless a newer write superseded them."""
    patient_id = loaded.patient_id
    expected = loaded.stale_generation
    if expected is None:
        PatientState.objects.bulk_create(
            [PatientState(patient_id=patient_id, stale=True, stale_since=timezone.now())],
            ignore_conflicts=True,
        )
        expected = 0
    course_rows = [course_row(patient_id, c) for c in outcome.courses]
    point_rows = [p for c in outcome.courses for p in time_point_rows(c)]
    with transaction.atomic():
        _limit_lock_wait()
        # Writers cannot delete these (cascading into derived rows) under us.
        list(_locked(Course.objects.filter(patient_id=patient_id)))
        list(_locked(Scan.objects.filter(patient_id=patient_id)))
        state = PatientState.objects.select_for_update().filter(patient_id=patient_id).first()
        if state is None:
            return "missing"  # the patient was deleted meanwhile
        if state.stale_generation != expected:
            return "superseded"
        _replace_derived_rows(patient_id, course_rows, point_rows)
        state.stale = False
        state.stale_since = None
        state.computed_at = timezone.now()
        state.cumulative_activity_gbq = outcome.cumulative_activity_gbq
        state.quality_findings = [
            {"code": f.code, "message": f.message, "course": f.course_key, "scan": f.scan_key}
            for f in outcome.findings
        ]
        state.last_error = ""
        state.save()
    return "done"


def _locked(queryset):
    return queryset.select_for_update(no_key=True).order_by("id").values_list("id", flat=True)


def _limit_lock_wait() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")


COURSE_FIELDS = [
    f.name
    for f in CourseOutcome._meta.concrete_fields
    if not f.primary_key and f.name not in ("course", "patient")
] + ["patient"]
POINT_FIELDS = ["response", "reason", "total_mm", "pct_vs_baseline", "pct_vs_nadir"]
POINT_FIELDS += ["days_from_start"]


def _replace_derived_rows(
    patient_id: int, course_rows: list[CourseOutcome], point_rows: list[TimePointResponse]
) -> None:
    """Upsert on the natural keys, then drop rows no longer derived.

    Upserting keeps the rows' ids, so a second run with the same facts
    changes nothing at all.
    """
    CourseOutcome.objects.bulk_create(
        course_rows, update_conflicts=True, unique_fields=["course"], update_fields=COURSE_FIELDS
    )
    CourseOutcome.objects.filter(patient_id=patient_id).exclude(
        course_id__in=[row.course_id for row in course_rows]
    ).delete()
    saved = TimePointResponse.objects.bulk_create(
        point_rows,
        update_conflicts=True,
        unique_fields=["course", "scan", "criteria"],
        update_fields=POINT_FIELDS,
    )
    TimePointResponse.objects.filter(course__patient_id=patient_id).exclude(
        pk__in=[row.pk for row in saved]
    ).delete()


def course_row(patient_id: int, c: EngineCourseOutcome) -> CourseOutcome:
    """One course's derived row from the engine's result (CLINICAL.md §1–§5)."""
    swog, recist = c.best_response["swog"], c.best_response["recist"]
    ttp, pfs = c.ttp_by_criteria, c.pfs_by_criteria
    grades = c.worst_grades
    return CourseOutcome(
        course_id=c.course_key,
        patient_id=patient_id,
        phase=c.phase,
        round=c.round,
        start=c.start,
        last_cycle=c.last_cycle,
        window_end=c.window_end,
        cycles=c.n_cycles,
        activity_gbq=c.activity_gbq,
        intended_activity_reached=c.intended_reached,
        cumulative_activity_before_gbq=round(c.cumulative_activity_gbq - c.activity_gbq, 6),
        best_swog=swog.response,
        best_swog_computed=swog.computed,
        best_swog_reason=swog.reason,
        best_swog_pct_change=swog.best_pct_change,
        best_recist=recist.response,
        best_recist_computed=recist.computed,
        best_recist_reason=recist.reason,
        best_recist_pct_change=recist.best_pct_change,
        overridden=swog.overridden or recist.overridden,
        grade_hematologic=grades.get("hematologic"),
        grade_hemoglobin=grades.get("hemoglobin"),
        grade_platelets=grades.get("platelets"),
        grade_wbc=grades.get("wbc"),
        grade_neutrophils=grades.get("neutrophils"),
        grade_lymphocytes=grades.get("lymphocytes"),
        grade_creatinine=grades.get("creatinine"),
        grade_alt=grades.get("alt"),
        grade_ast=grades.get("ast"),
        grade_bilirubin=grades.get("bilirubin"),
        progression_date_swog=c.progression_date.get("swog"),
        progression_date_recist=c.progression_date.get("recist"),
        ttp_swog_months=ttp["swog"].months,
        ttp_swog_event=ttp["swog"].event,
        ttp_recist_months=ttp["recist"].months,
        ttp_recist_event=ttp["recist"].event,
        pfs_swog_months=pfs["swog"].months,
        pfs_swog_event=pfs["swog"].event,
        pfs_recist_months=pfs["recist"].months,
        pfs_recist_event=pfs["recist"].event,
        os_months=c.os.months,
        os_event=c.os.event,
        follow_up_months=c.follow_up_months,
    )


def time_point_rows(c: EngineCourseOutcome) -> Iterator[TimePointResponse]:
    """One row per follow-up scan per criteria of a course (CLINICAL.md §2)."""
    for tp in c.time_points:
        yield TimePointResponse(
            course_id=c.course_key,
            scan_id=tp.scan_key,
            criteria=tp.criteria,
            response=tp.response,
            reason=tp.reason,
            total_mm=tp.sum,
            pct_vs_baseline=tp.pct_vs_baseline,
            pct_vs_nadir=tp.pct_vs_nadir,
            days_from_start=tp.day,
        )


def chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
