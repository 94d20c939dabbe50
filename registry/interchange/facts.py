"""One patient's facts as model instances, and their `lutetia-cohort/2` form.

Both sides of the interchange meet here: the export turns a patient loaded
from the database into `PatientFacts`, the import turns a document's patient
into unsaved `PatientFacts`, and `facts_to_dict` writes either as the same
JSON. Comparing the two dicts is how the import knows a patient is unchanged,
so there is exactly one definition of "the same patient".
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from django.db.models import Prefetch, QuerySet

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
from registry.models.treatment import metastases_of

IDENTITY_FIELDS = ("name", "hospital_number", "birth_date")


class Row(SimpleNamespace):
    """One record as plain attributes: what a model instance carries, at a fraction of the cost.

    The import builds the document's records as rows, and `load_facts` reads
    stored ones as rows; `facts_to_dict` reads rows and instances alike.
    """


# Patients per round of prefetch queries: keeps `IN (…)` lists under SQLite's
# variable limit and the memory of a 30,000-patient export bounded.
CHUNK = 1000


@dataclass
class PatientFacts:
    """A patient with everything the interchange format carries, in list order.

    The records are model instances (to update or delete them) or `Row`s
    (new from a document, or read for comparison and export).
    """

    patient: Patient | Row
    site_code: str
    identity: PatientIdentity | Row | None = None
    courses: list[tuple[Any, list[Any]]] = field(default_factory=list)
    labs: list[Any] = field(default_factory=list)
    scans: list[tuple[Any, list[Any]]] = field(default_factory=list)
    progressions: list[Any] = field(default_factory=list)
    adverse_events: list[Any] = field(default_factory=list)
    prior_treatments: list[Any] = field(default_factory=list)


def with_facts(queryset: QuerySet[Patient], *, identity: bool = True) -> QuerySet[Patient]:
    """`queryset` with every fact prefetched as model instances (for the import's updates)."""
    related = ["site", "identity"] if identity else ["site"]
    return queryset.select_related(*related).prefetch_related(
        Prefetch("courses", queryset=Course.objects.order_by("id")),
        Prefetch("courses__cycles", queryset=Cycle.objects.order_by("date", "id")),
        Prefetch("labs", queryset=LabResult.objects.order_by("date", "analyte", "id")),
        Prefetch("scans", queryset=Scan.objects.order_by("date", "id")),
        Prefetch("scans__lesions", queryset=LesionMeasurement.objects.order_by("id")),
        Prefetch(
            "clinical_progressions", queryset=ClinicalProgression.objects.order_by("date", "id")
        ),
        Prefetch("adverse_events", queryset=AdverseEvent.objects.order_by("onset", "id")),
        Prefetch("prior_treatments", queryset=PriorTreatment.objects.order_by("start", "id")),
    )


def _chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _grouped(queryset: QuerySet, key: str) -> dict[int, list[Row]]:
    groups: dict[int, list[Row]] = defaultdict(list)
    for values in queryset.values():
        groups[values[key]].append(Row(**values))
    return groups


def load_facts(
    queryset: QuerySet[Patient], *, identity: bool = True, chunk: int = CHUNK
) -> Iterator[PatientFacts]:
    """The facts of the patients of `queryset`, by study ID, as plain rows (read-only).

    `values()` rows instead of model instances: reading a 10,000-patient
    cohort builds millions of records, and a model instance costs ten times
    more than a row. Nine queries per `chunk` patients.
    """
    ids = list(queryset.order_by("study_id").values_list("id", flat=True))
    patient_fields = [f.attname for f in Patient._meta.concrete_fields]
    identity_fields = [f"identity__{name}" for name in ("id", *IDENTITY_FIELDS)] if identity else []
    for batch in _chunks(ids, chunk):
        patients = (
            Patient.objects.filter(id__in=batch)
            .order_by("study_id")
            .values(*patient_fields, "site__code", *identity_fields)
        )
        courses = _grouped(Course.objects.filter(patient_id__in=batch).order_by("id"), "patient_id")
        cycles = _grouped(
            Cycle.objects.filter(course__patient_id__in=batch).order_by("date", "id"), "course_id"
        )
        labs = _grouped(
            LabResult.objects.filter(patient_id__in=batch).order_by("date", "analyte", "id"),
            "patient_id",
        )
        scans = _grouped(
            Scan.objects.filter(patient_id__in=batch).order_by("date", "id"), "patient_id"
        )
        lesions = _grouped(
            LesionMeasurement.objects.filter(scan__patient_id__in=batch).order_by("id"), "scan_id"
        )
        progressions = _grouped(
            ClinicalProgression.objects.filter(patient_id__in=batch).order_by("date", "id"),
            "patient_id",
        )
        events = _grouped(
            AdverseEvent.objects.filter(patient_id__in=batch).order_by("onset", "id"),
            "patient_id",
        )
        priors = _grouped(
            PriorTreatment.objects.filter(patient_id__in=batch).order_by("start", "id"),
            "patient_id",
        )
        for values in patients:
            ident = None
            if identity and values["identity__id"] is not None:
                ident = Row(**{name: values[f"identity__{name}"] for name in IDENTITY_FIELDS})
            patient = Row(**{name: values[name] for name in patient_fields})
            pk = patient.id
            yield PatientFacts(
                patient=patient,
                site_code=values["site__code"],
                identity=ident,
                courses=[(c, cycles.get(c.id, [])) for c in courses.get(pk, [])],
                labs=labs.get(pk, []),
                scans=[(s, lesions.get(s.id, [])) for s in scans.get(pk, [])],
                progressions=progressions.get(pk, []),
                adverse_events=events.get(pk, []),
                prior_treatments=priors.get(pk, []),
            )


def facts_of(patient: Patient, *, identity: bool = True) -> PatientFacts:
    """The facts of a patient loaded through `with_facts`."""
    ident = None
    if identity:
        try:
            ident = patient.identity
        except PatientIdentity.DoesNotExist:
            ident = None
    return PatientFacts(
        patient=patient,
        site_code=patient.site.code,
        identity=ident,
        courses=[(course, list(course.cycles.all())) for course in patient.courses.all()],
        labs=list(patient.labs.all()),
        scans=[(scan, list(scan.lesions.all())) for scan in patient.scans.all()],
        progressions=list(patient.clinical_progressions.all()),
        adverse_events=list(patient.adverse_events.all()),
        prior_treatments=list(patient.prior_treatments.all()),
    )


# --- the interchange form ----------------------------------------------------


def _text(value: str | None) -> str | None:
    """Blank text in the database is `null` in the document, and the other way round."""
    return value or None


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _ordered(items: Iterable[Any], key) -> list[Any]:
    """Sorted by `key`, ties kept in list order (database id order, or document order)."""
    return [item for _, _, item in sorted((key(x), i, x) for i, x in enumerate(items))]


def _course_start(entry: tuple[Course, list[Cycle]]) -> dt.date:
    _, cycles = entry
    return min((c.date for c in cycles), default=dt.date.max)


def facts_to_dict(
    facts: PatientFacts,
    *,
    deidentified: bool = False,
    version: int = 2,
    identifying: frozenset[str] | set[str] = frozenset(),
) -> dict[str, Any]:
    """A patient in the `lutetia-cohort/2` form, every key present, lists in a fixed order.

    Orders: courses by first cycle date, cycles by date, labs by (date,
    analyte), scans by date, lesions as listed; ties keep list order.
    `version=1` gives only what `lutetia-cohort/1` carries: how a version 1
    import compares a stored patient with the document (the fields version 1
    cannot speak of are left as stored). `deidentified` also sets the custom
    fields marked `identifying` to null.
    """
    p = facts.patient
    ident = None if deidentified else facts.identity
    v2 = version >= 2
    hidden = identifying if deidentified else frozenset()
    out = {
        "study_id": p.study_id,
        "site": facts.site_code,
        "name": _text(ident.name) if ident else None,
        "hospital_number": _text(ident.hospital_number) if ident else None,
        "sex": _text(p.sex),
        "birth_date": _date(ident.birth_date) if ident else None,
        "primary_site": p.primary_site,
        "diagnosis_date": _date(p.diagnosis_date),
        "ki67_percent": p.ki67_percent,
        "last_follow_up": _date(p.last_follow_up),
        "death_date": _date(p.death_date),
    }
    if v2:
        out |= {
            "who_grade": _text(p.who_grade),
            "functional_syndrome": _text(p.functional_syndrome),
            "cause_of_death": _text(p.cause_of_death),
            "prior_treatments": [
                {
                    "type": t.type,
                    "start": _date(t.start),
                    "end": _date(t.end),
                    "note": _text(t.note),
                }
                for t in _ordered(
                    facts.prior_treatments, lambda t: (t.start or dt.date.min, t.type)
                )
            ],
            "custom": _custom(p, hidden),
        }
    out["courses"] = [
        _course_to_dict(course, cycles, v2, hidden)
        for course, cycles in _ordered(facts.courses, _course_start)
    ]
    out["labs"] = [
        {
            "date": _date(lab.date),
            "analyte": lab.analyte,
            "value": lab.value,
            "unit": lab.unit,
            "lln": lab.lln,
            "uln": lab.uln,
        }
        for lab in _ordered(facts.labs, lambda lab: (lab.date, lab.analyte))
    ]
    out["scans"] = [
        {
            "date": _date(scan.date),
            "modality": scan.modality,
            "lesions": [lesion_to_dict(lesion) for lesion in lesions],
            **({"custom": _custom(scan, hidden)} if v2 else {}),
        }
        for scan, lesions in _ordered(facts.scans, lambda entry: entry[0].date)
    ]
    out["clinical_progressions"] = [
        {"date": _date(cp.date), "note": _text(cp.note)}
        for cp in _ordered(facts.progressions, lambda cp: cp.date)
    ]
    out["adverse_events"] = [
        _adverse_event_to_dict(ae, v2) for ae in _ordered(facts.adverse_events, lambda ae: ae.onset)
    ]
    return out


def _custom(record: Any, hidden: frozenset[str] | set[str]) -> dict[str, Any]:
    values = getattr(record, "custom", None) or {}
    return {code: (None if code in hidden else values[code]) for code in sorted(values)}


def _course_to_dict(course: Any, cycles: list[Any], v2: bool, hidden) -> dict[str, Any]:
    out: dict[str, Any] = {
        "phase": course.phase,
        "intended_activity_gbq": course.intended_activity_gbq,
        "stop_reason": _text(course.stop_reason),
    }
    if v2:
        out |= {
            "ecog": course.ecog,
            "karnofsky": course.karnofsky,
            "krenning_score": course.krenning_score,
            "uptake_modality": _text(course.uptake_modality),
            "metastases": metastases_of(course),
            "custom": _custom(course, hidden),
        }
    out["cycles"] = [
        {
            "date": _date(cycle.date),
            "activity_gbq": cycle.administered_gbq,
            "radiopharmaceutical": cycle.radiopharmaceutical,
            "note": _text(cycle.note),
            **(
                {
                    "amino_acids": cycle.amino_acids,
                    "reduced_reason": _text(cycle.reduced_reason),
                    "custom": _custom(cycle, hidden),
                }
                if v2
                else {}
            ),
        }
        for cycle in _ordered(cycles, lambda c: c.date)
    ]
    return out


def _adverse_event_to_dict(ae: Any, v2: bool) -> dict[str, Any]:
    out = {"term": ae.term, "grade": ae.grade, "onset": _date(ae.onset), "note": _text(ae.note)}
    if v2:
        out |= {
            "category": _text(ae.category),
            "resolved": _date(ae.resolved),
            "serious": ae.serious,
            "attribution": _text(ae.attribution),
        }
    return out


def lesion_to_dict(lesion: LesionMeasurement) -> dict[str, Any]:
    return {
        "lesion": lesion.lesion,
        "organ": _text(lesion.organ),
        "lymph_node": lesion.lymph_node,
        "target": lesion.target,
        "new": lesion.new,
        "long_mm": lesion.long_mm,
        "short_mm": lesion.short_mm,
        "status": _text(lesion.status),
    }
