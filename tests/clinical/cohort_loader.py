"""Build `PatientFacts` from a `lutetia-cohort/1` document, for tests only."""

from __future__ import annotations

from datetime import date
from typing import Any

from registry.clinical import units
from registry.clinical.facts import (
    CourseFact,
    CycleFact,
    LabFact,
    LesionFact,
    PatientFacts,
    ScanFact,
)


def _date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def patient_facts(patient: dict[str, Any]) -> PatientFacts:
    courses = tuple(
        CourseFact(
            key=i,
            phase=c["phase"],
            cycles=tuple(
                CycleFact(date.fromisoformat(y["date"]), y["activity_gbq"]) for y in c["cycles"]
            ),
            intended_activity_gbq=c.get("intended_activity_gbq"),
            stop_reason=c.get("stop_reason"),
        )
        for i, c in enumerate(patient.get("courses", []), start=1)
    )
    labs = tuple(
        LabFact(
            date=date.fromisoformat(lab["date"]),
            analyte=lab["analyte"],
            value=lab["value"],
            unit=lab["unit"],
            canonical_value=units.to_canonical(lab["analyte"], lab["value"], lab["unit"]),
            lln=lab.get("lln"),
            uln=lab.get("uln"),
        )
        for lab in patient.get("labs", [])
    )
    scans = tuple(
        ScanFact(
            key=i,
            date=date.fromisoformat(s["date"]),
            modality=s["modality"],
            lesions=tuple(
                LesionFact(
                    lesion=x["lesion"],
                    organ=x.get("organ"),
                    lymph_node=x.get("lymph_node", False),
                    target=x.get("target", True),
                    new=x.get("new", False),
                    long_mm=x.get("long_mm"),
                    short_mm=x.get("short_mm"),
                    status=x.get("status"),
                )
                for x in s["lesions"]
            ),
        )
        for i, s in enumerate(patient.get("scans", []), start=1)
    )
    return PatientFacts(
        study_id=patient["study_id"],
        sex=patient.get("sex"),
        birth_date=_date(patient.get("birth_date")),
        diagnosis_date=_date(patient.get("diagnosis_date")),
        last_follow_up=_date(patient.get("last_follow_up")),
        death_date=_date(patient.get("death_date")),
        weight_kg=patient.get("weight_kg"),
        courses=courses,
        labs=labs,
        scans=scans,
        clinical_progressions=tuple(
            date.fromisoformat(p["date"]) for p in patient.get("clinical_progressions", [])
        ),
        adverse_events=tuple(
            (a["term"], a["grade"], date.fromisoformat(a["onset"]))
            for a in patient.get("adverse_events", [])
        ),
    )
