"""`lutetia-cohort/1` and `/2` import, `/2` export (CONTRACT.md, "Interchange format").

- `validate_document(doc)` lists every error with its JSON path;
- `import_document(doc, by=…)` writes a valid document in one transaction,
  all or nothing, matching patients on `study_id`; importing the same
  document twice changes nothing the second time;
- `export_document(queryset)` writes patients back as `lutetia-cohort/2`, so
  export → import into an empty registry → export gives the same document.

A version 1 document cannot speak of version 2's fields: importing one over
a stored patient changes only what version 1 carries, and leaves grade,
performance status, prior treatments, custom values … as they are.

The checks live in `build` and `rows`, the writes in `write`, who may import
what in `scope`, and the one definition of a patient's interchange form in
`facts`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.db.models import QuerySet

from registry.derive.planner import analyze
from registry.interchange import importing
from registry.interchange.build import ImportError, check_document, header_of
from registry.interchange.facts import facts_to_dict, load_facts
from registry.interchange.importing import ImportResult, Progress, import_patients
from registry.interchange.schema import FORMAT
from registry.models import (
    AdverseEvent,
    ClinicalProgression,
    Course,
    Cycle,
    LabResult,
    LesionMeasurement,
    Patient,
    PatientIdentity,
    PatientState,
    PriorTreatment,
    Scan,
    Site,
)
from registry.models.custom import CustomField

__all__ = [
    "FORMAT",
    "ImportError",
    "ImportResult",
    "export_document",
    "import_document",
    "import_file",
    "validate_document",
]


def validate_document(doc: Any) -> list[ImportError]:
    """Every error in `doc`, each with its JSON path; empty if it may be imported."""
    return check_document(doc)


def import_document(
    doc: Any,
    *,
    by=None,
    progress: Progress | None = None,
    validate: bool = True,
    check_scope: bool = False,
    consume: bool = False,
) -> ImportResult:
    """Import `doc` all or nothing; patients match on `study_id`.

    `progress(fraction)` is called as the work advances. `validate=False` is
    only for documents this code built itself (see `check_document`).
    `check_scope` refuses, inside the write transaction and with the matched
    patients locked, any site or patient beyond `by`'s reach
    (`registry.interchange.scope`); the API's import jobs use it, the
    operator's `manage.py import_cohort` does not. `consume=True` lets each
    patient's JSON go (`None` in its place) once its batch is written: for
    callers that parsed the document for this import alone.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("patients"), list):
        return ImportResult(errors=check_document(doc, validate=validate))
    patients = doc["patients"]
    total = len(patients)
    if progress:
        progress(0.0)

    def numbered() -> Iterator[tuple[int, Any]]:
        for i in range(total):
            raw = patients[i]
            if consume:
                patients[i] = None
            yield i, raw

    result = import_patients(
        header_of(doc),
        numbered(),
        by=by,
        progress=(lambda done: progress(0.99 * done / total)) if progress else None,
        validate=validate,
        check_scope=check_scope,
    )
    return _analyzed(result, progress)


def import_file(
    path: str | Path, *, by=None, progress: Progress | None = None, check_scope: bool = False
) -> ImportResult:
    """`import_document` of a JSON file, streamed a batch of patients at a time: the
    memory an import takes does not grow with the file (`importing.import_file`)."""
    if progress:
        progress(0.0)
    result = importing.import_file(path, by=by, progress=progress, check_scope=check_scope)
    return _analyzed(result, progress)


def _analyzed(result: ImportResult, progress: Progress | None) -> ImportResult:
    if result.created + result.updated >= ANALYZE_AFTER_PATIENTS:
        analyze_fact_tables()
    if progress and result.ok:
        progress(1.0)
    return result


# An import that writes this many patients refreshes PostgreSQL's planner statistics:
# autovacuum gets to it only later, and until then the dashboard's queries plan for
# the empty tables they were (seen: 5.8 s before ANALYZE, 0.7 s after, issue 17).
ANALYZE_AFTER_PATIENTS = 500


def analyze_fact_tables() -> None:
    """ANALYZE the tables an import fills and the recompute reads (PostgreSQL only)."""
    analyze(
        Patient,
        PatientIdentity,
        Course,
        Cycle,
        LabResult,
        Scan,
        LesionMeasurement,
        AdverseEvent,
        ClinicalProgression,
        PriorTreatment,
        PatientState,
    )


def export_fields() -> list[dict[str, Any]]:
    """Every custom-field definition, retired ones too (their values are exported)."""
    return [
        {
            "code": f.code,
            "level": f.level,
            "type": f.type,
            "label": f.label,
            "unit": f.unit or None,
            "minimum": f.minimum,
            "maximum": f.maximum,
            "choices": list(f.choices or []),
            "identifying": f.identifying,
            "help": f.help or None,
        }
        for f in CustomField.objects.order_by("level", "position", "code")
    ]


def export_document(
    queryset: QuerySet[Patient] | None = None, *, deidentified: bool = False
) -> dict[str, Any]:
    """The patients of `queryset` (default: all) as a `lutetia-cohort/2` document.

    Patients by study ID; facts in the fixed order of `facts_to_dict`.
    `deidentified` leaves name, hospital number and birth date null and does
    not even read them, and sets custom fields marked identifying to null.
    """
    queryset = Patient.objects.all() if queryset is None else queryset
    fields = export_fields()
    hidden = {f["code"] for f in fields if f["identifying"]}
    patients = [
        facts_to_dict(facts, deidentified=deidentified, identifying=hidden)
        for facts in load_facts(queryset, identity=not deidentified)
    ]
    codes = sorted({p["site"] for p in patients})
    sites = [
        {"code": code, "name": name}
        for code, name in Site.objects.filter(code__in=codes).values_list("code", "name")
    ]
    return {"format": FORMAT, "sites": sites, "fields": fields, "patients": patients}
