"""One patient's derived results, and the names of the derived columns.

`patient_outcomes` answers `GET /api/v1/patients/{id}/outcomes/`
(CONTRACT.md): read from the derived rows, never recomputed per request.
`endpoint_columns`, `TOXICITY_KEYS` and `stored_grades` name the columns of
`CourseOutcome` that reports and exports read, so every reader spells them
the same way.
"""

from __future__ import annotations

from typing import Any

from registry.models import CourseOutcome, Criteria, Patient, PatientState

ENDPOINTS: tuple[str, ...] = ("ttp", "pfs", "os")
# The toxicity table of the report and the outcomes endpoint (CONTRACT.md).
TOXICITY_KEYS: tuple[str, ...] = (
    "hematologic",
    "hemoglobin",
    "platelets",
    "wbc",
    "neutrophils",
    "lymphocytes",
    "creatinine",
)
GRADE_KEYS: tuple[str, ...] = ("0", "1", "2", "3", "4")


def endpoint_columns(endpoint: str, criteria: str) -> tuple[str, str]:
    """The outcome columns (months, event) of an endpoint under a progression criteria (§3)."""
    if endpoint == "os":
        return "os_months", "os_event"
    return f"{endpoint}_{criteria}_months", f"{endpoint}_{criteria}_event"


def stored_grades(row: CourseOutcome) -> dict[str, int | None]:
    """The worst grade per toxicity key, as the recompute stored it."""
    return {key: getattr(row, f"grade_{key}") for key in TOXICITY_KEYS}


def patient_outcomes(patient: Patient, *, criteria: str = Criteria.SWOG) -> dict[str, Any]:
    """What the registry computed for one patient (CONTRACT.md, `…/outcomes/`).

    Read from the derived rows; `stale` is true while a recomputation is
    pending (or before the first one). `ttp` and `pfs` follow `criteria`.
    """
    state = PatientState.objects.filter(patient=patient).first()
    rows = CourseOutcome.objects.filter(patient=patient).order_by("start", "id")
    courses = []
    for row in rows:
        ttp_months, ttp_event = endpoint_columns("ttp", criteria)
        pfs_months, pfs_event = endpoint_columns("pfs", criteria)
        courses.append(
            {
                "course": row.course_id,
                "phase": row.phase,
                "round": row.round,
                "start": row.start.isoformat(),
                "cycles": row.cycles,
                "activity_gbq": row.activity_gbq,
                "intended_activity_reached": row.intended_activity_reached,
                "best_response": {"swog": row.best_swog, "recist": row.best_recist},
                "overridden": row.overridden,
                "worst_grade": stored_grades(row),
                "ttp": _endpoint(getattr(row, ttp_months), getattr(row, ttp_event)),
                "pfs": _endpoint(getattr(row, pfs_months), getattr(row, pfs_event)),
                "os": _endpoint(row.os_months, row.os_event),
            }
        )
    lifetime = state.cumulative_activity_gbq if state else sum(c["activity_gbq"] for c in courses)
    return {
        "study_id": patient.study_id,
        "cumulative_activity_gbq": lifetime,
        "stale": state is None or state.stale,
        "courses": courses,
    }


def _endpoint(months: float | None, event: bool) -> dict[str, Any]:
    return {"months": None if months is None else float(months), "event": bool(event)}
