"""Plain-data inputs of the clinical engine.

`registry/derive/loading.py` loads a patient's rows from the database into
these dataclasses; every function in `registry.clinical` takes them (or plain
values) and nothing from Django.  Field names follow the interchange format
of CONTRACT.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, slots=True)
class CycleFact:
    date: date
    activity_gbq: float


@dataclass(frozen=True, slots=True)
class CourseFact:
    key: int  # database id (or any stable key) so results can be matched back
    phase: str  # "regular" | "salvage"
    cycles: tuple[CycleFact, ...]
    intended_activity_gbq: float | None = None
    stop_reason: str | None = None
    # A clinician's override of the computed best response, per criteria
    # ("swog" / "recist") -> response code.  Reports use it, marked overridden.
    best_response_override: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LabFact:
    date: date
    analyte: str
    value: float  # as entered
    unit: str  # as entered (any accepted spelling)
    canonical_value: float  # in the analyte's canonical unit (CLINICAL.md §6)
    lln: float | None = None  # in the unit as entered
    uln: float | None = None


@dataclass(frozen=True, slots=True)
class LesionFact:
    lesion: str
    organ: str | None = None
    lymph_node: bool = False
    target: bool = True
    new: bool = False
    long_mm: float | None = None
    short_mm: float | None = None
    status: str | None = None  # non-target: "present" | "absent" | "progression"


@dataclass(frozen=True, slots=True)
class ScanFact:
    key: int
    date: date
    modality: str
    lesions: tuple[LesionFact, ...]


@dataclass(frozen=True, slots=True)
class PatientFacts:
    study_id: str
    sex: str | None  # "F" | "M" | "U" | None
    birth_date: date | None
    diagnosis_date: date | None
    last_follow_up: date | None
    death_date: date | None
    weight_kg: float | None
    courses: tuple[CourseFact, ...]
    labs: tuple[LabFact, ...]
    scans: tuple[ScanFact, ...]
    clinical_progressions: tuple[date, ...]
    adverse_events: tuple[tuple[str, int, date], ...] = ()  # (term, grade, onset)
