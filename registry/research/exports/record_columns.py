"""Export columns of the `lutetia-cohort/2` record, and of the centre's own (custom) fields.

Custom fields become columns `custom_<code>` of the table of their level
(patients, courses, cycles, scans); the cohort's `patients` table also gets
the course-level ones of the cohort's course. **Decisions**: a field marked
identifying is left out of research exports altogether (research roles never
see it; the interchange's de-identified export writes it as null); retired
fields are exported (their values are kept); custom dates are shifted like
every date of the export's level.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from registry.models import (
    AdverseEventCategory,
    Attribution,
    LiverLoad,
    PriorTreatmentType,
    ReducedReason,
    UptakeModality,
)
from registry.models.custom import Definition, FieldType, stored_definitions
from registry.models.treatment import METASTASIS_SITES
from registry.research.exports.columns import BOOLEAN_CODES, Column, Table, coded

METASTASIS_WORDS = {
    "liver": "liver",
    "bone": "bone",
    "lymph_node": "lymph node",
    "peritoneal": "peritoneal",
    "lung": "lung",
    "other": "other",
}


def course_record_columns(prefix: str, what: str = "the course") -> tuple[Column, ...]:
    """The state at the start of a course (`prefix` "course__" from a course's row)."""
    return (
        Column("ecog", f"ECOG performance status at the start of {what} (0–4)", "integer",
               source=f"{prefix}ecog"),
        Column("karnofsky", f"Karnofsky performance status at the start of {what}", "integer",
               "%", source=f"{prefix}karnofsky"),
        Column("krenning_score", f"Uptake (Krenning score 0–4) before {what}", "integer",
               source=f"{prefix}krenning_score"),
        coded("uptake_modality", "Imaging the uptake was scored on", UptakeModality,
              source=f"{prefix}uptake_modality"),
        *(
            Column(f"{site}_metastases", f"{METASTASIS_WORDS[site].capitalize()} metastases at "
                   f"the start of {what}: 1 = yes, 0 = no, blank = not recorded", "boolean",
                   codes=BOOLEAN_CODES, source=f"{prefix}{site}_metastases")
            for site in METASTASIS_SITES
        ),
        coded("liver_load", "Liver tumour load (share of the liver)", LiverLoad,
              source=f"{prefix}liver_load"),
    )  # fmt: skip


CYCLE_RECORD_COLUMNS = (
    Column(
        "amino_acids",
        "Kidney protection (amino acids) given: 1 = yes, 0 = no, blank = not recorded",
        "boolean",
        codes=BOOLEAN_CODES,
    ),
    coded("reduced_reason", "Why the activity was reduced", ReducedReason),
)

ADVERSE_EVENT_RECORD_COLUMNS = (
    coded("category", "Late-toxicity category (blank = none)", AdverseEventCategory),
    Column("resolved", "Date the event resolved", "date"),
    Column("serious", "Serious adverse event: 1 = yes, 0 = no", "boolean", codes=BOOLEAN_CODES),
    coded("attribution", "Relation to PRRT", Attribution),
)

PRIOR_TREATMENT_COLUMNS = (
    coded("type", "Treatment", PriorTreatmentType),
    Column("start", "Start of the treatment", "date"),
    Column("end", "End of the treatment (blank = ongoing or not recorded)", "date"),
)

COLUMN_TYPES = {
    FieldType.NUMBER: "number",
    FieldType.INTEGER: "integer",
    FieldType.BOOLEAN: "boolean",
    FieldType.DATE: "date",
    FieldType.TEXT: "string",
    FieldType.CHOICE: "code",
}


def _custom_value(source: str, d: Definition):
    def derive(row: dict[str, Any], scope) -> Any:
        value = (row.get(source) or {}).get(d.code)
        if value is not None and d.type == FieldType.DATE:
            try:
                return dt.date.fromisoformat(value)
            except (TypeError, ValueError):
                return None
        return value

    return derive


def custom_columns(level: str, source: str, *, cohort_only: bool = False) -> list[Column]:
    """The export columns of one level's custom fields, read from the JSON at `source`."""
    columns = []
    for d in sorted(stored_definitions().values(), key=lambda d: (d.position, d.code)):
        if d.level != level or d.identifying:
            continue
        kind = COLUMN_TYPES[d.type]
        label = f"{d.label} (the centre's own field {d.code}{', retired' if d.retired else ''})"
        codes = BOOLEAN_CODES if kind == "boolean" else dict(d.choices) if kind == "code" else None
        columns.append(
            Column(
                f"custom_{d.code}",
                label,
                kind,
                d.unit,
                codes=codes,
                derive=_custom_value(source, d),
                cohort_only=cohort_only,
            )
        )
    return columns


# Which custom fields each table carries: (level, JSON path, cohort export only).
CUSTOM_SOURCES = {
    "patients": [("patient", "patient__custom", False), ("course", "course__custom", True)],
    "registry_patients": [("patient", "custom", False)],
    "courses": [("course", "custom", False)],
    "cycles": [("cycle", "custom", False)],
    "scans": [("scan", "custom", False)],
}


def with_custom(table: Table, key: str) -> Table:
    """`table` with its custom-field columns appended (and their JSON read)."""
    added, paths = [], []
    for level, source, cohort_only in CUSTOM_SOURCES.get(key, ()):
        found = custom_columns(level, source, cohort_only=cohort_only)
        if found:
            added += found
            paths.append(source)
    if not added:
        return table
    return replace(
        table, columns=(*table.columns, *added), extra_paths=(*table.extra_paths, *paths)
    )
