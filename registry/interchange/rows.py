"""Layer 2 of checking a document: its patients as unsaved rows, checked by the models.

`build_patient` turns one patient of a document into `Row`s (or, for trusted
generated data, rows with their canonical lab values) and, with `Checks`,
runs each model's own `clean_fields` and `clean` — the same rules every form,
API call and service applies — collecting every error with its JSON path.
The rows never touch the database: one pass, no query per record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models

from registry.clinical import units
from registry.interchange.facts import PatientFacts, Row
from registry.models import (
    AdverseEvent,
    ClinicalProgression,
    Course,
    Cycle,
    LabResult,
    LesionMeasurement,
    Patient,
    PatientIdentity,
    PriorTreatment,
    Scan,
)
from registry.models.custom import Definition, check_values
from registry.models.labs import ANALYTES
from registry.models.treatment import DEFAULT_RADIOPHARMACEUTICAL, METASTASIS_SITES

Path = tuple[str | int, ...]


def dicts(value: Any) -> Iterator[dict]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def indexed(value: Any) -> Iterator[tuple[int, dict]]:
    if isinstance(value, list):
        yield from ((i, item) for i, item in enumerate(value) if isinstance(item, dict))


def _date(value: Any) -> Any:
    """An ISO date as a `date`; anything else as given, for validation to report."""
    if isinstance(value, str) and len(value) == 10:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value


def _text(value: Any) -> Any:
    return "" if value is None else value


def _number(value: Any) -> bool:
    return type(value) is float or (type(value) is int and abs(value) < 2**53)


def plain_lab(row: Row) -> bool:
    """Whether `clean_fields` could say nothing of this lab row, so that it may be skipped:
    a date, a known analyte, numbers, a unit of 1–16 characters. The usual case; it was
    a sixth of a large import's checking (issue 17). Anything else takes the full path,
    with its messages. Integers become floats, as FloatField's cleaning makes them."""
    if not (
        type(row.date) is dt.date
        and row.analyte in ANALYTES
        and _number(row.value)
        and type(row.unit) is str
        and 0 < len(row.unit) <= 16
        and (row.lln is None or _number(row.lln))
        and (row.uln is None or _number(row.uln))
    ):
        return False
    row.value = float(row.value)
    row.lln = None if row.lln is None else float(row.lln)
    row.uln = None if row.uln is None else float(row.uln)
    return True


def quick_lab(row: Row, path: Path) -> list[tuple[Path, str]]:
    """`LabResult.clean` of a plain lab row (`plain_lab`) without a model instance: the
    same two rules, called directly (the date's bounds, then the canonical value), at a
    third of the cost. The row gets its canonical value."""
    errors = LabResult.date_errors({"date": row.date})
    if not errors:
        try:
            row.canonical_value = LabResult.canonical_of(row.analyte, row.value, row.unit)
            return []
        except ValidationError as exc:
            errors = exc.message_dict
    return [((*path, name), message) for name, messages in errors.items() for message in messages]


class _ModelCheck:
    """A model's own validation (`clean_fields`, then `clean`) applied to rows.

    One instance per model is reused for every row: building a model instance
    costs more than validating it, and nothing of a row stays on the instance
    because every checked field is assigned anew. Cleaned values (dates, a
    lab's canonical value) are copied back onto the row.
    """

    def __init__(
        self,
        model: type[models.Model],
        fields: tuple[str, ...],
        plain: Callable[[Row], bool] | None = None,
        quick: Callable[[Row, Path], list[tuple[Path, str]]] | None = None,
        **keys: str,
    ):
        self.plain = plain
        self.quick = quick
        self.instance = model()
        # Custom values are checked by `check_custom` (each with its own path), not by `clean`.
        self.instance._custom_definitions = {}
        self.fields = fields
        self.copy_back = (*fields, "canonical_value") if model is LabResult else fields
        self.exclude = {f.name for f in model._meta.concrete_fields if f.attname not in self.fields}
        self.keys = keys

    def __call__(self, row: Row, path: Path) -> list[tuple[Path, str]]:
        plain = self.plain is not None and self.plain(row)
        if plain and self.quick is not None:
            return self.quick(row, path)
        instance = self.instance
        for name in self.fields:
            setattr(instance, name, getattr(row, name))
        if hasattr(instance, "custom"):
            instance.custom = {}
        if "canonical_value" in self.copy_back:
            instance.canonical_value = None
        try:
            if not plain:
                instance.clean_fields(exclude=self.exclude)
            instance.clean()  # only once the fields are valid: it compares and converts them
        except ValidationError as exc:
            return [
                (path if name == NON_FIELD_ERRORS else (*path, self.keys.get(name, name)), msg)
                for name, messages in exc.message_dict.items()
                for msg in messages
            ]
        except (TypeError, ValueError) as exc:  # a value of a type no field expects
            return [(path, f"Invalid record: {exc}")]
        for name in self.copy_back:
            setattr(row, name, getattr(instance, name))
        return []


PATIENT_FIELDS = (
    "study_id",
    "sex",
    "primary_site",
    "diagnosis_date",
    "ki67_percent",
    "last_follow_up",
    "death_date",
    "who_grade",
    "functional_syndrome",
    "cause_of_death",
)
IDENTITY_FIELDS = ("name", "hospital_number", "birth_date")
METASTASIS_FIELDS = (
    "liver_metastases",
    "liver_load",
    *(f"{s}_metastases" for s in METASTASIS_SITES[1:]),
)
COURSE_FIELDS = (
    "phase",
    "intended_activity_gbq",
    "stop_reason",
    "ecog",
    "karnofsky",
    "krenning_score",
    "uptake_modality",
    *METASTASIS_FIELDS,
)
CYCLE_FIELDS = (
    "date",
    "administered_gbq",
    "radiopharmaceutical",
    "note",
    "amino_acids",
    "reduced_reason",
)
LAB_FIELDS = ("date", "analyte", "value", "unit", "lln", "uln")
SCAN_FIELDS = ("date", "modality")
LESION_FIELDS = (
    "lesion",
    "organ",
    "lymph_node",
    "target",
    "new",
    "long_mm",
    "short_mm",
    "status",
)
PROGRESSION_FIELDS = ("date", "note")
ADVERSE_EVENT_FIELDS = (
    "term",
    "grade",
    "onset",
    "note",
    "category",
    "resolved",
    "serious",
    "attribution",
)
PRIOR_TREATMENT_FIELDS = ("type", "start", "end", "note")
# Where a model error on a course's metastasis column points in the document.
METASTASIS_PATHS = {
    "liver_metastases": "metastases.liver",
    "liver_load": "metastases.liver_load",
    **{f"{s}_metastases": f"metastases.{s}" for s in METASTASIS_SITES[1:]},
}


class Checks:
    def __init__(self, definitions: dict[str, Definition] | None = None) -> None:
        self.definitions = definitions or {}
        self.patient = _ModelCheck(Patient, PATIENT_FIELDS)
        self.identity = _ModelCheck(PatientIdentity, IDENTITY_FIELDS)
        self.course = _ModelCheck(Course, COURSE_FIELDS, **METASTASIS_PATHS)
        self.cycle = _ModelCheck(Cycle, CYCLE_FIELDS, administered_gbq="activity_gbq")
        self.lab = _ModelCheck(LabResult, LAB_FIELDS, plain=plain_lab, quick=quick_lab)
        self.scan = _ModelCheck(Scan, SCAN_FIELDS)
        self.lesion = _ModelCheck(LesionMeasurement, LESION_FIELDS)
        self.progression = _ModelCheck(ClinicalProgression, PROGRESSION_FIELDS)
        self.adverse_event = _ModelCheck(AdverseEvent, ADVERSE_EVENT_FIELDS)
        self.prior_treatment = _ModelCheck(PriorTreatment, PRIOR_TREATMENT_FIELDS)

    def custom(self, level: str, row: Row, path: Path) -> list[tuple[Path, str]]:
        """The record's `custom` values against the definitions, each error at its code."""
        cleaned, errors = check_values(level, row.custom, self.definitions)
        row.custom = cleaned
        return [
            ((*path, "custom", code) if code else (*path, "custom"), message)
            for code, messages in errors.items()
            for message in messages
        ]


def _custom(raw: dict) -> Any:
    value = raw.get("custom")
    return {} if value is None else value


def _trusted_custom(value: Any) -> dict:
    return dict(sorted((k, v) for k, v in value.items() if v is not None))


def _metastases(raw: dict) -> dict[str, Any]:
    """A course's `metastases` object as its columns (absent: unknown)."""
    given = raw.get("metastases")
    given = given if isinstance(given, dict) else {}
    columns = {"liver_metastases": given.get("liver"), "liver_load": _text(given.get("liver_load"))}
    for site in METASTASIS_SITES[1:]:
        columns[f"{site}_metastases"] = given.get(site)
    return columns


def _build_courses(
    facts: PatientFacts, raw: Any, path: Path, checks: Checks | None
) -> list[tuple[Path, str]]:
    """The patient's courses with their cycles."""
    errors: list[tuple[Path, str]] = []
    for c, raw_course in indexed(raw):
        course = Row(
            patient=facts.patient,
            phase=raw_course.get("phase"),
            intended_activity_gbq=raw_course.get("intended_activity_gbq"),
            stop_reason=_text(raw_course.get("stop_reason")),
            ecog=raw_course.get("ecog"),
            karnofsky=raw_course.get("karnofsky"),
            krenning_score=raw_course.get("krenning_score"),
            uptake_modality=_text(raw_course.get("uptake_modality")),
            custom=_custom(raw_course),
            **_metastases(raw_course),
        )
        if checks:
            errors += checks.course(course, (*path, "courses", c))
            errors += checks.custom("course", course, (*path, "courses", c))
        else:
            course.custom = _trusted_custom(course.custom)
        cycles = []
        for k, raw_cycle in indexed(raw_course.get("cycles")):
            cycle = Row(
                course=course,
                date=_date(raw_cycle.get("date")),
                administered_gbq=raw_cycle.get("activity_gbq"),
                radiopharmaceutical=raw_cycle.get("radiopharmaceutical")
                or DEFAULT_RADIOPHARMACEUTICAL,
                note=_text(raw_cycle.get("note")),
                amino_acids=raw_cycle.get("amino_acids"),
                reduced_reason=_text(raw_cycle.get("reduced_reason")),
                custom=_custom(raw_cycle),
            )
            if checks:
                where = (*path, "courses", c, "cycles", k)
                errors += checks.cycle(cycle, where) + checks.custom("cycle", cycle, where)
            else:
                cycle.custom = _trusted_custom(cycle.custom)
            cycles.append(cycle)
        facts.courses.append((course, cycles))
    return errors


def _build_labs(
    facts: PatientFacts, raw: Any, path: Path, checks: Checks | None
) -> list[tuple[Path, str]]:
    """The patient's lab values (canonical values computed for trusted data)."""
    errors: list[tuple[Path, str]] = []
    for j, raw_lab in indexed(raw):
        lab = Row(
            patient=facts.patient,
            date=_date(raw_lab.get("date")),
            analyte=raw_lab.get("analyte"),
            value=raw_lab.get("value"),
            unit=_text(raw_lab.get("unit")),
            lln=raw_lab.get("lln"),
            uln=raw_lab.get("uln"),
        )
        if checks:
            errors += checks.lab(lab, (*path, "labs", j))
        else:
            # Trusted (generated) data: the conversion LabResult.clean applies.
            lab.canonical_value = units.to_canonical(lab.analyte, lab.value, lab.unit)
        facts.labs.append(lab)
    return errors


def _build_scans(
    facts: PatientFacts, raw: Any, path: Path, checks: Checks | None
) -> list[tuple[Path, str]]:
    """The patient's scans with their lesions."""
    errors: list[tuple[Path, str]] = []
    for s, raw_scan in indexed(raw):
        scan = Row(
            patient=facts.patient,
            date=_date(raw_scan.get("date")),
            modality=raw_scan.get("modality"),
            custom=_custom(raw_scan),
        )
        if checks:
            errors += checks.scan(scan, (*path, "scans", s))
            errors += checks.custom("scan", scan, (*path, "scans", s))
        else:
            scan.custom = _trusted_custom(scan.custom)
        lesions = []
        for n, raw_lesion in indexed(raw_scan.get("lesions")):
            lesion = Row(
                scan=scan,
                lesion=raw_lesion.get("lesion"),
                organ=_text(raw_lesion.get("organ")),
                lymph_node=raw_lesion.get("lymph_node", False),
                target=raw_lesion.get("target", True),
                new=raw_lesion.get("new", False),
                long_mm=raw_lesion.get("long_mm"),
                short_mm=raw_lesion.get("short_mm"),
                status=_text(raw_lesion.get("status")),
            )
            if checks:
                errors += checks.lesion(lesion, (*path, "scans", s, "lesions", n))
            lesions.append(lesion)
        facts.scans.append((scan, lesions))
    return errors


def build_patient(
    raw: dict, path: Path, checks: Checks | None
) -> tuple[PatientFacts, list[tuple[Path, str]]]:
    errors: list[tuple[Path, str]] = []
    get = raw.get
    patient = Row(
        study_id=get("study_id"),
        sex=_text(get("sex")),
        primary_site=get("primary_site"),
        diagnosis_date=_date(get("diagnosis_date")),
        ki67_percent=get("ki67_percent"),
        last_follow_up=_date(get("last_follow_up")),
        death_date=_date(get("death_date")),
        who_grade=_text(get("who_grade")),
        functional_syndrome=_text(get("functional_syndrome")),
        cause_of_death=_text(get("cause_of_death")),
        custom=_custom(raw),
    )
    identity = Row(
        patient=patient,
        name=_text(get("name")),
        hospital_number=_text(get("hospital_number")),
        birth_date=_date(get("birth_date")),
    )
    facts = PatientFacts(patient=patient, site_code=get("site"), identity=identity)
    if checks:
        errors += checks.patient(patient, path) + checks.identity(identity, path)
        errors += checks.custom("patient", patient, path)
    else:
        patient.custom = _trusted_custom(patient.custom)

    errors += _build_courses(facts, get("courses"), path, checks)
    errors += _build_labs(facts, get("labs"), path, checks)
    errors += _build_scans(facts, get("scans"), path, checks)

    for j, raw_cp in indexed(get("clinical_progressions")):
        cp = Row(patient=patient, date=_date(raw_cp.get("date")), note=_text(raw_cp.get("note")))
        if checks:
            errors += checks.progression(cp, (*path, "clinical_progressions", j))
        facts.progressions.append(cp)

    for j, raw_ae in indexed(get("adverse_events")):
        ae = Row(
            patient=patient,
            term=raw_ae.get("term"),
            grade=raw_ae.get("grade"),
            onset=_date(raw_ae.get("onset")),
            note=_text(raw_ae.get("note")),
            category=_text(raw_ae.get("category")),
            resolved=_date(raw_ae.get("resolved")),
            serious=raw_ae.get("serious"),
            attribution=_text(raw_ae.get("attribution")),
        )
        if checks:
            errors += checks.adverse_event(ae, (*path, "adverse_events", j))
        facts.adverse_events.append(ae)

    for j, raw_pt in indexed(get("prior_treatments")):
        pt = Row(
            patient=patient,
            type=raw_pt.get("type"),
            start=_date(raw_pt.get("start")),
            end=_date(raw_pt.get("end")),
            note=_text(raw_pt.get("note")),
        )
        if checks:
            errors += checks.prior_treatment(pt, (*path, "prior_treatments", j))
        facts.prior_treatments.append(pt)

    return facts, errors
