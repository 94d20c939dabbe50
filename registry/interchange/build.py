"""A `lutetia-cohort/1` or `/2` document turned into unsaved model instances, and checked.

Checking a document takes three layers, and every error of every layer is
reported with its JSON path (`patients[3].labs[12].unit`):

1. the JSON Schema (types, required and unknown keys, enums, date format);
2. the models' own validation (`clean_fields` and `clean`), the same rules
   every form, API call and service applies: future dates, units, plausible
   values, death before diagnosis (`registry.interchange.rows`);
3. rules across records: a study ID twice in the document, an unknown site,
   two cycles of a course on one day, a lesion label twice on one scan, a
   custom field defined twice or against the registry's own definition.

Custom values (`custom: {…}`, version 2) are checked against the document's
`fields` and, for codes it does not define, the registry's definitions.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from registry.interchange.facts import PatientFacts
from registry.interchange.rows import Checks, build_patient, dicts, indexed
from registry.interchange.schema import (
    FORMAT_V1,
    cohort_validator,
    fast_validators,
    patient_validator,
    version_of,
)
from registry.models import Site
from registry.models.custom import Definition, definition_errors, stored_definitions

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
    version: int = 2
    fields: list[Definition] = dataclass_field(default_factory=list)  # the document's `fields`


def document_fields(
    doc: dict, stored: dict[str, Definition]
) -> tuple[list[Definition], list[tuple[Path, str]]]:
    """The custom-field definitions of a document's `fields`, and what is wrong with them
    (`stored`: the registry's own, which a document may not change in level or type)."""
    found: list[Definition] = []
    errors: list[tuple[Path, str]] = []
    seen: dict[str, int] = {}
    for i, raw in indexed(doc.get("fields")):
        code = raw.get("code")
        if not isinstance(code, str):
            continue
        choices = raw.get("choices") or []
        d = Definition(
            code=code,
            level=raw.get("level"),
            type=raw.get("type"),
            label=raw.get("label") or code,
            unit=raw.get("unit") or "",
            minimum=raw.get("minimum"),
            maximum=raw.get("maximum"),
            choices=tuple((c.get("code"), c.get("label")) for c in choices if isinstance(c, dict)),
            identifying=bool(raw.get("identifying", False)),
            help=raw.get("help") or "",
        )
        where = ("fields", i)
        if code in seen:
            errors.append(
                ((*where, "code"), f"Field {code!r} is already defined at fields[{seen[code]}].")
            )
            continue
        seen[code] = i
        for name, messages in definition_errors(d).items():
            errors += [((*where, name), m) for m in messages]
        old = stored.get(code)
        if old is not None and (old.level, old.type) != (d.level, d.type):
            errors.append(
                (
                    (*where, "type"),
                    f"The registry defines {code!r} as a {old.level} {old.type} field; "
                    "a document may not change its level or type.",
                )
            )
        found.append(d)
    return found, errors


def check_document(
    doc: Any,
    *,
    validate: bool = True,
    progress: Callable[[float], None] | None = None,
    consume: bool = False,
) -> CheckedDocument:
    """Build every record of `doc` as unsaved instances, and (if `validate`) check them all.

    `validate=False` is for documents this code built itself (the demo
    cohort): no schema and no model validation; lab values get their
    canonical value from the same conversion `LabResult.clean` uses.
    `consume=True` (a caller that read the document for this import alone)
    lets each patient's JSON go once its records are built, keeping only its
    study ID and site: a large import then never holds the whole document and
    every record at once.
    """
    fmt = version_of(doc)
    version = 1 if fmt == FORMAT_V1 else 2
    schema_errors = list(_schema_errors(doc, fmt)) if validate else []
    if not isinstance(doc, dict) or not isinstance(doc.get("patients"), list):
        return CheckedDocument(_finish(schema_errors, []), {}, [], version)
    sites = {
        s["code"]: s.get("name") or ""
        for s in dicts(doc.get("sites"))
        if isinstance(s.get("code"), str)
    }
    semantic: list[tuple[Path, str]] = []
    stored = stored_definitions()
    fields, field_errors = document_fields(doc, stored) if version == 2 else ([], [])
    semantic.extend(field_errors)
    patients: list[PatientFacts] = []
    checks = Checks({**stored, **{d.code: d for d in fields}}) if validate else None
    # The checks of the document as a whole, before its patients' JSON may go.
    whole = [*_unstorable_values(doc), *_cross_record_errors(doc, sites)] if validate else []
    total = len(doc["patients"])
    step = max(total // 20, 1)
    for i, raw in enumerate(doc["patients"]):
        if progress and i % step == 0:
            progress(i / total)
        if not isinstance(raw, dict):
            continue
        facts, errors = build_patient(raw, ("patients", i), checks)
        patients.append(facts)
        semantic.extend(errors)
        if consume:
            doc["patients"][i] = {k: raw[k] for k in ("study_id", "site") if k in raw}
    semantic.extend(whole)
    return CheckedDocument(_finish(schema_errors, semantic), sites, patients, version, fields)


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


def _schema_errors(doc: Any, fmt: str) -> Iterator[tuple[Path, str]]:
    """Every schema error, the messages from `jsonschema` (Draft 2020-12, dates checked).

    The compiled validator finds the patients that fail quickly; only those
    (and the document's other keys) go through the slower, explanatory one.
    """
    fast = fast_validators(fmt)
    if fast is None or not isinstance(doc, dict) or not isinstance(doc.get("patients"), list):
        for error in cohort_validator(fmt).iter_errors(doc):
            yield from _explain(error, ())
        return
    whole, one_patient = fast
    if whole.is_valid(doc):
        return
    for error in cohort_validator(fmt).iter_errors({**doc, "patients": []}):
        yield from _explain(error, ())
    for i, patient in enumerate(doc["patients"]):
        if not one_patient.is_valid(patient):
            for error in patient_validator(fmt).iter_errors(patient):
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


def _surely_storable(value: Any) -> bool:
    """True when `value` holds no NaN or infinity and no text with a NUL or an unpaired
    surrogate, found in one pass of C (json) instead of a walk in Python, which was
    seconds of a large import; False means: look value by value. (json refuses NaN
    with allow_nan=False, writes a NUL as \\u0000 and a lone surrogate as it is.)"""
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError):
        return False
    return "\\u0000" not in text and not _UNSTORABLE.search(text)


def _unstorable_values(doc: Any) -> Iterator[tuple[Path, str]]:
    if isinstance(doc, dict) and isinstance(doc.get("patients"), list):
        # Patient by patient: one text at a time, never the whole document's.
        rest = {k: v for k, v in doc.items() if k != "patients"}
        if _surely_storable(rest) and all(_surely_storable(p) for p in doc["patients"]):
            return
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
        ((("sites", i, "code"), _hashable(s.get("code"))) for i, s in indexed(doc.get("sites"))),
        "site code",
    )
    patients = list(indexed(doc["patients"]))
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
        for c, course in indexed(p.get("courses")):
            where = ("patients", i, "courses", c, "cycles")
            yield from _duplicates(
                (
                    ((*where, k, "date"), _hashable(cy.get("date")))
                    for k, cy in indexed(course.get("cycles"))
                ),
                "cycle date in this course",
            )
        for s, scan in indexed(p.get("scans")):
            where = ("patients", i, "scans", s, "lesions")
            yield from _duplicates(
                (
                    ((*where, n, "lesion"), _hashable(le.get("lesion")))
                    for n, le in indexed(scan.get("lesions"))
                ),
                "lesion label on this scan",
            )


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str | int | float) else None
