"""Loading patients' facts into the clinical engine's plain dataclasses.

The number of queries is fixed whatever the number of patients, courses,
cycles, labs, scans and lesions (tests/test_recompute.py asserts it): one for
the patients with their identity and state, one per kind of fact.

Why tuples and not model instances: a bulk recompute reads every lab of the
registry (≈ 160 per patient), and building a model instance per row was more
than half of its time (issue 17). The engine needs only a few columns of each,
so each query asks for those columns alone and the rows go straight into the
engine's dataclasses, grouped by patient.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

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


def load_patient(patient_id: int) -> LoadedPatient | None:
    """The patient's facts and state, or None if the patient no longer exists."""
    return load_patients([patient_id]).get(patient_id)


def load_patients(patient_ids: Iterable[int]) -> dict[int, LoadedPatient]:
    """Several patients' facts and states in the same fixed number of queries.

    The state is read in the first query, before any fact: a write committed
    after that read moves the generation, so the recompute cannot mistake
    older facts for current ones.
    """
    ids = list(patient_ids)
    patients = list(
        Patient.objects.filter(pk__in=ids).values_list(
            "pk",
            "study_id",
            "sex",
            "identity__birth_date",
            "diagnosis_date",
            "last_follow_up",
            "death_date",
            "weight_kg",
            "state__pk",
            "state__stale",
            "state__stale_generation",
        )
    )
    if not patients:
        return {}
    ids = [row[0] for row in patients]
    courses = _courses(ids)
    labs = _grouped(
        LabResult.objects.filter(patient_id__in=ids).order_by("date", "id"),
        "patient_id",
        ("date", "analyte", "value", "unit", "canonical_value", "lln", "uln"),
        LabFact,
    )
    scans = _scans(ids)
    progressions = _grouped(
        ClinicalProgression.objects.filter(patient_id__in=ids).order_by("date", "id"),
        "patient_id",
        ("date",),
        lambda when: when,
    )
    events = _grouped(
        AdverseEvent.objects.filter(patient_id__in=ids).order_by("onset", "id"),
        "patient_id",
        ("term", "grade", "onset"),
        lambda *event: event,
    )
    loaded = {}
    for (
        pk,
        study_id,
        sex,
        birth,
        diagnosis,
        follow_up,
        death,
        weight,
        state,
        stale,
        gen,
    ) in patients:
        facts = PatientFacts(
            study_id=study_id,
            sex=sex or None,
            birth_date=birth,
            diagnosis_date=diagnosis,
            last_follow_up=follow_up,
            death_date=death,
            weight_kg=weight,
            courses=tuple(courses.get(pk, ())),
            labs=tuple(labs.get(pk, ())),
            scans=tuple(scans.get(pk, ())),
            clinical_progressions=tuple(progressions.get(pk, ())),
            adverse_events=tuple(events.get(pk, ())),
        )
        loaded[pk] = LoadedPatient(
            patient_id=pk,
            facts=facts,
            stale=True if state is None else stale,
            stale_generation=None if state is None else gen,
        )
    return loaded


def _grouped(queryset, key: str, columns: tuple[str, ...], make) -> dict[int, list]:
    """`make(*columns)` of every row, in the queryset's order, grouped by `key`."""
    grouped: dict[int, list] = defaultdict(list)
    for owner, *values in queryset.values_list(key, *columns):
        grouped[owner].append(make(*values))
    return grouped


def _courses(ids: list[int]) -> dict[int, list[CourseFact]]:
    cycles = _grouped(
        Cycle.objects.filter(course__patient_id__in=ids).order_by("date", "id"),
        "course_id",
        ("date", "administered_gbq"),
        lambda when, gbq: CycleFact(date=when, activity_gbq=gbq),
    )
    overrides = _grouped(
        ResponseOverride.objects.filter(course__patient_id__in=ids).order_by("id"),
        "course_id",
        ("criteria", "response"),
        lambda criteria, response: (criteria, response),
    )
    courses: dict[int, list[CourseFact]] = defaultdict(list)
    rows = Course.objects.filter(patient_id__in=ids).order_by("id")
    for pk, patient, phase, intended, stop in rows.values_list(
        "pk", "patient_id", "phase", "intended_activity_gbq", "stop_reason"
    ):
        courses[patient].append(
            CourseFact(
                key=pk,
                phase=phase,
                cycles=tuple(cycles.get(pk, ())),
                intended_activity_gbq=intended,
                stop_reason=stop or None,
                best_response_override=dict(overrides.get(pk, ())),
            )
        )
    return courses


def _scans(ids: list[int]) -> dict[int, list[ScanFact]]:
    lesions = _grouped(
        LesionMeasurement.objects.filter(scan__patient_id__in=ids).order_by("lesion", "id"),
        "scan_id",
        ("lesion", "organ", "lymph_node", "target", "new", "long_mm", "short_mm", "status"),
        _lesion,
    )
    scans: dict[int, list[ScanFact]] = defaultdict(list)
    rows = Scan.objects.filter(patient_id__in=ids).order_by("date", "id")
    for pk, patient, when, modality in rows.values_list("pk", "patient_id", "date", "modality"):
        scans[patient].append(
            ScanFact(key=pk, date=when, modality=modality, lesions=tuple(lesions.get(pk, ())))
        )
    return scans


def _lesion(lesion, organ, lymph_node, target, new, long_mm, short_mm, status) -> LesionFact:
    return LesionFact(
        lesion=lesion,
        organ=organ or None,
        lymph_node=lymph_node,
        target=target,
        new=new,
        long_mm=long_mm,
        short_mm=short_mm,
        status=status or None,
    )
