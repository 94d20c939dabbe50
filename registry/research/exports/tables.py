"""De-identified cohort exports: CSV and XLSX, streamed, with a data dictionary.

An export covers the patients of a filtered cohort (the index courses the
cohort selector returns) and writes one wide table (a row per patient, the
index course's results) and long tables (courses, cycles, labs, scans,
lesions, outcomes, time points, adverse events) for all of their data.

De-identification (DESIGN.md, "Principles"): the study ID is the only key;
name, hospital number and birth date are never selected for output — the
birth date is read once to give an age in completed years at the index
course's start.  Free-text fields (notes, override reasons) are left out too,
because clinicians write names into them.

Memory stays flat whatever the size: every table is read with
`iterator(chunk_size=…)`, CSV is written row by row and XLSX through
openpyxl's write-only mode, so a million-row lab table never sits in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet, TextChoices

from registry.clinical import vocabularies
from registry.clinical.units import CANONICAL_UNIT
from registry.models import (
    AdverseEvent,
    Analyte,
    ClinicalProgression,
    Course,
    CourseOutcome,
    Criteria,
    Cycle,
    LabResult,
    LesionMeasurement,
    Modality,
    NonTargetStatus,
    Patient,
    Phase,
    PrimarySite,
    ResponseCode,
    Scan,
    Sex,
    StopReason,
    TimePointResponse,
)
from registry.research.cohort import Cohort, age_at

logger = logging.getLogger(__name__)
CHUNK_SIZE = 2000
XLSX_MAX_ROWS = 1_048_576
GRADED = (
    "hematologic",
    "hemoglobin",
    "platelets",
    "wbc",
    "neutrophils",
    "lymphocytes",
    "creatinine",
    "alt",
    "ast",
    "bilirubin",
)
BOOLEAN_CODES = {"1": "yes", "0": "no"}
GRADE_CODES = {str(g): f"grade {g}" for g in range(5)}


@dataclass(frozen=True)
class Column:
    """One exported variable; its dictionary row is built from the same object."""

    name: str
    label: str
    type: str  # string | integer | number | date | boolean | code
    unit: str = ""
    codes: dict[str, str] | None = None
    source: str = ""  # the `values()` path; defaults to `name`
    derive: Callable[[dict[str, Any]], Any] | None = None

    @property
    def path(self) -> str:
        return self.source or self.name


def coded(name: str, label: str, choices: type[TextChoices], source: str = "") -> Column:
    return Column(name, label, "code", codes=dict(choices.choices), source=source)


@dataclass(frozen=True)
class Table:
    name: str
    label: str
    columns: tuple[Column, ...]
    # (cohort outcomes, patient ids subquery) -> the rows to export, as values() dicts.
    rows: Callable[[QuerySet, QuerySet], QuerySet]
    extra_paths: tuple[str, ...] = ()  # read for derived columns, never exported

    def output_columns(self) -> list[tuple[str, Column, bool]]:
        """(header, column, is_label) in file order: every code is followed by its label."""
        out = []
        for col in self.columns:
            out.append((col.name, col, False))
            if col.codes is not None and col.type == "code":
                out.append((f"{col.name}_label", col, True))
        return out

    def paths(self) -> list[str]:
        paths = [c.path for c in self.columns if c.derive is None]
        return list(dict.fromkeys([*paths, *self.extra_paths]))


def _grade_columns(prefix: str = "grade_") -> tuple[Column, ...]:
    return tuple(
        Column(
            f"{prefix}{a}",
            f"Worst CTCAE v5 grade, {a}, in the toxicity window (blank = not assessed)",
            "integer",
            codes=GRADE_CODES,
            source=f"grade_{a}",
        )
        for a in GRADED
    )


def _response_columns() -> tuple[Column, ...]:
    cols: list[Column] = []
    for crit in Criteria.values:
        cols += [
            coded(f"best_{crit}", f"Best overall response, {crit.upper()}", ResponseCode),
            Column(
                f"best_{crit}_pct_change",
                f"Best % change in tumour size vs baseline, {crit.upper()}",
                "number",
                "%",
            ),
        ]
    return tuple(cols)


def _endpoint_columns() -> tuple[Column, ...]:
    cols: list[Column] = []
    for ep, label in (("ttp", "Time to progression"), ("pfs", "Progression-free survival")):
        for crit in Criteria.values:
            cols += [
                Column(f"{ep}_{crit}_months", f"{label} ({crit.upper()})", "number", "months"),
                Column(
                    f"{ep}_{crit}_event",
                    f"{label} ({crit.upper()}): 1 = event, 0 = censored",
                    "boolean",
                    codes=BOOLEAN_CODES,
                ),
            ]
    cols += [
        Column("os_months", "Overall survival", "number", "months"),
        Column(
            "os_event", "Overall survival: 1 = died, 0 = censored", "boolean", codes=BOOLEAN_CODES
        ),
        Column("follow_up_months", "Follow-up from course start", "number", "months"),
    ]
    return tuple(cols)


OUTCOME_COLUMNS: tuple[Column, ...] = (
    coded("phase", "Treatment phase", Phase),
    Column("round", "Course number within its phase (1 = first)", "integer"),
    Column("start", "Course start (first cycle)", "date"),
    Column("last_cycle", "Last cycle of the course", "date"),
    Column("cycles", "Number of cycles in the course", "integer"),
    Column("activity_gbq", "Activity administered in the course", "number", "GBq"),
    Column(
        "intended_activity_reached",
        "Intended activity reached (CLINICAL.md §1; blank = no intended activity)",
        "boolean",
        codes=BOOLEAN_CODES,
    ),
    Column(
        "cumulative_activity_before_gbq", "Cumulative activity before this course", "number", "GBq"
    ),
    *_response_columns(),
    Column("overridden", "Best response overridden by a clinician", "boolean", codes=BOOLEAN_CODES),
    *_grade_columns(),
    *_endpoint_columns(),
)


def _patient_rows(outcomes: QuerySet, patients: QuerySet) -> QuerySet:
    return outcomes.order_by("patient__study_id", "pk")


def _derive_age(row: dict[str, Any]) -> int | None:
    return age_at(row["patient__identity__birth_date"], row["start"])


PATIENTS = Table(
    "patients",
    "One row per patient: characteristics and the results of the cohort's course",
    (
        Column("study_id", "Study ID (pseudonym)", "string", source="patient__study_id"),
        Column("site", "Treatment site code", "string", source="patient__site__code"),
        coded("sex", "Sex", Sex, source="patient__sex"),
        Column(
            "age_at_start",
            "Age at the course start, completed years",
            "integer",
            "years",
            derive=_derive_age,
        ),
        coded("primary_site", "Primary tumour site", PrimarySite, source="patient__primary_site"),
        Column("ki67_percent", "Ki-67 index", "number", "%", source="patient__ki67_percent"),
        Column("diagnosis_date", "Date of diagnosis", "date", source="patient__diagnosis_date"),
        Column("last_follow_up", "Last follow-up", "date", source="patient__last_follow_up"),
        Column("death_date", "Date of death", "date", source="patient__death_date"),
        Column(
            "lifetime_activity_gbq",
            "Lifetime cumulative activity",
            "number",
            "GBq",
            source="patient__state__cumulative_activity_gbq",
        ),
        coded("stop_reason", "Why the course stopped", StopReason, source="course__stop_reason"),
        Column(
            "intended_activity_gbq",
            "Intended activity of the course",
            "number",
            "GBq",
            source="course__intended_activity_gbq",
        ),
        *OUTCOME_COLUMNS,
    ),
    _patient_rows,
    extra_paths=("patient__identity__birth_date",),
)

COURSES = Table(
    "courses",
    "Every course of the cohort's patients (facts as entered)",
    (
        Column("study_id", "Study ID (pseudonym)", "string", source="patient__study_id"),
        Column("course_id", "Course key (links cycles and outcomes)", "integer", source="id"),
        coded("phase", "Treatment phase", Phase),
        Column("intended_activity_gbq", "Intended activity", "number", "GBq"),
        coded("stop_reason", "Why the course stopped", StopReason),
    ),
    lambda o, p: Course.objects.filter(patient__in=p).order_by("patient__study_id", "pk"),
)

CYCLES = Table(
    "cycles",
    "Every cycle of the cohort's patients",
    (
        Column("study_id", "Study ID (pseudonym)", "string", source="course__patient__study_id"),
        Column("course_id", "Course key", "integer"),
        Column("date", "Cycle date", "date"),
        Column("activity_gbq", "Administered activity", "number", "GBq", source="administered_gbq"),
        Column(
            "radiopharmaceutical",
            "Radiopharmaceutical (coded; 'other' when not in the list)",
            "string",
            derive=lambda r: vocabularies.coded_radiopharmaceutical(r["radiopharmaceutical"]),
        ),
    ),
    lambda o, p: Cycle.objects.filter(course__patient__in=p).order_by(
        "course__patient__study_id", "course_id", "date"
    ),
    extra_paths=("radiopharmaceutical",),
)

LABS = Table(
    "labs",
    "Every lab value of the cohort's patients, as entered and in the canonical unit",
    (
        Column("study_id", "Study ID (pseudonym)", "string", source="patient__study_id"),
        Column("date", "Sample date", "date"),
        coded("analyte", "Analyte", Analyte),
        Column("value", "Value as entered", "number"),
        Column("unit", "Unit as entered", "string"),
        Column("canonical_value", "Value in the canonical unit", "number"),
        Column(
            "canonical_unit",
            "Canonical unit of the analyte (CLINICAL.md §6)",
            "string",
            derive=lambda r: CANONICAL_UNIT.get(r["analyte"], ""),
        ),
        Column("lln", "Lower limit of normal, unit as entered", "number"),
        Column("uln", "Upper limit of normal, unit as entered", "number"),
    ),
    # Ordered by the (patient, date) index, not by study ID: a sort over a
    # million rows joined to patients would cost more than the export itself.
    lambda o, p: LabResult.objects.filter(patient__in=p).order_by("patient_id", "date", "pk"),
)

SCANS = Table(
    "scans",
    "Every scan of the cohort's patients",
    (
        Column("study_id", "Study ID (pseudonym)", "string", source="patient__study_id"),
        Column("scan_id", "Scan key (links lesions and time points)", "integer", source="id"),
        Column("date", "Scan date", "date"),
        coded("modality", "Modality", Modality),
    ),
    lambda o, p: Scan.objects.filter(patient__in=p).order_by("patient__study_id", "date", "pk"),
)

LESIONS = Table(
    "lesions",
    "Every lesion measurement on the cohort's scans",
    (
        Column("study_id", "Study ID (pseudonym)", "string", source="scan__patient__study_id"),
        Column("scan_id", "Scan key", "integer"),
        Column("scan_date", "Scan date", "date", source="scan__date"),
        Column(
            "lesion",
            "Lesion label, stable across scans ('other' when not a short code such as L1)",
            "string",
            derive=lambda r: vocabularies.coded_lesion_label(r["lesion"]),
        ),
        Column(
            "organ",
            "Organ (coded; 'other' when not in the list)",
            "string",
            derive=lambda r: vocabularies.coded_organ(r["organ"]),
        ),
        Column("lymph_node", "Lymph node", "boolean", codes=BOOLEAN_CODES),
        Column("target", "Target lesion", "boolean", codes=BOOLEAN_CODES),
        Column("new", "New lesion", "boolean", codes=BOOLEAN_CODES),
        Column("long_mm", "Longest diameter", "number", "mm"),
        Column("short_mm", "Perpendicular (nodes: short axis) diameter", "number", "mm"),
        coded("status", "Non-target status (blank for targets)", NonTargetStatus),
    ),
    lambda o, p: LesionMeasurement.objects.filter(scan__patient__in=p).order_by(
        "scan__patient__study_id", "scan__date", "scan_id", "lesion"
    ),
    extra_paths=("lesion", "organ"),
)

OUTCOMES = Table(
    "outcomes",
    "What the registry computed for every course of the cohort's patients",
    (
        Column("study_id", "Study ID (pseudonym)", "string", source="patient__study_id"),
        Column("course_id", "Course key", "integer"),
        *OUTCOME_COLUMNS,
    ),
    lambda o, p: CourseOutcome.objects.filter(patient__in=p).order_by("patient__study_id", "start"),
)

TIME_POINTS = Table(
    "time_points",
    "Response at every follow-up scan, per criteria",
    (
        Column("study_id", "Study ID (pseudonym)", "string", source="course__patient__study_id"),
        Column("course_id", "Course key", "integer"),
        Column("scan_id", "Scan key", "integer"),
        Column("scan_date", "Scan date", "date", source="scan__date"),
        Column("days_from_start", "Days from course start", "integer", "days"),
        coded("criteria", "Response criteria", Criteria),
        coded("response", "Time-point response", ResponseCode),
        Column("total_mm", "Sum of products (SWOG, mm²) or of diameters (RECIST, mm)", "number"),
        Column("pct_vs_baseline", "% change vs baseline", "number", "%"),
        Column("pct_vs_nadir", "% change vs nadir", "number", "%"),
    ),
    lambda o, p: TimePointResponse.objects.filter(course__patient__in=p).order_by(
        "course__patient__study_id", "scan__date", "criteria"
    ),
)

ADVERSE_EVENTS = Table(
    "adverse_events",
    "Adverse events recorded by clinicians (not derived from labs)",
    (
        Column("study_id", "Study ID (pseudonym)", "string", source="patient__study_id"),
        Column(
            "term",
            "CTCAE v5 term (coded; 'other' when not in the list)",
            "string",
            derive=lambda r: vocabularies.coded_term(r["term"]),
        ),
        Column("grade", "CTCAE grade", "integer"),
        Column("onset", "Onset date", "date"),
    ),
    lambda o, p: AdverseEvent.objects.filter(patient__in=p).order_by("patient__study_id", "onset"),
    extra_paths=("term",),
)

PROGRESSIONS = Table(
    "clinical_progressions",
    "Clinical progressions recorded by clinicians",
    (
        Column("study_id", "Study ID (pseudonym)", "string", source="patient__study_id"),
        Column("date", "Date of clinical progression", "date"),
    ),
    lambda o, p: ClinicalProgression.objects.filter(patient__in=p).order_by(
        "patient__study_id", "date"
    ),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        PATIENTS,
        COURSES,
        CYCLES,
        LABS,
        SCANS,
        LESIONS,
        OUTCOMES,
        TIME_POINTS,
        ADVERSE_EVENTS,
        PROGRESSIONS,
    )
}
DICTIONARY_HEADER = ("table", "variable", "label", "type", "unit", "codes")


def dictionary_rows(tables: Iterable[Table] | None = None) -> Iterator[tuple[str, ...]]:
    """The data dictionary: one row per exported variable (label columns included)."""
    for table in tables or TABLES.values():
        for header, col, is_label in table.output_columns():
            if is_label:
                yield (table.name, header, f"{col.label} (label of {col.name})", "string", "", "")
                continue
            codes = "; ".join(f"{k}={v}" for k, v in (col.codes or {}).items())
            yield (table.name, header, col.label, col.type, col.unit, codes)


def cohort_patients(outcomes: QuerySet) -> QuerySet:
    """The patient ids of a cohort, as a subquery (never materialised in Python)."""
    return Patient.objects.filter(pk__in=outcomes.values("patient_id")).values("pk")


def table_queryset(table: Table, cohort: Cohort) -> QuerySet:
    """The table's rows for the cohort, read through the cohort's selection as a subquery."""
    return table.rows(cohort.queryset, cohort_patients(cohort.queryset))


def iter_rows(table: Table, cohort: Cohort) -> Iterator[list[Any]]:
    """The table's rows as Python values (codes and labels expanded), streamed."""
    qs = table_queryset(table, cohort).values(*table.paths())
    layout = table.output_columns()
    for record in qs.iterator(chunk_size=CHUNK_SIZE):
        row: list[Any] = []
        for _, col, is_label in layout:
            value = col.derive(record) if col.derive else record[col.path]
            if is_label:
                value = (col.codes or {}).get(value, "") if value not in (None, "") else ""
            elif isinstance(value, bool):
                value = int(value)
            row.append(value)
        yield row


def headers(table: Table) -> list[str]:
    return [h for h, _, _ in table.output_columns()]


def count_rows(tables: Iterable[Table], cohort: Cohort) -> int:
    return sum(table_queryset(t, cohort).count() for t in tables)
