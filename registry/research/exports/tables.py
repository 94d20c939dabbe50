"""What a cohort export holds: its tables, their columns and their data dictionary.

An export covers an `ExportScope`: the patients of a filtered cohort (the
index courses the cohort selector returns) or the whole registry the user may
see. It writes a patients table (in a cohort export with the index course's
results), a sites table, and long tables (courses, cycles, labs, scans,
lesions, outcomes, time points, adverse events, clinical progressions) for
all of the patients' data.

Analysis-ready: every row has a stable key (`course_id`, `cycle_id`,
`lab_id`, …; the study ID for patients, the code for sites) and the foreign
keys to join it. Labs, scans, adverse events and clinical progressions carry
the `course_id` of the course whose window holds their date (the latest
course started on or before it; blank before the first course). Derived
numbers are written without float noise: canonical lab values are rounded to
the decimals their unit warrants (`CANONICAL_DECIMALS`), sums of lesion
sizes to 0.01, everything else to 12 significant digits.

De-identification (DESIGN.md, "Principles"): the study ID is the only key;
name, hospital number and birth date are never selected for output — the
birth date is read to give an age in completed years. Free-text fields
(notes, override reasons) are left out too, because clinicians write names
into them. Dates are written as the scope's level says (`ExportScope`).

Memory stays flat whatever the size: every table is read with
`iterator(chunk_size=…)` and written row by row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from django.db.models import Count, OuterRef, QuerySet, Subquery, TextChoices

from registry.clinical import ctcae, vocabularies
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
    Site,
    StopReason,
    TimePointResponse,
)
from registry.research.cohort import age_at
from registry.research.exports.scope import ExportScope, Level
from registry.research.filters import TTP_REGULAR_LABELS

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
# The decimals a canonical value is written with: a tenth of the smallest step
# a laboratory reports in that unit, so a conversion (6.5 mmol/L × 1.611)
# never shows as 10.471500000000001.
CANONICAL_DECIMALS = {
    "g/dL": 2,
    "10^9/L": 3,
    "umol/L": 1,
    "U/L": 1,
    "mL/min/1.73m2": 1,
    "ug/L": 2,
    "umol/24h": 2,
}
SIGNIFICANT_DIGITS = 12


@dataclass(frozen=True)
class Column:
    """One exported variable; its dictionary row is built from the same object."""

    name: str
    label: str
    type: str  # string | integer | number | date | boolean | code
    unit: str = ""
    codes: dict[str, str] | None = None
    source: str = ""  # the `values()` path; defaults to `name`
    derive: Callable[[dict[str, Any], ExportScope], Any] | None = None
    decimals: int | None = None  # numbers: round to this many decimals (else 12 digits)
    cohort_only: bool = False  # left out of a whole-registry export

    @property
    def path(self) -> str:
        return self.source or self.name

    def as_written(self, scope: ExportScope) -> Column:
        """The column as this export's level writes it (a relative export has no dates)."""
        if self.type == "date" and scope.level == Level.RELATIVE:
            return replace(
                self,
                name=f"{self.name}_day",
                label=f"{self.label}: days from the patient's first cycle (day 0)",
                type="integer",
                unit="days",
            )
        return self


def coded(name: str, label: str, choices: type[TextChoices], source: str = "") -> Column:
    return Column(name, label, "code", codes=dict(choices.choices), source=source)


@dataclass(frozen=True)
class Table:
    name: str
    label: str
    columns: tuple[Column, ...]
    # The scope's rows of this table, as a queryset read with values().
    rows: Callable[[ExportScope], QuerySet]
    # The values() path of the row's patient id (dates are shifted per patient).
    patient_path: str | None = "patient_id"
    extra_paths: tuple[str, ...] = ()  # read for derived columns, never exported

    def columns_for(self, scope: ExportScope) -> list[Column]:
        return [c for c in self.columns if not (c.cohort_only and scope.whole_registry)]

    def output_columns(self, scope: ExportScope) -> list[tuple[str, Column, bool]]:
        """(header, source column, is_label) in file order: a code is followed by its label."""
        out = []
        for col in self.columns_for(scope):
            written = col.as_written(scope)
            out.append((written.name, col, False))
            if col.codes is not None and col.type == "code":
                out.append((f"{written.name}_label", col, True))
        return out

    def paths(self, scope: ExportScope) -> list[str]:
        paths = [c.path for c in self.columns_for(scope) if c.derive is None]
        extra = [self.patient_path] if self.patient_path else []
        return list(dict.fromkeys([*paths, *self.extra_paths, *extra]))


def _round(value: float, decimals: int | None) -> float:
    if decimals is not None:
        return round(value, decimals)
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def _course_at(date_path: str, patient_path: str = "patient_id") -> Subquery:
    """The course whose window holds a dated row: the latest course started on or before it."""
    return Subquery(
        CourseOutcome.objects.filter(
            patient_id=OuterRef(patient_path), start__lte=OuterRef(date_path)
        )
        .order_by("-start")
        .values("course_id")[:1]
    )


def _key(name: str, label: str, source: str = "id") -> Column:
    return Column(name, label, "integer", source=source)


def _study_id(source: str = "patient__study_id") -> Column:
    return Column("study_id", "Study ID (pseudonym; the patient key)", "string", source=source)


def _window_course() -> Column:
    return Column(
        "course_id",
        "Course key: the course whose window holds this date (blank before the first course)",
        "integer",
        source="window_course_id",
    )


def _ttp_regular_columns() -> tuple[Column, ...]:
    def months(row, scope):
        found = scope.regular_ttp.get(row["_patient"])
        return None if found is None else found[0]

    def event(row, scope):
        found = scope.regular_ttp.get(row["_patient"])
        return None if found is None else found[1]

    return (
        Column(
            "ttp_regular_months",
            "TTP after regular therapy: TTP of the patient's regular course of round 1",
            "number",
            "months",
            derive=months,
        ),
        Column(
            "ttp_regular_event",
            "TTP after regular therapy: 1 = progression, 0 = censored",
            "boolean",
            codes=BOOLEAN_CODES,
            derive=event,
        ),
        Column(
            "ttp_regular_group",
            "TTP after regular therapy, grouped at the cut-off (README)",
            "code",
            codes=dict(TTP_REGULAR_LABELS),
            derive=lambda row, scope: scope.regular_ttp_group(row["_patient"]),
        ),
    )


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
    for crit in Criteria.values:
        cols.append(
            Column(
                f"progression_date_{crit}",
                f"Date of progression ({crit.upper()}; blank = none)",
                "date",
            )
        )
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
        "Intended activity reached: administered ≥ the intended fraction (README) of the "
        "intended activity; blank = no intended activity",
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


def _age_at_start(row: dict[str, Any], scope: ExportScope) -> int | None:
    return age_at(row["patient__identity__birth_date"], row["start"])


def _age_at_first_cycle(row: dict[str, Any], scope: ExportScope) -> int | None:
    return age_at(row["identity__birth_date"], scope.first_cycle.get(row["id"]))


def _patient_columns(prefix: str) -> tuple[Column, ...]:
    """The patient's own variables, read through `prefix` (`patient__` from a course row)."""
    return (
        _study_id(f"{prefix}study_id"),
        Column("site", "Treatment site code (joins sites)", "string", source=f"{prefix}site__code"),
        coded("sex", "Sex", Sex, source=f"{prefix}sex"),
        coded("primary_site", "Primary tumour site", PrimarySite, source=f"{prefix}primary_site"),
        Column("ki67_percent", "Ki-67 index", "number", "%", source=f"{prefix}ki67_percent"),
        Column("diagnosis_date", "Date of diagnosis", "date", source=f"{prefix}diagnosis_date"),
        Column("last_follow_up", "Last follow-up", "date", source=f"{prefix}last_follow_up"),
        Column("death_date", "Date of death", "date", source=f"{prefix}death_date"),
        Column(
            "lifetime_activity_gbq",
            "Lifetime cumulative activity",
            "number",
            "GBq",
            source=f"{prefix}state__cumulative_activity_gbq",
        ),
        *_ttp_regular_columns(),
    )


PATIENTS = Table(
    "patients",
    "One row per patient: characteristics, and in a cohort export the cohort course's results",
    (
        *_patient_columns("patient__"),
        Column(
            "course_id",
            "Key of the cohort's course of this patient (joins outcomes, courses)",
            "integer",
            cohort_only=True,
        ),
        Column(
            "age_at_start",
            "Age at the cohort course's start, completed years",
            "integer",
            "years",
            derive=_age_at_start,
            cohort_only=True,
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
    lambda scope: scope.outcomes.order_by("patient__study_id", "pk"),
    extra_paths=("patient__identity__birth_date",),
)

REGISTRY_PATIENTS = Table(
    "patients",
    "One row per patient: characteristics",
    (
        *_patient_columns(""),
        Column(
            "age_at_first_cycle",
            "Age at the patient's first cycle, completed years",
            "integer",
            "years",
            derive=_age_at_first_cycle,
        ),
    ),
    lambda scope: Patient.objects.filter(pk__in=scope.patients).order_by("study_id"),
    patient_path="id",
    extra_paths=("identity__birth_date", "id"),
)

SITES = Table(
    "sites",
    "The treatment sites of the export's patients",
    (
        Column("site", "Treatment site code (the site key)", "string", source="code"),
        Column("site_name", "Site name", "string", source="name"),
        Column("patients", "Patients of this site in the export", "integer", source="n_patients"),
    ),
    lambda scope: (
        Site.objects.filter(patients__in=scope.patients)
        .annotate(n_patients=Count("patients"))
        .order_by("code")
    ),
    patient_path=None,
)

COURSES = Table(
    "courses",
    "Every course of the export's patients (facts as entered)",
    (
        _key("course_id", "Course key (joins cycles, outcomes, time points)"),
        _study_id(),
        coded("phase", "Treatment phase", Phase),
        Column(
            "round",
            "Course number within its phase (blank = no cycle yet)",
            "integer",
            source="outcome__round",
        ),
        Column("intended_activity_gbq", "Intended activity", "number", "GBq"),
        coded("stop_reason", "Why the course stopped", StopReason),
    ),
    lambda scope: Course.objects.filter(patient__in=scope.patients).order_by(
        "patient__study_id", "pk"
    ),
)

CYCLES = Table(
    "cycles",
    "Every cycle of the export's patients",
    (
        _key("cycle_id", "Cycle key"),
        Column("course_id", "Course key", "integer"),
        _study_id("course__patient__study_id"),
        Column("date", "Cycle date", "date"),
        Column("activity_gbq", "Administered activity", "number", "GBq", source="administered_gbq"),
        Column(
            "radiopharmaceutical",
            "Radiopharmaceutical (coded; 'other' when not in the list)",
            "string",
            derive=lambda r, s: vocabularies.coded_radiopharmaceutical(r["radiopharmaceutical"]),
        ),
    ),
    lambda scope: Cycle.objects.filter(course__patient__in=scope.patients).order_by(
        "course__patient__study_id", "course_id", "date"
    ),
    patient_path="course__patient_id",
    extra_paths=("radiopharmaceutical",),
)


def _canonical(row: dict[str, Any], scope: ExportScope) -> float | None:
    value = row["canonical_value"]
    if value is None:
        return None
    return round(value, CANONICAL_DECIMALS.get(CANONICAL_UNIT.get(row["analyte"], ""), 3))


def _reference(which: str):
    """The reference limit the grading used: the lab's own, or the default (CTCAE §5)."""
    default = ctcae.default_lln if which == "lln" else ctcae.default_uln

    def derive(row: dict[str, Any], scope: ExportScope) -> float | None:
        own = row[which]
        if own is not None and own > 0:
            return own
        try:
            value = default(row["analyte"], row["unit"], row["patient__sex"] or None)
        except (KeyError, ValueError):
            return None
        return None if value is None else _round(value, 6)

    return derive


def _range_source(row: dict[str, Any], scope: ExportScope) -> str:
    own = any(row[k] is not None and row[k] > 0 for k in ("lln", "uln"))
    if own:
        return "entered"
    used = _reference("lln")(row, scope) is not None or _reference("uln")(row, scope) is not None
    return "default" if used else ""


LABS = Table(
    "labs",
    "Every lab value of the export's patients, as entered and in the canonical unit",
    (
        _key("lab_id", "Lab value key"),
        _study_id(),
        _window_course(),
        Column("date", "Sample date", "date"),
        coded("analyte", "Analyte", Analyte),
        Column("value", "Value as entered", "number"),
        Column("unit", "Unit as entered", "string"),
        Column(
            "canonical_value",
            "Value in the canonical unit (rounded to the unit's decimals, README)",
            "number",
            derive=_canonical,
        ),
        Column(
            "canonical_unit",
            "Canonical unit of the analyte",
            "string",
            derive=lambda r, s: CANONICAL_UNIT.get(r["analyte"], ""),
        ),
        Column("lln", "Lower limit of normal as entered (unit as entered; blank = none)", "number"),
        Column("uln", "Upper limit of normal as entered (unit as entered; blank = none)", "number"),
        Column(
            "lln_used",
            "Lower limit of normal the grading used: as entered, else the default (README)",
            "number",
            derive=_reference("lln"),
        ),
        Column(
            "uln_used",
            "Upper limit of normal the grading used: as entered, else the default (README)",
            "number",
            derive=_reference("uln"),
        ),
        Column(
            "range_source",
            "Where lln_used/uln_used come from",
            "code",
            codes={"entered": "entered with the value", "default": "the registry's default"},
            derive=_range_source,
        ),
    ),
    # Ordered by the (patient, date) index, not by study ID: a sort over a
    # million rows joined to patients would cost more than the export itself.
    lambda scope: (
        LabResult.objects.filter(patient__in=scope.patients)
        .annotate(window_course_id=_course_at("date"))
        .order_by("patient_id", "date", "pk")
    ),
    extra_paths=("canonical_value", "analyte", "unit", "lln", "uln", "patient__sex"),
)

SCANS = Table(
    "scans",
    "Every scan of the export's patients",
    (
        _key("scan_id", "Scan key (joins lesions and time points)"),
        _study_id(),
        _window_course(),
        Column("date", "Scan date", "date"),
        coded("modality", "Modality", Modality),
    ),
    lambda scope: (
        Scan.objects.filter(patient__in=scope.patients)
        .annotate(window_course_id=_course_at("date"))
        .order_by("patient__study_id", "date", "pk")
    ),
)

LESIONS = Table(
    "lesions",
    "Every lesion measurement on the export's scans",
    (
        _key("lesion_measurement_id", "Lesion measurement key"),
        Column("scan_id", "Scan key", "integer"),
        _study_id("scan__patient__study_id"),
        Column("scan_date", "Scan date", "date", source="scan__date"),
        Column(
            "lesion",
            "Lesion label, stable across scans ('other' when not a short code such as L1)",
            "string",
            derive=lambda r, s: vocabularies.coded_lesion_label(r["lesion"]),
        ),
        Column(
            "organ",
            "Organ (coded; 'other' when not in the list)",
            "string",
            derive=lambda r, s: vocabularies.coded_organ(r["organ"]),
        ),
        Column("lymph_node", "Lymph node", "boolean", codes=BOOLEAN_CODES),
        Column("target", "Target lesion", "boolean", codes=BOOLEAN_CODES),
        Column("new", "New lesion", "boolean", codes=BOOLEAN_CODES),
        Column("long_mm", "Longest diameter", "number", "mm"),
        Column("short_mm", "Perpendicular (nodes: short axis) diameter", "number", "mm"),
        coded("status", "Non-target status (blank for targets)", NonTargetStatus),
    ),
    lambda scope: LesionMeasurement.objects.filter(scan__patient__in=scope.patients).order_by(
        "scan__patient__study_id", "scan__date", "scan_id", "lesion"
    ),
    patient_path="scan__patient_id",
    extra_paths=("lesion", "organ"),
)


def _index_course(row: dict[str, Any], scope: ExportScope) -> bool:
    return row["course_id"] in scope.index_courses


OUTCOMES = Table(
    "outcomes",
    "What the registry computed for every course of the export's patients (a row per course)",
    (
        Column("course_id", "Course key (joins courses)", "integer"),
        _study_id(),
        Column(
            "index_course",
            "1 = the cohort's course of this patient (the row the patients table describes)",
            "boolean",
            codes=BOOLEAN_CODES,
            derive=_index_course,
            cohort_only=True,
        ),
        Column(
            "age_at_start",
            "Age at the course start, completed years",
            "integer",
            "years",
            derive=_age_at_start,
        ),
        *OUTCOME_COLUMNS,
        *_ttp_regular_columns(),
    ),
    lambda scope: CourseOutcome.objects.filter(patient__in=scope.patients).order_by(
        "patient__study_id", "start"
    ),
    extra_paths=("patient__identity__birth_date", "start", "course_id"),
)


def _sum_for(criteria: str, decimals: int):
    def derive(row: dict[str, Any], scope: ExportScope) -> float | None:
        value = row["total_mm"]
        if row["criteria"] != criteria or value is None:
            return None
        return round(value, decimals)

    return derive


TIME_POINTS = Table(
    "time_points",
    "Response at every follow-up scan, per criteria",
    (
        _key("time_point_id", "Time point key"),
        Column("course_id", "Course key", "integer"),
        Column("scan_id", "Scan key", "integer"),
        _study_id("course__patient__study_id"),
        Column("scan_date", "Scan date", "date", source="scan__date"),
        Column("days_from_start", "Days from course start", "integer", "days"),
        coded("criteria", "Response criteria", Criteria),
        coded("response", "Time-point response", ResponseCode),
        Column(
            "spd_mm2",
            "Sum of products of the target lesions' diameters (SWOG rows only)",
            "number",
            "mm²",
            derive=_sum_for(Criteria.SWOG, 2),
        ),
        Column(
            "sod_mm",
            "Sum of the target lesions' diameters (RECIST rows only)",
            "number",
            "mm",
            derive=_sum_for(Criteria.RECIST, 2),
        ),
        Column("pct_vs_baseline", "% change vs baseline", "number", "%"),
        Column("pct_vs_nadir", "% change vs nadir", "number", "%"),
    ),
    lambda scope: TimePointResponse.objects.filter(course__patient__in=scope.patients).order_by(
        "course__patient__study_id", "scan__date", "criteria"
    ),
    patient_path="course__patient_id",
    extra_paths=("total_mm", "criteria"),
)

ADVERSE_EVENTS = Table(
    "adverse_events",
    "Adverse events recorded by clinicians (not derived from labs)",
    (
        _key("adverse_event_id", "Adverse event key"),
        _study_id(),
        _window_course(),
        Column(
            "term",
            "CTCAE v5 term (coded; 'other' when not in the list)",
            "string",
            derive=lambda r, s: vocabularies.coded_term(r["term"]),
        ),
        Column("grade", "CTCAE grade", "integer", codes=GRADE_CODES | {"5": "grade 5"}),
        Column("onset", "Onset date", "date"),
    ),
    lambda scope: (
        AdverseEvent.objects.filter(patient__in=scope.patients)
        .annotate(window_course_id=_course_at("onset"))
        .order_by("patient__study_id", "onset")
    ),
    extra_paths=("term",),
)

PROGRESSIONS = Table(
    "clinical_progressions",
    "Clinical progressions recorded by clinicians",
    (
        _key("progression_id", "Clinical progression key"),
        _study_id(),
        _window_course(),
        Column("date", "Date of clinical progression", "date"),
    ),
    lambda scope: (
        ClinicalProgression.objects.filter(patient__in=scope.patients)
        .annotate(window_course_id=_course_at("date"))
        .order_by("patient__study_id", "date")
    ),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        PATIENTS,
        SITES,
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


def tables_for(scope: ExportScope, names: Iterable[str] | None = None) -> list[Table]:
    """The named tables (default all) as this scope writes them."""
    chosen = [TABLES[n] for n in names] if names else list(TABLES.values())
    if scope.whole_registry:
        return [REGISTRY_PATIENTS if t is PATIENTS else t for t in chosen]
    return chosen


def dictionary_rows(tables: Iterable[Table], scope: ExportScope) -> Iterator[tuple[str, ...]]:
    """The data dictionary: one row per exported variable (label columns included)."""
    for table in tables:
        for header, col, is_label in table.output_columns(scope):
            if is_label:
                source = col.as_written(scope).name
                yield (table.name, header, f"{col.label} (label of {source})", "string", "", "")
                continue
            written = col.as_written(scope)
            codes = "; ".join(f"{k}={v}" for k, v in (written.codes or {}).items())
            yield (table.name, header, written.label, written.type, written.unit, codes)


def table_queryset(table: Table, scope: ExportScope) -> QuerySet:
    """The table's rows for the scope, read through the scope's selection as a subquery."""
    return table.rows(scope)


def iter_rows(table: Table, scope: ExportScope) -> Iterator[list[Any]]:
    """The table's rows as Python values (codes and labels expanded, dates as the level
    writes them, numbers without float noise), streamed."""
    qs = table_queryset(table, scope).values(*table.paths(scope))
    layout = table.output_columns(scope)
    for record in qs.iterator(chunk_size=CHUNK_SIZE):
        patient = record[table.patient_path] if table.patient_path else None
        record["_patient"] = patient
        row: list[Any] = []
        for _, col, is_label in layout:
            value = col.derive(record, scope) if col.derive else record[col.path]
            if is_label:
                value = (col.codes or {}).get(value, "") if value not in (None, "") else ""
            elif col.type == "date":
                value = scope.date_value(patient, value)
            elif isinstance(value, bool):
                value = int(value)
            elif isinstance(value, float):
                value = _round(value, col.decimals)
            row.append(value)
        yield row


def headers(table: Table, scope: ExportScope) -> list[str]:
    return [h for h, _, _ in table.output_columns(scope)]


def count_rows(tables: Iterable[Table], scope: ExportScope) -> int:
    return sum(table_queryset(t, scope).count() for t in tables)


def table_counts(tables: Iterable[Table], scope: ExportScope) -> dict[str, int]:
    return {t.name: table_queryset(t, scope).count() for t in tables}
