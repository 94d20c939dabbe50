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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from registry.derive.planner import analyze
from registry.derive.schedule import schedule_recompute
from registry.interchange.build import ImportError, check_document
from registry.interchange.facts import CHUNK, facts_of, facts_to_dict, load_facts, with_facts
from registry.interchange.schema import FORMAT
from registry.interchange.scope import scope_errors
from registry.interchange.write import ImportWriter
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
from registry.models.custom import CustomField, Definition
from registry.models.locking import locked_patient_ids

__all__ = [
    "FORMAT",
    "ImportError",
    "ImportResult",
    "export_document",
    "import_document",
    "validate_document",
]

Progress = Callable[[float], None]


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[ImportError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_document(doc: Any) -> list[ImportError]:
    """Every error in `doc`, each with its JSON path; empty if it may be imported."""
    return check_document(doc).errors


class _Refused(Exception):
    def __init__(self, errors: dict[str, list[str]]):
        self.errors = [ImportError(path, m) for path, messages in errors.items() for m in messages]


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

    `progress(fraction)` is called as the work advances (checking is the
    first third). `validate=False` is only for documents this code built
    itself (see `check_document`). `check_scope` refuses, inside the write
    transaction and with the matched patients locked, any site or patient
    beyond `by`'s reach (`registry.interchange.scope`); the API's import jobs
    use it, the operator's `manage.py import_cohort` does not. `consume=True`
    lets the document's patients go as they are built (`check_document`): for
    callers that parsed the document for this import alone.
    """
    checking = (lambda fraction: progress(fraction / 3)) if progress else None
    checked = check_document(doc, validate=validate, progress=checking, consume=consume)
    if checked.errors:
        return ImportResult(errors=checked.errors)
    if progress:
        progress(1 / 3)
    try:
        with transaction.atomic():
            if check_scope and (refused := scope_errors(by, doc, lock=True)):
                raise _Refused(refused)
            result, touched = _write(checked, by=by, progress=progress)
            if touched:
                schedule_recompute(touched)
    except _Refused as refused:
        return ImportResult(errors=refused.errors)
    except IntegrityError as exc:
        # Only a concurrent write can get here: the checks above mirror every
        # constraint. Report it like any other error instead of failing loudly.
        return ImportResult(
            errors=[ImportError("$", f"The registry changed during the import ({exc}); retry.")]
        )
    if result.created + result.updated >= ANALYZE_AFTER_PATIENTS:
        analyze_fact_tables()
    if progress:
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


def _write(checked, *, by, progress: Progress | None) -> tuple[ImportResult, list[int]]:
    site_ids = _ensure_sites(checked.sites, {f.site_code for f in checked.patients})
    _ensure_fields(checked.fields, by=by)
    version = checked.version
    writer = ImportWriter(by=by, version=version)
    result = ImportResult()
    new, replaced, differing = [], [], {}
    study_ids = [facts.patient.study_id for facts in checked.patients]
    stored = {}
    for start in range(0, len(study_ids), CHUNK):
        batch = Patient.objects.filter(study_id__in=study_ids[start : start + CHUNK])
        stored.update(
            {f.patient.study_id: facts_to_dict(f, version=version) for f in load_facts(batch)}
        )
    for facts in checked.patients:
        old = stored.get(facts.patient.study_id)
        if old is None:
            writer.add_patient(facts, site_ids[facts.site_code])
            new.append(facts.patient)
        elif old != facts_to_dict(facts, version=version):
            differing[facts.patient.study_id] = facts
        else:
            result.unchanged += 1
    refuse_locked(checked, differing)
    # Only patients that differ are loaded as model instances, locked, and diffed.
    changed_ids = list(differing)
    for start in range(0, len(changed_ids), CHUNK):
        batch = Patient.objects.filter(study_id__in=changed_ids[start : start + CHUNK])
        for patient in with_facts(batch.select_for_update(of=("self",))):
            facts = differing[patient.study_id]
            if writer.replace_patient(facts_of(patient), facts, site_ids[facts.site_code]):
                replaced.append(patient)
            else:  # the same facts in another order
                result.unchanged += 1

    def writing(fraction: float) -> None:
        if progress:
            progress(1 / 3 + fraction * 2 / 3 * 0.99)

    writer.write(progress=writing)
    result.created, result.updated = len(new), len(replaced)
    return result, [p.id for p in new + replaced]


def refuse_locked(checked, differing: dict) -> None:
    """An import may not change a patient with a verified (locked) course; one whose
    facts equal the document's passes. Raises `_Refused` naming each patient's path."""
    if not differing:
        return
    ids = dict(Patient.objects.filter(study_id__in=list(differing)).values_list("id", "study_id"))
    locked = {ids[pid] for pid in locked_patient_ids(list(ids))}
    if not locked:
        return
    errors = {
        f"patients[{i}]": [
            f"Patient {facts.patient.study_id} has a verified course: it is locked until an "
            "admin unlocks it, so this import may not change the patient."
        ]
        for i, facts in enumerate(checked.patients)
        if facts.patient.study_id in locked
    }
    raise _Refused(errors)


DEFINITION_ATTRIBUTES = ("label", "unit", "minimum", "maximum", "identifying", "help")


def _ensure_fields(fields: list[Definition], *, by) -> None:
    """Create the document's custom fields the registry lacks; update the others'
    label, unit, range, choices, help and `identifying` (audited). A field retired
    here stays retired; code, level and type were checked to match."""
    if not fields:
        return
    stored = {f.code: f for f in CustomField.objects.filter(code__in=[d.code for d in fields])}
    for d in fields:
        record = stored.get(d.code) or CustomField(code=d.code, level=d.level, type=d.type)
        choices = [{"code": code, "label": label} for code, label in d.choices]
        changed = record.pk is None or record.choices != choices
        for name in DEFINITION_ATTRIBUTES:
            value = getattr(d, name)
            if getattr(record, name) != value:
                setattr(record, name, value)
                changed = True
        if changed:
            record.choices = choices
            record._history_user = by
            record._change_reason = "import"
            record.save()


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


def _ensure_sites(named: dict[str, str], used: set[str]) -> dict[str, int]:
    """Site ids by code, creating the document's sites the registry lacks.

    **Decision**: an existing site keeps its name; a document from another
    hospital does not rename ours.
    """
    codes = set(named) | used
    ids = dict(Site.objects.filter(code__in=codes).values_list("code", "id"))
    missing = [Site(code=code, name=named.get(code, "")) for code in sorted(codes - set(ids))]
    for site in Site.objects.bulk_create(missing):
        ids[site.code] = site.pk
    if len(ids) < len(codes):  # a backend that does not return ids from bulk_create
        ids = dict(Site.objects.filter(code__in=codes).values_list("code", "id"))
    return ids


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
