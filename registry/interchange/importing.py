"""An import's one path, a batch of patients at a time: check, compare, write (issue 17).

`import_patients(header, numbered)` takes a document's header (every key but
its patients) and its patients one by one — from a parsed document
(`documents.import_document`) or streamed from a file (`import_file`, which
never holds more than a batch of patients). Inside one transaction each batch
of `BATCH` patients is checked (`build.DocumentChecker`), compared with what
is stored, and written; once any error is found nothing more is written, the
rest is only checked so that every error is reported, and the transaction is
rolled back: all or nothing, as before, whatever the document's size.

What a refusal reports, in order of precedence: the document's own errors;
else the places beyond the importing user's reach (`scope`); else the
patients locked by a verified course.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from registry.collector import collection_paused
from registry.derive.schedule import schedule_recompute
from registry.interchange.build import DocumentChecker, ImportError
from registry.interchange.facts import CHUNK, PatientFacts, facts_of, facts_to_dict, load_facts
from registry.interchange.facts import with_facts as with_stored_facts
from registry.interchange.jsonstream import DocumentStream, StreamError
from registry.interchange.scope import scope_errors
from registry.interchange.write import ImportWriter
from registry.models import Patient, Site
from registry.models.custom import CustomField, Definition
from registry.models.locking import locked_patient_ids

Progress = Callable[[float], None]

# Patients checked and written together: a batch's documents, rows and planned writes
# are what an import holds in memory (~100 MB for 1,000 demo patients).
BATCH = CHUNK


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[ImportError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class _Refused(Exception):
    def __init__(self, errors: list[ImportError]):
        self.errors = errors


class _ReadAgain(Exception):
    """The header went on after the patients: check them again knowing all of it."""

    header: dict | None = None


def _as_errors(found: dict[str, list[str]]) -> list[ImportError]:
    return [ImportError(path, m) for path, messages in found.items() for m in messages]


def import_patients(
    header: dict,
    numbered: Iterable[tuple[int, Any]],
    *,
    by=None,
    progress: Callable[[int], None] | None = None,
    validate: bool = True,
    check_scope: bool = False,
    complete: Callable[[], bool] | None = None,
) -> ImportResult:
    """Import the patients `numbered` yields (`(index, patient JSON)`) under `header`.

    `progress(patients_done)` is called after each batch. `complete()`, asked
    once every patient was read, says whether `header` held the whole header
    (False: the import is rolled back and `_ReadAgain` raised). Raises
    `StreamError` (rolled back) if the patients' source is no JSON.
    """
    checker = DocumentChecker(header, validate=validate)
    run = _Run(checker, by=by, check_scope=check_scope, sites=header.get("sites"))
    try:
        with transaction.atomic():
            run.start()
            batches = _batches(numbered)
            # Each batch read, checked and written with the garbage collector paused
            # (`registry.collector`: ~20 % of an import); it runs between batches, so
            # memory stays flat.
            while True:
                with collection_paused():
                    batch = next(batches, None)
                    if batch is None:
                        break
                    run.batch(batch)
                if progress:
                    progress(batch[-1][0] + 1)
            if complete is not None and not complete():
                raise _ReadAgain
            if refusal := run.refusal():
                raise _Refused(refusal)
            run.finish()
            if run.touched:
                schedule_recompute(run.touched)
    except _Refused as refused:
        return ImportResult(errors=refused.errors)
    except IntegrityError as exc:
        # Only a concurrent write can get here: the checks mirror every constraint.
        # Report it like any other error instead of failing loudly.
        return ImportResult(
            errors=[ImportError("$", f"The registry changed during the import ({exc}); retry.")]
        )
    return run.result


def import_file(
    path: str | Path, *, by=None, progress: Progress | None = None, check_scope: bool = False
) -> ImportResult:
    """Import a document from a file, streamed: memory does not grow with the file.

    A document whose `format`, `sites` or `fields` come after its patients
    is read twice: the first pass, rolled back, learns them.
    """
    options = {"by": by, "progress": progress, "check_scope": check_scope}
    try:
        return _import_stream(path, None, **options)
    except _ReadAgain as again:
        return _import_stream(path, again.header, **options)


def _import_stream(
    path: str | Path, known: dict | None, *, by, progress: Progress | None, check_scope: bool
) -> ImportResult:
    with DocumentStream(path) as stream:
        try:
            read = stream.open()
            if not isinstance(read.get("patients"), list):  # the whole document was read
                return import_patients(read, (), by=by, check_scope=check_scope)

            def advanced(done: int) -> None:
                if progress:
                    progress(0.99 * stream.fraction_read())

            return import_patients(
                known or read,
                stream.patients(),
                by=by,
                progress=advanced,
                check_scope=check_scope,
                complete=lambda: known is not None or not stream.late_keys,
            )
        except _ReadAgain as again:
            again.header = dict(stream.header)
            raise
        except StreamError as error:
            return ImportResult(errors=[ImportError("$", str(error))])


def _batches(numbered: Iterable[tuple[int, Any]]) -> Iterator[list[tuple[int, Any]]]:
    iterator = iter(numbered)
    while batch := list(itertools.islice(iterator, BATCH)):
        yield batch


class _Run:
    """One import's state across its batches: what was written, what was refused."""

    def __init__(self, checker: DocumentChecker, *, by, check_scope: bool, sites: Any):
        self.checker = checker
        self.by = by
        self.check_scope = check_scope
        self.sites = sites
        self.result = ImportResult()
        self.touched: list[int] = []
        self.out_of_scope: dict[str, list[str]] = {}
        self.locked: dict[str, list[str]] = {}
        self.now = timezone.now()
        self.site_ids: dict[str, int] = {}
        self.fields_written = False

    def refusal(self) -> list[ImportError]:
        if not self.checker.ok:
            return self.checker.errors()
        return _as_errors(self.out_of_scope or self.locked)

    def writing(self) -> bool:
        return self.checker.ok and not self.out_of_scope and not self.locked

    def start(self) -> None:
        """Refuse the document's sites beyond the user's reach (before any patient)."""
        if self.check_scope:
            self.out_of_scope |= scope_errors(self.by, {"sites": self.sites}, lock=True)

    def finish(self) -> None:
        """A valid document's sites and fields exist even if it has no patients."""
        if not self.fields_written:
            ensure_fields(self.checker.fields, by=self.by)
            self.fields_written = True
        self.site_ids |= ensure_sites(self.checker.sites, set())

    def batch(self, batch: list[tuple[int, Any]]) -> None:
        if self.check_scope:
            part = {"patients": [raw for _, raw in batch]}
            found = scope_errors(self.by, part, lock=True, start=batch[0][0])
            for path, messages in found.items():
                self.out_of_scope.setdefault(path, messages)
        built = self.checker.check(batch)
        if self.writing():
            self._write(built)

    def _write(self, built: list[tuple[int, PatientFacts]]) -> None:
        checker = self.checker
        if not self.fields_written:
            ensure_fields(checker.fields, by=self.by)
            self.fields_written = True
        missing = {f.site_code for _, f in built} - set(self.site_ids)
        if missing:
            self.site_ids |= ensure_sites(checker.sites, missing)
        version = checker.version
        writer = ImportWriter(by=self.by, version=version, now=self.now)
        study_ids = [f.patient.study_id for _, f in built]
        stored = {
            f.patient.study_id: facts_to_dict(f, version=version)
            for f in load_facts(Patient.objects.filter(study_id__in=study_ids))
        }
        new, replaced, differing = [], [], {}
        for i, facts in built:
            old = stored.get(facts.patient.study_id)
            if old is None:
                writer.add_patient(facts, self.site_ids[facts.site_code])
                new.append(facts.patient)
            elif old != facts_to_dict(facts, version=version):
                differing[facts.patient.study_id] = (i, facts)
            else:
                self.result.unchanged += 1
        if differing and (locked := _locked(differing)):
            self.locked |= locked
            return
        # Only patients that differ are loaded as model instances, locked, and diffed.
        changed = Patient.objects.filter(study_id__in=list(differing))
        for patient in with_stored_facts(changed.select_for_update(of=("self",))):
            facts = differing[patient.study_id][1]
            if writer.replace_patient(facts_of(patient), facts, self.site_ids[facts.site_code]):
                replaced.append(patient)
            else:  # the same facts in another order
                self.result.unchanged += 1
        writer.write()
        self.result.created += len(new)
        self.result.updated += len(replaced)
        self.touched += [p.id for p in new + replaced]


def _locked(differing: dict[str, tuple[int, PatientFacts]]) -> dict[str, list[str]]:
    """An import may not change a patient with a verified (locked) course; one whose
    facts equal the document's passes. The refusal for each, at its path."""
    ids = dict(Patient.objects.filter(study_id__in=list(differing)).values_list("id", "study_id"))
    return {
        f"patients[{differing[ids[pid]][0]}]": [
            f"Patient {ids[pid]} has a verified course: it is locked until an "
            "admin unlocks it, so this import may not change the patient."
        ]
        for pid in locked_patient_ids(list(ids))
    }


DEFINITION_ATTRIBUTES = ("label", "unit", "minimum", "maximum", "identifying", "help")


def ensure_fields(fields: list[Definition], *, by) -> None:
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


def ensure_sites(named: dict[str, str], used: set[str]) -> dict[str, int]:
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
