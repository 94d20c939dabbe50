"""What the scan pages read: each course's baseline scan and the lesions a new scan measures.

CLINICAL.md §2: the baseline scan of a course is the latest scan on or
before its start, at most 120 days before (`select_baseline_scan`, the
engine's own rule), and a baseline target left off a follow-up scan is not
evaluated — so the scan form lists every baseline lesion, not the previous
scan's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Min

from registry.clinical.facts import ScanFact
from registry.clinical.response import select_baseline_scan
from registry.models import Cycle, LesionMeasurement, Patient, Scan, TimePointResponse


@dataclass
class ScanView:
    scan: Scan
    lesions: list[LesionMeasurement]
    time_points: list[TimePointResponse]
    baseline_of: list[str] = field(default_factory=list)  # "salvage course 1", …


def _course_name(cv) -> str:
    outcome = cv.outcome
    number = f" {outcome.round}" if outcome else ""
    return f"{cv.course.get_phase_display().lower()} course{number}"


def _baselines(scans: list[Scan], starts: list[tuple[date, str]]) -> dict[int, list[str]]:
    """scan id -> the courses it is the baseline of (CLINICAL.md §2)."""
    facts = [ScanFact(s.pk, s.date, s.modality, ()) for s in scans]
    found: dict[int, list[str]] = {}
    for start, name in starts:
        baseline = select_baseline_scan(facts, start)
        if baseline is not None:
            found.setdefault(baseline.key, []).append(name)
    return found


def scan_views(scans: list[Scan], courses: list) -> list[ScanView]:
    starts = [(cv.start, _course_name(cv)) for cv in courses if cv.start]
    baselines = _baselines(scans, starts)
    return [
        ScanView(s, list(s.lesions.all()), list(s.time_points.all()), baselines.get(s.pk, []))
        for s in scans
    ]


def _latest_course_start(patient: Patient) -> date | None:
    latest = (
        Cycle.objects.filter(course__patient=patient)
        .values("course_id")
        .annotate(start=Min("date"))
        .order_by("-start")
        .first()
    )
    return latest["start"] if latest else None


def patient_scans(patient: Patient) -> list[Scan]:
    """The patient's scans with their lesions (one query each), for the two below."""
    return list(Scan.objects.filter(patient=patient).prefetch_related("lesions"))


def current_baseline_scan(patient: Patient, scans: list[Scan]) -> Scan | None:
    """The baseline scan of the patient's latest course (CLINICAL.md §2), or None."""
    start = _latest_course_start(patient)
    if start is None:
        return None
    found = select_baseline_scan([ScanFact(s.pk, s.date, s.modality, ()) for s in scans], start)
    return next((s for s in scans if found and s.pk == found.key), None)


def scan_prefill(scans: list[Scan], baseline: Scan | None) -> list[dict]:
    """The lesions a new scan should measure: every lesion of the current course's
    baseline scan, plus any new lesion seen since (CLINICAL.md §2: a baseline target
    left off a follow-up is not evaluated, so none may silently drop out).

    Without a course with a baseline, the previous scan's lesions, as before.
    """
    if baseline is None:
        previous = max(scans, key=lambda s: (s.date, s.pk), default=None)
        return lesion_rows(previous.lesions.all()) if previous else []
    rows = lesion_rows(baseline.lesions.all())
    listed = {row["lesion"] for row in rows}
    later = sorted((s for s in scans if s.date > baseline.date), key=lambda s: (s.date, s.pk))
    for scan in later:  # the prefetched lesions: no query per scan
        for lesion in scan.lesions.all():
            if lesion.new and lesion.lesion not in listed:
                rows.append({**lesion_rows([lesion])[0], "target": False})
                listed.add(lesion.lesion)
    return rows


def lesion_rows(lesions) -> list[dict]:
    """Lesions as rows of the scan form, without their sizes, to measure again."""
    return [
        {
            "lesion": lesion.lesion,
            "organ": lesion.organ,
            "lymph_node": lesion.lymph_node,
            "target": lesion.target,
            "new": False,
        }
        for lesion in lesions
    ]
