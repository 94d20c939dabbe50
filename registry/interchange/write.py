"""Writing checked patients: bulk inserts, in-place updates and deletes, all audited.

A new patient is inserted with all its facts. An existing patient (same
study ID) gets the document's facts: records that match a stored one are
kept (so their history, ids and any response override stay), changed ones are
updated, missing ones deleted and new ones inserted. Every write leaves a
simple_history row with the importing user and the reason "import"; a patient
whose facts already equal the document's is not written at all.

New rows go in with plain multi-row `INSERT`s (`executemany`) of their values
and of their history rows, ids allocated up front: a 10,000-patient cohort is
a few million rows, and the ORM's per-value preparation would take minutes.
Updates and deletes (rarer, smaller) use the ORM and simple_history's helpers.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from django.db import IntegrityError, connection, models
from django.utils import timezone
from simple_history.utils import bulk_update_with_history, get_history_model_for_model

from registry.interchange.facts import PatientFacts
from registry.interchange.rows import METASTASIS_FIELDS
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

REASON = "import"

T = TypeVar("T", bound=models.Model)

# The fields the interchange format carries, per model: what an update may change
# (version 1; version 2 adds V2_FIELDS).
PATIENT_FIELDS = (
    "site_id",
    "sex",
    "primary_site",
    "diagnosis_date",
    "ki67_percent",
    "last_follow_up",
    "death_date",
)
IDENTITY_FIELDS = ("name", "hospital_number", "birth_date")
COURSE_FIELDS = ("intended_activity_gbq", "stop_reason")
CYCLE_FIELDS = ("administered_gbq", "radiopharmaceutical", "note")
LESION_FIELDS = ("organ", "lymph_node", "target", "new", "long_mm", "short_mm", "status")
V2_FIELDS: dict[type[models.Model], tuple[str, ...]] = {
    Patient: ("who_grade", "functional_syndrome", "cause_of_death", "custom"),
    Course: (
        "ecog",
        "karnofsky",
        "krenning_score",
        "uptake_modality",
        *METASTASIS_FIELDS,
        "custom",
    ),
    Cycle: ("amino_acids", "reduced_reason", "custom"),
    Scan: ("custom",),
}

# Parents before children, so foreign keys point at rows that exist.
CREATE_ORDER: tuple[type[models.Model], ...] = (
    Patient,
    PatientIdentity,
    Course,
    Cycle,
    LabResult,
    Scan,
    LesionMeasurement,
    ClinicalProgression,
    AdverseEvent,
    PriorTreatment,
)
UPDATE_FIELDS: dict[type[models.Model], tuple[str, ...]] = {
    Patient: PATIENT_FIELDS,
    PatientIdentity: IDENTITY_FIELDS,
    Course: COURSE_FIELDS,
    Cycle: CYCLE_FIELDS,
    LesionMeasurement: LESION_FIELDS,
}


def _key_lab(lab: LabResult) -> Hashable:
    return (lab.date, lab.analyte, lab.value, lab.unit, lab.lln, lab.uln)


def _key_progression(cp: ClinicalProgression) -> Hashable:
    return (cp.date, cp.note)


def _key_adverse_event(ae: AdverseEvent) -> Hashable:
    return (ae.term, ae.grade, ae.onset, ae.note)


def _key_adverse_event_v2(ae: AdverseEvent) -> Hashable:
    return (*_key_adverse_event(ae), ae.category, ae.resolved, ae.serious, ae.attribution)


def _key_prior_treatment(t: PriorTreatment) -> Hashable:
    return (t.type, t.start, t.end, t.note)


def _course_key(entry: tuple[Course, list[Cycle]]) -> Hashable:
    course, cycles = entry
    return (course.phase, min((c.date for c in cycles), default=None))


def _scan_key(entry: tuple[Scan, list[LesionMeasurement]]) -> Hashable:
    return (entry[0].date, entry[0].modality)


class ImportWriter:
    """Collects the writes of one import, then runs them as a few bulk statements."""

    def __init__(self, *, by=None, version: int = 2, now=None):
        self.by = by
        self.version = version
        self.now = now or timezone.now()  # an import's batches share one time
        self.creates: dict[type[models.Model], list[models.Model]] = defaultdict(list)
        self.updates: dict[type[models.Model], list[models.Model]] = defaultdict(list)
        self.deletes: list[models.Model] = []  # children before their parents

    # --- planning ---------------------------------------------------------

    def add_patient(self, facts: PatientFacts, site_id: int) -> None:
        """A new patient: every fact is inserted."""
        facts.patient.site_id = site_id
        self.creates[Patient].append(facts.patient)
        ident = facts.identity
        if ident is not None and (ident.name or ident.hospital_number or ident.birth_date):
            self.creates[PatientIdentity].append(ident)
        for course, cycles in facts.courses:
            self.creates[Course].append(course)
            self.creates[Cycle].extend(cycles)
        self.creates[LabResult].extend(facts.labs)
        for scan, lesions in facts.scans:
            self.creates[Scan].append(scan)
            self.creates[LesionMeasurement].extend(lesions)
        self.creates[ClinicalProgression].extend(facts.progressions)
        self.creates[AdverseEvent].extend(facts.adverse_events)
        self.creates[PriorTreatment].extend(facts.prior_treatments)

    def fields(self, model: type[models.Model]) -> tuple[str, ...]:
        """What an update of `model` may change in this document's version."""
        extra = V2_FIELDS.get(model, ()) if self.version >= 2 else ()
        return (*UPDATE_FIELDS.get(model, ()), *extra)

    def replace_patient(self, old: PatientFacts, new: PatientFacts, site_id: int) -> bool:
        """Plan the writes that make `old` (stored) equal `new` (document); True if any."""
        before = self._count()
        patient = old.patient
        new.patient.site_id = site_id
        self._update(patient, new.patient, self.fields(Patient))

        if old.identity is not None:
            self._update(old.identity, new.identity, IDENTITY_FIELDS)
        elif new.identity is not None and any(getattr(new.identity, f) for f in IDENTITY_FIELDS):
            new.identity.patient = patient
            self.creates[PatientIdentity].append(new.identity)

        def add_course(entry: tuple[Course, list[Cycle]]) -> None:
            entry[0].patient = patient
            self.creates[Course].append(entry[0])
            self.creates[Cycle].extend(entry[1])

        def drop_course(entry: tuple[Course, list[Cycle]]) -> None:
            self.deletes.extend([*entry[1], entry[0]])

        for (course, cycles), (doc_course, doc_cycles) in _match(
            old.courses, new.courses, _course_key, add_course, drop_course
        ):
            self._update(course, doc_course, self.fields(Course))
            for cycle, doc_cycle in _match(
                cycles,
                doc_cycles,
                lambda c: c.date,
                lambda c, course=course: self._create_child(Cycle, c, course=course),
                self.deletes.append,
            ):
                self._update(cycle, doc_cycle, self.fields(Cycle))

        def add_scan(entry: tuple[Scan, list[LesionMeasurement]]) -> None:
            entry[0].patient = patient
            self.creates[Scan].append(entry[0])
            self.creates[LesionMeasurement].extend(entry[1])

        def drop_scan(entry: tuple[Scan, list[LesionMeasurement]]) -> None:
            self.deletes.extend([*entry[1], entry[0]])

        for (scan, lesions), (doc_scan, doc_lesions) in _match(
            old.scans, new.scans, _scan_key, add_scan, drop_scan
        ):
            self._update(scan, doc_scan, self.fields(Scan))
            for lesion, doc_lesion in _match(
                lesions,
                doc_lesions,
                lambda le: le.lesion,
                lambda le, scan=scan: self._create_child(LesionMeasurement, le, scan=scan),
                self.deletes.append,
            ):
                self._update(lesion, doc_lesion, LESION_FIELDS)

        # Records without a natural key are kept when identical, else replaced.
        v2 = self.version >= 2
        keyed = [
            (LabResult, _key_lab, old.labs, new.labs),
            (ClinicalProgression, _key_progression, old.progressions, new.progressions),
            (
                AdverseEvent,
                _key_adverse_event_v2 if v2 else _key_adverse_event,
                old.adverse_events,
                new.adverse_events,
            ),
        ]
        if v2:  # a version 1 document says nothing of prior treatments: they stay
            keyed.append(
                (PriorTreatment, _key_prior_treatment, old.prior_treatments, new.prior_treatments)
            )
        for model, key, old_items, new_items in keyed:
            list(
                _match(
                    old_items,
                    new_items,
                    key,
                    lambda item, model=model: self._create_child(model, item, patient=patient),
                    self.deletes.append,
                )
            )
        return self._count() != before

    def _create_child(self, model: type[T], item: T, **parent: models.Model) -> None:
        for name, value in parent.items():
            setattr(item, name, value)
        self.creates[model].append(item)

    def _update(self, stored: models.Model, incoming: models.Model, fields: Iterable[str]) -> None:
        changed = False
        for name in fields:
            value = getattr(incoming, name)
            if getattr(stored, name) != value:
                setattr(stored, name, value)
                changed = True
        if changed:
            stored.version += 1
            stored.updated_at = self.now
            self.updates[type(stored)].append(stored)

    def _count(self) -> int:
        return (
            sum(map(len, self.creates.values()))
            + sum(map(len, self.updates.values()))
            + len(self.deletes)
        )

    # --- writing ----------------------------------------------------------

    def write(self, progress: Callable[[float], None] | None = None) -> None:
        """Run the planned writes (inside the caller's transaction)."""
        for obj in self.deletes:
            obj._history_user = self.by
            obj._change_reason = REASON
            obj.delete()
        total = sum(map(len, self.creates.values())) + sum(map(len, self.updates.values()))
        done = 0
        for model in CREATE_ORDER:
            rows = self.creates.get(model, [])
            _allocate_ids(model, rows)
            for start in range(0, len(rows), INSERT_CHUNK):
                chunk = rows[start : start + INSERT_CHUNK]
                _insert_with_history(model, chunk, now=self.now, by=self.by)
                done += len(chunk)
                if progress:
                    progress(done / total)
        for model, objs in self.updates.items():
            bulk_update_with_history(
                objs,
                model,
                [*self.fields(model), "version", "updated_at"],
                default_user=self.by,
                default_change_reason=REASON,
            )
            done += len(objs)
            if progress:
                progress(done / total)


INSERT_CHUNK = 20_000


def _allocate_ids(model: type[models.Model], rows: list[Any]) -> None:
    """Give new rows their primary keys before inserting, so children can point at them.

    PostgreSQL hands out sequence values; SQLite holds the database's write
    lock for the whole import transaction (`BEGIN IMMEDIATE`), so the next ids
    after both the largest id and the AUTOINCREMENT high-water mark are ours.
    """
    if not rows:
        return
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The sequence is looked up once, not once per id, and usually the ids are
            # one unbroken run (nobody else drew meanwhile): then only its ends come back,
            # not a million ids (together 5.4 s -> 0.9 s of 3,000 patients, issue 17).
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            (sequence,) = cursor.fetchone()
            cursor.execute(
                "SELECT min(pk), max(pk), CASE WHEN max(pk) - min(pk) + 1 = count(*) "
                "THEN NULL ELSE array_agg(pk ORDER BY pk) END FROM ("
                "SELECT nextval(%s::regclass) AS pk FROM generate_series(1, %s)) AS drawn",
                [sequence, len(rows)],
            )
            first, last, scattered = cursor.fetchone()
            ids = range(first, last + 1) if scattered is None else scattered
        else:
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT MAX(id) FROM {quoted}")
            top = cursor.fetchone()[0] or 0
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            seq = cursor.fetchone()
            first = max(top, seq[0] if seq else 0) + 1
            ids = range(first, first + len(rows))
    for row, pk in zip(rows, ids, strict=True):
        row.id = pk


def _insert_with_history(model: type[models.Model], rows: list[Any], *, now, by) -> None:
    """INSERT the rows and their "+" history rows (who: `by`, why: "import")."""
    stamp = connection.ops.adapt_datetimefield_value(now)
    iso_dates = connection.vendor == "sqlite"  # as Django's SQLite backend stores them
    plan = []
    for field in model._meta.concrete_fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            fallback = stamp
        else:
            fallback = None if field.is_relation else field.get_default()
        kind = field.get_internal_type()
        # How a value is written as text: an ISO date (SQLite), JSON (custom values, for
        # executemany and COPY alike), or as it is.
        as_text = "date" if iso_dates and kind == "DateField" else ""
        if kind == "JSONField":
            as_text = "json"
        plan.append((field.attname, field.name if field.is_relation else None, fallback, as_text))
    fields = model._meta.concrete_fields
    history = get_history_model_for_model(model)
    history_fields = [f for f in history._meta.concrete_fields if f.attname != "history_id"]
    # A history row is the row's values plus who, when, why and "+" (created).
    extra = {
        "history_date": stamp,
        "history_change_reason": REASON,
        "history_type": "+",
        "history_user_id": by.pk if by is not None else None,
    }
    position = {f.attname: i for i, f in enumerate(fields)}
    position.update({name: len(fields) + i for i, name in enumerate(extra)})
    picks = [position[f.attname] for f in history_fields]
    tail = list(extra.values())

    values, history_values = [], []
    for row in rows:
        attrs = row.__dict__
        record = []
        for attname, parent, fallback, as_text in plan:
            if attname in attrs:
                value = attrs[attname]
            elif parent is not None and parent in attrs:
                value = attrs[parent].id  # the parent row, new or stored
            else:
                value = fallback
            if as_text and value is not None:
                value = json.dumps(value) if as_text == "json" else value.isoformat()
            record.append(value)
        values.append(tuple(record))
        record += tail
        history_values.append(tuple([record[i] for i in picks]))
    _executemany(model._meta.db_table, [f.column for f in fields], values)
    _executemany(history._meta.db_table, [f.column for f in history_fields], history_values)


def _executemany(table: str, columns: list[str], values: list[tuple]) -> None:
    """Insert many rows: `COPY` on PostgreSQL (row-by-row INSERTs crawl), else executemany."""
    quote = connection.ops.quote_name
    names = ", ".join(map(quote, columns))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            import psycopg

            try:
                with cursor.cursor.copy(f"COPY {quote(table)} ({names}) FROM STDIN") as copy:
                    for row in values:
                        copy.write_row(row)
            except psycopg.errors.IntegrityError as exc:
                # COPY goes around Django's cursor wrapper: translate as it would, so a
                # concurrent import of the same new study IDs answers "retry" (documents).
                raise IntegrityError(str(exc)) from exc
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(
                f"INSERT INTO {quote(table)} ({names}) VALUES ({placeholders})", values
            )


def _match(
    stored: list[Any],
    incoming: list[Any],
    key: Callable[[Any], Hashable],
    add: Callable[[Any], None],
    drop: Callable[[Any], None],
) -> Iterable[tuple[Any, Any]]:
    """Pair stored and incoming records by `key` (in order among equal keys).

    Unpaired incoming records are passed to `add`, unpaired stored ones to
    `drop`; the pairs are returned for the caller to compare field by field.
    """
    waiting: dict[Hashable, list[Any]] = defaultdict(list)
    for item in stored:
        waiting[key(item)].append(item)
    pairs = []
    for item in incoming:
        candidates = waiting.get(key(item))
        if candidates:
            pairs.append((candidates.pop(0), item))
        else:
            add(item)
    for leftovers in waiting.values():
        for item in leftovers:
            drop(item)
    return pairs
