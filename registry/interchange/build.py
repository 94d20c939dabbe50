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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
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


def check_document(doc: Any, *, validate: bool = True) -> list[ImportError]:
    """Every error of `doc`, each with its JSON path; empty if it may be imported.

    Its records are built and checked as an import would (`DocumentChecker`);
    `validate=False` (documents this code built itself) skips the schema and
    the models' validation.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("patients"), list):
        schema_errors = list(_schema_errors(doc, version_of(doc))) if validate else []
        return _finish(schema_errors, [])
    checker = DocumentChecker(header_of(doc), validate=validate)
    checker.check(enumerate(doc["patients"]))
    return checker.errors()


def header_of(doc: dict) -> dict:
    """A document without its patients (a list of them stands as `[]`)."""
    return {k: ([] if k == "patients" and isinstance(v, list) else v) for k, v in doc.items()}


class DocumentChecker:
    """Checks a document a few patients at a time: what `check_document` does, in chunks.

    Made from the document's `header` (every key but the patients, see
    `jsonstream.DocumentStream`), it checks the header at once, then each
    batch of `(index, patient)` given to `check`, keeping what spans patients
    (study IDs seen, sites known). `errors()` gives every error so far, sorted
    and paired as `check_document` reports them. An import streams a large
    file through one checker and never holds more than a batch of patients.
    """

    def __init__(self, header: dict, *, validate: bool = True):
        self.fmt = version_of(header)
        self.version = 1 if self.fmt == FORMAT_V1 else 2
        self.validate = validate
        self.sites = {
            s["code"]: s.get("name") or ""
            for s in dicts(header.get("sites"))
            if isinstance(s.get("code"), str)
        }
        stored = stored_definitions()
        self.fields, field_errors = (
            document_fields(header, stored) if self.version == 2 else ([], [])
        )
        self.schema: list[tuple[Path, str]] = []
        self.semantic: list[tuple[Path, str]] = list(field_errors)
        self.checks = Checks({**stored, **{d.code: d for d in self.fields}}) if validate else None
        self._study_ids: dict[Any, Path] = {}
        self._known_sites = set(self.sites)
        self._unknown_sites: set[str] = set()
        if validate:
            self.schema += _header_schema_errors(header, self.fmt)
            self.semantic += _unstorable_values(header)
            self.semantic += _duplicates(
                (
                    (("sites", i, "code"), _hashable(s.get("code")))
                    for i, s in indexed(header.get("sites"))
                ),
                "site code",
            )

    @property
    def ok(self) -> bool:
        return not self.schema and not self.semantic

    def errors(self) -> list[ImportError]:
        return _finish(self.schema, self.semantic)

    def check(self, numbered: Iterable[tuple[int, Any]]) -> list[tuple[int, PatientFacts]]:
        """Build and check these patients; their facts, with their indexes."""
        built = []
        sited = []
        for i, raw in numbered:
            path = ("patients", i)
            if self.validate:
                self.schema += _patient_schema_errors(raw, path, self.fmt)
            if not isinstance(raw, dict):
                continue
            if self.validate:
                self.semantic += _unstorable_values(raw, path)
                self.semantic += _patient_cross_errors(raw, path)
                self.semantic += _duplicates(
                    [((*path, "study_id"), _hashable(raw.get("study_id")))],
                    "study_id",
                    self._study_ids,
                )
                if isinstance(raw.get("site"), str) and raw["site"] not in self._known_sites:
                    sited.append((path, raw["site"]))
            facts, errors = build_patient(raw, path, self.checks)
            built.append((i, facts))
            self.semantic += errors
        if sited:
            self._sites_of(sited)
        return built

    def _sites_of(self, sited: list[tuple[Path, str]]) -> None:
        """An error for each patient of a site neither the document nor the registry has."""
        asked = {code for _, code in sited} - self._unknown_sites
        if asked:
            found = set(Site.objects.filter(code__in=asked).values_list("code", flat=True))
            self._known_sites |= found
            self._unknown_sites |= asked - found
        for path, code in sited:
            if code in self._unknown_sites:
                self.semantic.append(
                    (
                        (*path, "site"),
                        f"Unknown site {code!r}: not in the document's sites nor in the registry.",
                    )
                )


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
    """Every schema error of a document as a whole (one whose patients are no list)."""
    for error in cohort_validator(fmt).iter_errors(doc):
        yield from _explain(error, ())


def _header_schema_errors(header: dict, fmt: str) -> Iterator[tuple[Path, str]]:
    """The schema's errors in everything but the patients' contents.

    The compiled (Rust) validator finds quickly that a part is valid; only a
    part it refuses goes through the slower, explanatory one.
    """
    fast = fast_validators(fmt)
    if fast is not None and fast[0].is_valid(header):
        return
    for error in cohort_validator(fmt).iter_errors(header):
        yield from _explain(error, ())


def _patient_schema_errors(patient: Any, path: Path, fmt: str) -> Iterator[tuple[Path, str]]:
    fast = fast_validators(fmt)
    if fast is not None and fast[1].is_valid(patient):
        return
    for error in patient_validator(fmt).iter_errors(patient):
        yield from _explain(error, path)


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


def _unstorable_values(value: Any, prefix: Path = ()) -> Iterator[tuple[Path, str]]:
    """NUL characters, lone surrogates, NaN and infinities in `value`, with their paths."""
    if _surely_storable(value):
        return
    for path, item in walk(value):
        if isinstance(item, str) and _UNSTORABLE.search(item):
            yield (
                (*prefix, *path),
                "Text holds a NUL character or an unpaired surrogate: not storable.",
            )
        elif is_infinite(item):
            yield (*prefix, *path), f"{item} is not a finite number."


def _duplicates(
    items: Iterable[tuple[Path, Any]], what: str, first: dict[Any, Path] | None = None
) -> Iterator[tuple[Path, str]]:
    """An error at every repeat of a value, naming where it first appeared (`first`: the
    values seen so far, kept across calls)."""
    first = {} if first is None else first
    for path, value in items:
        if value is None:
            continue
        if value in first:
            yield path, f"Duplicate {what} {value!s} (already at {render_path(first[value])})."
        else:
            first[value] = path


def _patient_cross_errors(patient: dict, path: Path) -> Iterator[tuple[Path, str]]:
    """Two cycles of a course on one day; a lesion label twice on one scan."""
    for c, course in indexed(patient.get("courses")):
        where = (*path, "courses", c, "cycles")
        yield from _duplicates(
            (
                ((*where, k, "date"), _hashable(cy.get("date")))
                for k, cy in indexed(course.get("cycles"))
            ),
            "cycle date in this course",
        )
    for s, scan in indexed(patient.get("scans")):
        where = (*path, "scans", s, "lesions")
        yield from _duplicates(
            (
                ((*where, n, "lesion"), _hashable(le.get("lesion")))
                for n, le in indexed(scan.get("lesions"))
            ),
            "lesion label on this scan",
        )


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str | int | float) else None
