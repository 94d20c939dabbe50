"""Write paths behind the clinician's forms, and the pre-cycle and kidney checks they show.

Every write goes through `facts.save_fact(by=…)`, so a form is held to exactly
the rules the API is held to; a multi-row form (a blood-count panel, a scan
with its lesions) saves in one transaction: all of it or nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from registry.clinical import eligibility, kidney
from registry.derive.loading import load_patient
from registry.models import (
    Course,
    Cycle,
    LabResult,
    LesionMeasurement,
    Patient,
    PatientIdentity,
    ResponseOverride,
    Scan,
    StaffProfile,
)
from registry.records.facts import save_fact

# ------------------------------------------------------------------ patient


@transaction.atomic
def save_patient(
    patient: Patient,
    identity: PatientIdentity,
    *,
    by,
    expected_version: int | None = None,
) -> Patient:
    """A patient and its identity row, saved together."""
    save_fact(patient, by=by, expected_version=expected_version)
    identity.patient = patient
    save_fact(identity, by=by)
    return patient


# ------------------------------------------------------------------ blood-count panel


@dataclass(frozen=True)
class PanelValue:
    analyte: str
    value: float
    unit: str


class PanelError(Exception):
    """Some values of a panel were refused; `errors` maps analyte -> {field: [messages]}."""

    def __init__(self, errors: dict[str, dict[str, list[str]]]):
        super().__init__("The blood-count panel has errors.")
        self.errors = errors


@transaction.atomic
def record_blood_panel(
    patient: Patient,
    *,
    drawn_on: date,
    values: list[PanelValue],
    by,
    not_remembered: Iterable[str] = (),
) -> list[LabResult]:
    """Every analyte of one blood draw, in one transaction, and remember the user's units.

    All values are validated before anything is written, so the clinician sees
    every error of the panel at once. A unit is never learnt from a value that
    needed a plausibility confirmation (`not_remembered`, CLINICAL.md §6).
    """
    labs = [
        LabResult(patient=patient, date=drawn_on, analyte=v.analyte, value=v.value, unit=v.unit)
        for v in values
    ]
    errors: dict[str, dict[str, list[str]]] = {}
    for lab in labs:
        try:
            lab.full_clean()
        except ValidationError as exc:
            errors[lab.analyte] = exc.message_dict
    if errors:
        raise PanelError(errors)
    for lab in labs:
        save_fact(lab, by=by)
    skip = set(not_remembered)
    remember_units(by, {v.analyte: v.unit for v in values if v.analyte not in skip})
    return labs


def remember_units(user, chosen: dict[str, str]) -> None:
    profile = StaffProfile.objects.filter(user=user).first() if user is not None else None
    if profile is None or not chosen:
        return
    merged = {**(profile.preferred_units or {}), **chosen}
    if merged != profile.preferred_units:
        profile.preferred_units = merged
        profile.save(update_fields=["preferred_units"])


# ------------------------------------------------------------------ scan with lesions


class ScanError(Exception):
    """Refused lesions: `errors` maps the lesion's row index -> {field: [messages]}."""

    def __init__(self, scan_errors: dict[str, list[str]], lesion_errors: dict[int, dict]):
        super().__init__("The scan has errors.")
        self.scan_errors = scan_errors
        self.lesion_errors = lesion_errors


@transaction.atomic
def record_scan(
    patient: Patient,
    *,
    scanned_on: date,
    modality: str,
    lesions: list[dict],
    by,
    custom: dict | None = None,
) -> Scan:
    """A scan and its lesion table in one transaction (lesion dicts carry model field names)."""
    scan = Scan(patient=patient, date=scanned_on, modality=modality, custom=custom or {})
    scan_errors: dict[str, list[str]] = {}
    try:
        scan.full_clean()
    except ValidationError as exc:
        scan_errors = exc.message_dict
    rows = [LesionMeasurement(scan=scan, **row) for row in lesions]
    lesion_errors: dict[int, dict] = {}
    for i, row in enumerate(rows):
        try:
            row.full_clean(exclude=["scan"])
        except ValidationError as exc:
            lesion_errors[i] = exc.message_dict
    if scan_errors or lesion_errors:
        raise ScanError(scan_errors, lesion_errors)
    save_fact(scan, by=by)
    for row in rows:
        row.scan = scan
        save_fact(row, by=by)
    return scan


# ------------------------------------------------------------------ response override


def set_response_override(
    course: Course, *, criteria: str, response: str, reason: str, by
) -> ResponseOverride:
    """Create or replace the override of a course's best response under `criteria`."""
    override = ResponseOverride.objects.filter(course=course, criteria=criteria).first()
    if override is None:
        override = ResponseOverride(course=course, criteria=criteria)
    override.response = response
    override.reason = reason
    override.decided_by = by if by is not None and by.is_authenticated else None
    return save_fact(override, by=by)


# ------------------------------------------------------------------ cycle and eligibility


def thresholds() -> eligibility.EligibilityThresholds:
    """§7 thresholds from settings.LUTETIA_ELIGIBILITY (read at call time, never at import)."""
    conf = settings.LUTETIA_ELIGIBILITY
    defaults = eligibility.EligibilityThresholds()
    return eligibility.EligibilityThresholds(
        lab_lookback_days=conf.get("lab_lookback_days", defaults.lab_lookback_days),
        hemoglobin_min_mmol_l=conf.get("hemoglobin_min_mmol_l", defaults.hemoglobin_min_mmol_l),
        # The g/dL limit follows the mmol/L setting (6.0 mmol/L = 9.7 g/dL).
        hemoglobin_min_g_dl=round(
            conf.get("hemoglobin_min_mmol_l", defaults.hemoglobin_min_mmol_l) * 1.611, 1
        ),
        wbc_min=conf.get("wbc_min", defaults.wbc_min),
        platelets_min=conf.get("platelets_min", defaults.platelets_min),
        creatinine_max_umol_l=conf.get("creatinine_max_umol_l", defaults.creatinine_max_umol_l),
        clearance_min_ml_min=conf.get("clearance_min_ml_min", defaults.clearance_min_ml_min),
        min_days_between_cycles=conf.get(
            "min_days_between_cycles", defaults.min_days_between_cycles
        ),
        max_lifetime_activity_gbq=conf.get("max_lifetime_gbq", defaults.max_lifetime_activity_gbq),
    )


@dataclass(frozen=True)
class CycleCheck:
    cycle_date: date
    activity_gbq: float
    warnings: list[eligibility.EligibilityWarning]
    lifetime_after_gbq: float


def check_cycle(
    patient: Patient,
    *,
    cycle_date: date,
    activity_gbq: float,
    excluding: Cycle | None = None,
) -> CycleCheck:
    """The §7 warnings for a cycle on `cycle_date`, and the lifetime activity after it.

    Reads the facts the way the recompute does (`loading.load_patient`). Only
    cycles dated before `cycle_date` count as given, as in the eligibility rules.
    `excluding` is a recorded cycle being corrected: its stored version must not
    count as a previous cycle of its own new date.
    """
    loaded = load_patient(patient.pk)
    assert loaded is not None  # the caller fetched the patient a moment ago
    facts = loaded.facts
    if excluding is not None and excluding.pk is not None:
        facts = _without_cycle(facts, excluding.pk)
    warnings = eligibility.check_before_cycle(facts, cycle_date, activity_gbq, thresholds())
    before = sum(
        c.activity_gbq for course in facts.courses for c in course.cycles if c.date < cycle_date
    )
    return CycleCheck(cycle_date, activity_gbq, warnings, round(before + activity_gbq, 6))


def _without_cycle(facts, cycle_id: int):
    """The facts without the stored row of cycle `cycle_id` (engine facts carry no cycle ids)."""
    stored = Cycle.objects.filter(pk=cycle_id).values("course_id", "date").first()
    if stored is None:
        return facts
    courses = tuple(
        replace(c, cycles=tuple(cy for cy in c.cycles if cy.date != stored["date"]))
        if c.key == stored["course_id"]
        else c
        for c in facts.courses
    )
    return replace(facts, courses=courses)


class WarningReasonRequired(ValidationError):
    pass


def _checked_fields_changed(cycle: Cycle) -> bool:
    """A new cycle, or one whose course, date or activity is being corrected."""
    if cycle.pk is None:
        return True
    stored = (
        Cycle.objects.filter(pk=cycle.pk).values("course_id", "date", "administered_gbq").first()
    )
    return stored is None or stored != {
        "course_id": cycle.course_id,
        "date": cycle.date,
        "administered_gbq": cycle.administered_gbq,
    }


@transaction.atomic
def record_cycle(
    cycle: Cycle, *, by, expected_version: int | None = None, reason: str = ""
) -> Cycle:
    """Save a cycle; warnings never block, but recording despite one needs a reason (§7).

    Correcting only the note of a recorded cycle does not re-run the §7 checks
    (an imported historical cycle may predate them); changing what they
    depend on (course, date, activity) does.
    """
    if _checked_fields_changed(cycle):
        check = check_cycle(
            cycle.course.patient,
            cycle_date=cycle.date,
            activity_gbq=cycle.administered_gbq,
            excluding=cycle,
        )
        if check.warnings and not cycle.warning_reason.strip():
            raise WarningReasonRequired(
                {"warning_reason": ["Give a reason for giving this cycle despite the warnings."]}
            )
    return save_fact(cycle, by=by, expected_version=expected_version, reason=reason)


# ------------------------------------------------------------------ kidney function


@dataclass(frozen=True)
class KidneyFunction:
    creatinine_umol_l: float
    measured_on: date
    age: float | None
    egfr: float | None  # CKD-EPI 2021, mL/min/1.73m²
    clearance: float | None  # Cockcroft–Gault, mL/min
    missing: list[str]  # what prevents a value


def kidney_function(
    labs: list[LabResult], *, sex: str, birth_date: date | None, weight_kg: float | None
) -> KidneyFunction | None:
    """eGFR and clearance from the latest creatinine (CLINICAL.md §6); None without one."""
    creatinines = [lab for lab in labs if lab.analyte == "creatinine" and lab.canonical_value > 0]
    if not creatinines:
        return None
    latest = max(creatinines, key=lambda lab: (lab.date, lab.pk or 0))
    missing = []
    age = kidney.age_years(birth_date, latest.date) if birth_date else None
    if age is None:
        missing.append("birth date")
    if weight_kg is None:
        missing.append("weight")
    egfr = None
    if age is not None:
        egfr = kidney.ckd_epi_2021(latest.canonical_value, age, sex or None)
    clearance = (
        kidney.cockcroft_gault(latest.canonical_value, age, weight_kg, sex or None)
        if age is not None and weight_kg is not None
        else None
    )
    return KidneyFunction(latest.canonical_value, latest.date, age, egfr, clearance, missing)
