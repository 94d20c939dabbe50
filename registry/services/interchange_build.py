"""A `lutetia-cohort/1` document turned into unsaved model instances, and checked.

Checking a document takes three layers, and every error of every layer is
reported with its JSON path (`patients[3].labs[12].unit`):

1. the JSON Schema (types, required and unknown keys, enums, date format);
2. the models' own validation (`clean_fields` and `clean`), the same rules
   every form, API call and service applies: future dates, units, plausible
   values, death before diagnosis. The instances are built in memory and
   never touch the database, so this is one pass with no query per record;
3. rules across records: a study ID twice in the document, an unknown site,
   two cycles of a course on one day, a lesion label twice on one scan.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models

from ..clinical import units
from ..models import (
    AdverseEvent,
    ClinicalProgression,
    Course,
    Cycle,
    LabResult,
    LesionMeasurement,
    Patient,
    PatientIdentity,
    Scan,
    Site,
)
from ..models.treatment import DEFAULT_RADIOPHARMACEUTICAL
from ..schema import cohort_validator, fast_validators, patient_validator
from .interchange_facts import PatientFacts, Row

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class ImportError:  # the name CONTRACT.md's callers use; shadows the builtin here only
    """One thing wrong with a document: where (a JSON path) and what."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def render_path(path: Path) -> str:
    """`("patients", 3, "labs", 12, "unit")` -> `patients[3].labs[12].unit`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "$"


@dataclass
class CheckedDocument:
    errors: list[ImportError]
    sites: dict[str, str]  # code -> name, as the document gives them
    patients: list[PatientFacts]


def check_document(
    doc: Any, *, validate: bool = True, progress: Callable[[float], None] | None = None
) -> CheckedDocument:
    """Build every record of `doc` as unsaved instances, and (if `validate`) check them all.

    `validate=False` is for documents this code built itself (the demo
    cohort): no schema and no model validation; lab values get their
    canonical value from the same conversion `LabResult.clean` uses.
    """
    schema_errors = list(_schema_errors(doc)) if validate else []
    if not isinstance(doc, dict) or not isinstance(doc.get("patients"), list):
        return CheckedDocument(_finish(schema_errors, []), {}, [])
    sites = {
        s["code"]: s.get("name") or ""
        for s in _dicts(doc.get("sites"))
        if isinstance(s.get("code"), str)
    }
    semantic: list[tuple[Path, str]] = []
    patients: list[PatientFacts] = []
    checks = _Checks() if validate else None
    total = len(doc["patients"])
    step = max(total // 20, 1)
    for i, raw in enumerate(doc["patients"]):
        if progress and i % step == 0:
            progress(i / total)
        if not isinstance(raw, dict):
            continue
        facts, errors = _build_patient(raw, ("patients", i), checks)
        patients.append(facts)
        semantic.extend(errors)
    if validate:
        semantic.extend(_unstorable_values(doc))
        semantic.extend(_cross_record_errors(doc, sites))
    return CheckedDocument(_finish(schema_errors, semantic), sites, patients)


def _finish(
    schema_errors: list[tuple[Path, str]], semantic: list[tuple[Path, str]]
) -> list[ImportError]:
    """Schema errors first-per-path, then model errors on paths the schema did not flag."""
    seen: dict[Path, str] = {}
    for path, message in schema_errors:
        seen.setdefault(path, message)
    found = list(seen.items())
    reported = set(found)
    for path, message in semantic:
        if path not in seen and (path, message) not in reported:
            reported.add((path, message))
            found.append((path, message))
    found.sort(key=lambda item: _sort_key(item[0]))
    return [ImportError(render_path(path), message) for path, message in found]


def _sort_key(path: Path) -> tuple:
    return tuple((0, part, "") if isinstance(part, int) else (1, 0, part) for part in path)


# --- layer 1: the JSON Schema -------------------------------------------------


def _schema_errors(doc: Any) -> Iterator[tuple[Path, str]]:
    """Every schema error, the messages from `jsonschema` (Draft 2020-12, dates checked).

    The compiled validator finds the patients that fail quickly; only those
    (and the document's other keys) go through the slower, explanatory one.
    """
    fast = fast_validators()
    if fast is None or not isinstance(doc, dict) or not isinstance(doc.get("patients"), list):
        for error in cohort_validator().iter_errors(doc):
            yield from _explain(error, ())
        return
    whole, one_patient = fast
    if whole.is_valid(doc):
        return
    for error in cohort_validator().iter_errors({**doc, "patients": []}):
        yield from _explain(error, ())
    for i, patient in enumerate(doc["patients"]):
        if not one_patient.is_valid(patient):
            for error in patient_validator().iter_errors(patient):
                yield from _explain(error, ("patients", i))


def _explain(error, prefix: Path) -> Iterator[tuple[Path, str]]:
    path: Path = (*prefix, *error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {})
        for key in sorted(k for k in error.instance if k not in known):
            yield (*path, key), f"Unknown key {key!r}."
    elif error.validator == "required" and isinstance(error.instance, dict):
        for key in error.validator_value:
            if key not in error.instance:
                yield (*path, key), "This field is required."
    elif error.validator in ("oneOf", "anyOf") and error.context:
        # `{"oneOf": [{…}, {"type": "null"}]}`: "not null" says nothing useful.
        useful = [e for e in error.context if e.validator_value != "null"] or error.context
        for sub in useful:
            yield from _explain(sub, prefix)
    elif error.validator == "format":
        yield path, f"{error.instance!r} is not a valid {error.validator_value} (YYYY-MM-DD)."
    else:
        yield path, error.message


# --- layer 2: the models' validation -----------------------------------------


def _dicts(value: Any) -> Iterator[dict]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def _indexed(value: Any) -> Iterator[tuple[int, dict]]:
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


class _ModelCheck:
    """A model's own validation (`clean_fields`, then `clean`) applied to rows.

    One instance per model is reused for every row: building a model instance
    costs more than validating it, and nothing of a row stays on the instance
    because every checked field is assigned anew. Cleaned values (dates, a
    lab's canonical value) are copied back onto the row.
    """

    def __init__(self, model: type[models.Model], fields: tuple[str, ...], **keys: str):
        self.instance = model()
        self.fields = fields
        self.copy_back = (*fields, "canonical_value") if model is LabResult else fields
        self.exclude = {f.name for f in model._meta.concrete_fields if f.attname not in self.fields}
        self.keys = keys

    def __call__(self, row: Row, path: Path) -> list[tuple[Path, str]]:
        instance = self.instance
        for name in self.fields:
            setattr(instance, name, getattr(row, name))
        if "canonical_value" in self.copy_back:
            instance.canonical_value = None
        try:
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
)
IDENTITY_FIELDS = ("name", "hospital_number", "birth_date")
COURSE_FIELDS = ("phase", "intended_activity_gbq", "stop_reason")
CYCLE_FIELDS = ("date", "administered_gbq", "radiopharmaceutical", "note")
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
ADVERSE_EVENT_FIELDS = ("term", "grade", "onset", "note")


class _Checks:
    def __init__(self) -> None:
        self.patient = _ModelCheck(Patient, PATIENT_FIELDS)
        self.identity = _ModelCheck(PatientIdentity, IDENTITY_FIELDS)
        self.course = _ModelCheck(Course, COURSE_FIELDS)
        self.cycle = _ModelCheck(Cycle, CYCLE_FIELDS, administered_gbq="activity_gbq")
        self.lab = _ModelCheck(LabResult, LAB_FIELDS)
        self.scan = _ModelCheck(Scan, SCAN_FIELDS)
        self.lesion = _ModelCheck(LesionMeasurement, LESION_FIELDS)
        self.progression = _ModelCheck(ClinicalProgression, PROGRESSION_FIELDS)
        self.adverse_event = _ModelCheck(AdverseEvent, ADVERSE_EVENT_FIELDS)


def _build_patient(
    raw: dict, path: Path, checks: _Checks | None
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

    for c, raw_course in _indexed(get("courses")):
        course = Row(
            patient=patient,
            phase=raw_course.get("phase"),
            intended_activity_gbq=raw_course.get("intended_activity_gbq"),
            stop_reason=_text(raw_course.get("stop_reason")),
        )
        if checks:
            errors += checks.course(course, (*path, "courses", c))
        cycles = []
        for k, raw_cycle in _indexed(raw_course.get("cycles")):
            cycle = Row(
                course=course,
                date=_date(raw_cycle.get("date")),
                administered_gbq=raw_cycle.get("activity_gbq"),
                radiopharmaceutical=raw_cycle.get("radiopharmaceutical")
                or DEFAULT_RADIOPHARMACEUTICAL,
                note=_text(raw_cycle.get("note")),
            )
            if checks:
                errors += checks.cycle(cycle, (*path, "courses", c, "cycles", k))
            cycles.append(cycle)
        facts.courses.append((course, cycles))

    for j, raw_lab in _indexed(get("labs")):
        lab = Row(
            patient=patient,
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

    for s, raw_scan in _indexed(get("scans")):
        scan = Row(
            patient=patient, date=_date(raw_scan.get("date")), modality=raw_scan.get("modality")
        )
        if checks:
            errors += checks.scan(scan, (*path, "scans", s))
        lesions = []
        for n, raw_lesion in _indexed(raw_scan.get("lesions")):
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

    for j, raw_cp in _indexed(get("clinical_progressions")):
        cp = Row(patient=patient, date=_date(raw_cp.get("date")), note=_text(raw_cp.get("note")))
        if checks:
            errors += checks.progression(cp, (*path, "clinical_progressions", j))
        facts.progressions.append(cp)

    for j, raw_ae in _indexed(get("adverse_events")):
        ae = Row(
            patient=patient,
            term=raw_ae.get("term"),
            grade=raw_ae.get("grade"),
            onset=_date(raw_ae.get("onset")),
            note=_text(raw_ae.get("note")),
        )
        if checks:
            errors += checks.adverse_event(ae, (*path, "adverse_events", j))
        facts.adverse_events.append(ae)

    return facts, errors


# --- layer 3: rules across records ---------------------------------------------

# JSON admits `\u0000` and lone surrogates, and Python's `json` reads NaN,
# Infinity and 1e999: no database column stores the text (PostgreSQL refuses
# the whole import), and the numbers slip past the schema's bounds (every
# comparison with NaN is false) into exports that are no longer JSON.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def walk(doc: Any) -> Iterator[tuple[Path, Any]]:
    """Every value of a JSON document with its path, containers before their items."""
    stack: list[tuple[Path, Any]] = [((), doc)]
    while stack:
        path, value = stack.pop()
        yield path, value
        if isinstance(value, dict):
            stack.extend(((*path, str(key)), item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend(((*path, i), item) for i, item in enumerate(value))


def is_infinite(value: Any) -> bool:
    """A float JSON cannot carry: NaN, or a number such as `1e309` read as infinity."""
    return isinstance(value, float) and not math.isfinite(value)


def _unstorable_values(doc: Any) -> Iterator[tuple[Path, str]]:
    for path, value in walk(doc):
        if isinstance(value, str) and _UNSTORABLE.search(value):
            yield path, "Text holds a NUL character or an unpaired surrogate: not storable."
        elif is_infinite(value):
            yield path, f"{value} is not a finite number."


def _duplicates(items: Iterable[tuple[Path, Any]], what: str) -> Iterator[tuple[Path, str]]:
    """An error at every repeat of a value, naming where it first appeared."""
    first: dict[Any, Path] = {}
    for path, value in items:
        if value is None:
            continue
        if value in first:
            yield path, f"Duplicate {what} {value!s} (already at {render_path(first[value])})."
        else:
            first[value] = path


def _cross_record_errors(doc: dict, sites: dict[str, str]) -> Iterator[tuple[Path, str]]:
    yield from _duplicates(
        ((("sites", i, "code"), _hashable(s.get("code"))) for i, s in _indexed(doc.get("sites"))),
        "site code",
    )
    patients = list(_indexed(doc["patients"]))
    yield from _duplicates(
        ((("patients", i, "study_id"), _hashable(p.get("study_id"))) for i, p in patients),
        "study_id",
    )

    used = {p.get("site") for _, p in patients if isinstance(p.get("site"), str)}
    missing = used - set(sites)
    if missing:
        missing -= set(Site.objects.filter(code__in=missing).values_list("code", flat=True))
    for i, p in patients:
        if p.get("site") in missing:
            yield (
                ("patients", i, "site"),
                f"Unknown site {p['site']!r}: not in the document's sites nor in the registry.",
            )

    for i, p in patients:
        for c, course in _indexed(p.get("courses")):
            where = ("patients", i, "courses", c, "cycles")
            yield from _duplicates(
                (
                    ((*where, k, "date"), _hashable(cy.get("date")))
                    for k, cy in _indexed(course.get("cycles"))
                ),
                "cycle date in this course",
            )
        for s, scan in _indexed(p.get("scans")):
            where = ("patients", i, "scans", s, "lesions")
            yield from _duplicates(
                (
                    ((*where, n, "lesion"), _hashable(le.get("lesion")))
                    for n, le in _indexed(scan.get("lesions"))
                ),
                "lesion label on this scan",
            )


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str | int | float) else None
