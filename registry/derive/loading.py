"""Loading one patient's facts into the clinical engine's plain dataclasses.

The number of queries is fixed whatever the number of courses, cycles, labs,
scans and lesions (tests/test_recompute.py asserts it): one for the patient
with its identity and state, one per prefetched relation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Prefetch

from registry.clinical.facts import (
    CourseFact,
    CycleFact,
    LabFact,
    LesionFact,
    PatientFacts,
    ScanFact,
)
from registry.models import (
    AdverseEvent,
    ClinicalProgression,
    Course,
    Cycle,
    LabResult,
    LesionMeasurement,
    Patient,
    PatientIdentity,
    PatientState,
    ResponseOverride,
    Scan,
)


@dataclass(frozen=True, slots=True)
class LoadedPatient:
    """A patient's facts, and what its state row said before they were read."""

    patient_id: int
    facts: PatientFacts
    stale: bool
    # None when the patient has no state row yet (created outside the services).
    stale_generation: int | None


def patient_queryset():
    """Patients with every relation the engine reads, prefetched in date order."""
    return Patient.objects.select_related("identity", "state").prefetch_related(
        Prefetch(
            "courses",
            queryset=Course.objects.order_by("id").prefetch_related(
                Prefetch("cycles", queryset=Cycle.objects.order_by("date", "id")),
                Prefetch("overrides", queryset=ResponseOverride.objects.order_by("id")),
            ),
        ),
        Prefetch("labs", queryset=LabResult.objects.order_by("date", "id")),
        Prefetch(
            "scans",
            queryset=Scan.objects.order_by("date", "id").prefetch_related(
                Prefetch("lesions", queryset=LesionMeasurement.objects.order_by("lesion", "id"))
            ),
        ),
        Prefetch(
            "clinical_progressions", queryset=ClinicalProgression.objects.order_by("date", "id")
        ),
        Prefetch("adverse_events", queryset=AdverseEvent.objects.order_by("onset", "id")),
    )


def load_patient(patient_id: int) -> LoadedPatient | None:
    """The patient's facts and state, or None if the patient no longer exists.

    The state is read in the first query, before any fact: a write committed
    after that read moves the generation, so the recompute cannot mistake
    older facts for current ones.
    """
    return load_patients([patient_id]).get(patient_id)


def load_patients(patient_ids: Iterable[int]) -> dict[int, LoadedPatient]:
    """Several patients in the same fixed number of queries (a batch task's ~200)."""
    patients = patient_queryset().filter(pk__in=list(patient_ids))
    return {patient.pk: _loaded(patient) for patient in patients}


def _loaded(patient: Patient) -> LoadedPatient:
    try:
        state: PatientState | None = patient.state
    except PatientState.DoesNotExist:
        state = None
    return LoadedPatient(
        patient_id=patient.pk,
        facts=patient_facts(patient),
        stale=True if state is None else state.stale,
        stale_generation=None if state is None else state.stale_generation,
    )


def patient_facts(patient: Patient) -> PatientFacts:
    """A prefetched patient (see `patient_queryset`) as the engine's `PatientFacts`."""
    try:
        birth_date = patient.identity.birth_date
    except PatientIdentity.DoesNotExist:
        birth_date = None
    return PatientFacts(
        study_id=patient.study_id,
        sex=patient.sex or None,
        birth_date=birth_date,
        diagnosis_date=patient.diagnosis_date,
        last_follow_up=patient.last_follow_up,
        death_date=patient.death_date,
        weight_kg=patient.weight_kg,
        courses=tuple(course_fact(course) for course in patient.courses.all()),
        labs=tuple(lab_fact(lab) for lab in patient.labs.all()),
        scans=tuple(scan_fact(scan) for scan in patient.scans.all()),
        clinical_progressions=tuple(p.date for p in patient.clinical_progressions.all()),
        adverse_events=tuple((e.term, e.grade, e.onset) for e in patient.adverse_events.all()),
    )


def course_fact(course: Course) -> CourseFact:
    return CourseFact(
        key=course.pk,
        phase=course.phase,
        cycles=tuple(
            CycleFact(date=cycle.date, activity_gbq=cycle.administered_gbq)
            for cycle in course.cycles.all()
        ),
        intended_activity_gbq=course.intended_activity_gbq,
        stop_reason=course.stop_reason or None,
        best_response_override={o.criteria: o.response for o in course.overrides.all()},
    )


def lab_fact(lab: LabResult) -> LabFact:
    return LabFact(
        date=lab.date,
        analyte=lab.analyte,
        value=lab.value,
        unit=lab.unit,
        canonical_value=lab.canonical_value,
        lln=lab.lln,
        uln=lab.uln,
    )


def scan_fact(scan: Scan) -> ScanFact:
    return ScanFact(
        key=scan.pk,
        date=scan.date,
        modality=scan.modality,
        lesions=tuple(
            LesionFact(
                lesion=lesion.lesion,
                organ=lesion.organ or None,
                lymph_node=lesion.lymph_node,
                target=lesion.target,
                new=lesion.new,
                long_mm=lesion.long_mm,
                short_mm=lesion.short_mm,
                status=lesion.status or None,
            )
            for lesion in scan.lesions.all()
        ),
    )
