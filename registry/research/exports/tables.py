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
from collections.abc import Iterable

from django.db.models import Count

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
    PriorTreatment,
    ResponseCode,
    Scan,
    Site,
    StopReason,
    TimePointResponse,
)
from registry.research.exports.columns import (
    BOOLEAN_CODES,
    GRADE_CODES,
    OUTCOME_COLUMNS,
    Column,
    Table,
    age_at_first_cycle,
    age_at_start,
    canonical_value,
    coded,
    course_at,
    is_index_course,
    key_column,
    lesion_sum,
    patient_columns,
    range_source,
    reference_limit,
    study_id_column,
    ttp_regular_columns,
    window_course_column,
)

# Reading the tables lives in `reading`; its names are this module's too.
from registry.research.exports.reading import (
    count_rows,
    dictionary_rows,
    headers,
    iter_rows,
    table_counts,
    table_queryset,
)
from registry.research.exports.record_columns import (
    ADVERSE_EVENT_RECORD_COLUMNS,
    CYCLE_RECORD_COLUMNS,
    PRIOR_TREATMENT_COLUMNS,
    course_record_columns,
    with_custom,
)
from registry.research.exports.scope import ExportScope

logger = logging.getLogger(__name__)

PATIENTS = Table(
    "patients",
    "One row per patient: characteristics, and in a cohort export the cohort course's results",
    (
        *patient_columns("patient__"),
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
            derive=age_at_start,
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
        *course_record_columns("course__", "the cohort's course"),
        *OUTCOME_COLUMNS,
    ),
    lambda scope: scope.outcomes.order_by("patient__study_id", "pk"),
    extra_paths=("patient__identity__birth_date",),
)

REGISTRY_PATIENTS = Table(
    "patients",
    "One row per patient: characteristics",
    (
        *patient_columns(""),
        Column(
            "age_at_first_cycle",
            "Age at the patient's first cycle, completed years",
            "integer",
            "years",
            derive=age_at_first_cycle,
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
        key_column("course_id", "Course key (joins cycles, outcomes, time points)"),
        study_id_column(),
        coded("phase", "Treatment phase", Phase),
        Column(
            "round",
            "Course number within its phase (blank = no cycle yet)",
            "integer",
            source="outcome__round",
        ),
        Column("intended_activity_gbq", "Intended activity", "number", "GBq"),
        coded("stop_reason", "Why the course stopped", StopReason),
        *course_record_columns(""),
    ),
    lambda scope: Course.objects.filter(patient__in=scope.patients).order_by(
        "patient__study_id", "pk"
    ),
)

CYCLES = Table(
    "cycles",
    "Every cycle of the export's patients",
    (
        key_column("cycle_id", "Cycle key"),
        Column("course_id", "Course key", "integer"),
        study_id_column("course__patient__study_id"),
        Column("date", "Cycle date", "date"),
        Column("activity_gbq", "Administered activity", "number", "GBq", source="administered_gbq"),
        Column(
            "radiopharmaceutical",
            "Radiopharmaceutical (coded; 'other' when not in the list)",
            "string",
            derive=lambda r, s: vocabularies.coded_radiopharmaceutical(r["radiopharmaceutical"]),
        ),
        *CYCLE_RECORD_COLUMNS,
    ),
    lambda scope: Cycle.objects.filter(course__patient__in=scope.patients).order_by(
        "course__patient__study_id", "course_id", "date"
    ),
    patient_path="course__patient_id",
    extra_paths=("radiopharmaceutical",),
)


LABS = Table(
    "labs",
    "Every lab value of the export's patients, as entered and in the canonical unit",
    (
        key_column("lab_id", "Lab value key"),
        study_id_column(),
        window_course_column(),
        Column("date", "Sample date", "date"),
        coded("analyte", "Analyte", Analyte),
        Column("value", "Value as entered", "number"),
        Column("unit", "Unit as entered", "string"),
        Column(
            "canonical_value",
            "Value in the canonical unit (rounded to the unit's decimals, README)",
            "number",
            derive=canonical_value,
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
            derive=reference_limit("lln"),
        ),
        Column(
            "uln_used",
            "Upper limit of normal the grading used: as entered, else the default (README)",
            "number",
            derive=reference_limit("uln"),
        ),
        Column(
            "range_source",
            "Where lln_used/uln_used come from",
            "code",
            codes={"entered": "entered with the value", "default": "the registry's default"},
            derive=range_source,
        ),
    ),
    # Ordered by the (patient, date) index, not by study ID: a sort over a
    # million rows joined to patients would cost more than the export itself.
    lambda scope: (
        LabResult.objects.filter(patient__in=scope.patients)
        .annotate(window_course_id=course_at("date"))
        .order_by("patient_id", "date", "pk")
    ),
    extra_paths=("canonical_value", "analyte", "unit", "lln", "uln", "patient__sex"),
)

SCANS = Table(
    "scans",
    "Every scan of the export's patients",
    (
        key_column("scan_id", "Scan key (joins lesions and time points)"),
        study_id_column(),
        window_course_column(),
        Column("date", "Scan date", "date"),
        coded("modality", "Modality", Modality),
    ),
    lambda scope: (
        Scan.objects.filter(patient__in=scope.patients)
        .annotate(window_course_id=course_at("date"))
        .order_by("patient__study_id", "date", "pk")
    ),
)

LESIONS = Table(
    "lesions",
    "Every lesion measurement on the export's scans",
    (
        key_column("lesion_measurement_id", "Lesion measurement key"),
        Column("scan_id", "Scan key", "integer"),
        study_id_column("scan__patient__study_id"),
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


OUTCOMES = Table(
    "outcomes",
    "What the registry computed for every course of the export's patients (a row per course)",
    (
        Column("course_id", "Course key (joins courses)", "integer"),
        study_id_column(),
        Column(
            "index_course",
            "1 = the cohort's course of this patient (the row the patients table describes)",
            "boolean",
            codes=BOOLEAN_CODES,
            derive=is_index_course,
            cohort_only=True,
        ),
        Column(
            "age_at_start",
            "Age at the course start, completed years",
            "integer",
            "years",
            derive=age_at_start,
        ),
        *OUTCOME_COLUMNS,
        *ttp_regular_columns(),
    ),
    lambda scope: CourseOutcome.objects.filter(patient__in=scope.patients).order_by(
        "patient__study_id", "start"
    ),
    extra_paths=("patient__identity__birth_date", "start", "course_id"),
)


TIME_POINTS = Table(
    "time_points",
    "Response at every follow-up scan, per criteria",
    (
        key_column("time_point_id", "Time point key"),
        Column("course_id", "Course key", "integer"),
        Column("scan_id", "Scan key", "integer"),
        study_id_column("course__patient__study_id"),
        Column("scan_date", "Scan date", "date", source="scan__date"),
        Column("days_from_start", "Days from course start", "integer", "days"),
        coded("criteria", "Response criteria", Criteria),
        coded("response", "Time-point response", ResponseCode),
        Column(
            "spd_mm2",
            "Sum of products of the target lesions' diameters (SWOG rows only)",
            "number",
            "mm²",
            derive=lesion_sum(Criteria.SWOG, 2),
        ),
        Column(
            "sod_mm",
            "Sum of the target lesions' diameters (RECIST rows only)",
            "number",
            "mm",
            derive=lesion_sum(Criteria.RECIST, 2),
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
        key_column("adverse_event_id", "Adverse event key"),
        study_id_column(),
        window_course_column(),
        Column(
            "term",
            "CTCAE v5 term (coded; 'other' when not in the list)",
            "string",
            derive=lambda r, s: vocabularies.coded_term(r["term"]),
        ),
        Column("grade", "CTCAE grade", "integer", codes=GRADE_CODES | {"5": "grade 5"}),
        Column("onset", "Onset date", "date"),
        *ADVERSE_EVENT_RECORD_COLUMNS,
    ),
    lambda scope: (
        AdverseEvent.objects.filter(patient__in=scope.patients)
        .annotate(window_course_id=course_at("onset"))
        .order_by("patient__study_id", "onset")
    ),
    extra_paths=("term",),
)

PROGRESSIONS = Table(
    "clinical_progressions",
    "Clinical progressions recorded by clinicians",
    (
        key_column("progression_id", "Clinical progression key"),
        study_id_column(),
        window_course_column(),
        Column("date", "Date of clinical progression", "date"),
    ),
    lambda scope: (
        ClinicalProgression.objects.filter(patient__in=scope.patients)
        .annotate(window_course_id=course_at("date"))
        .order_by("patient__study_id", "date")
    ),
)

PRIOR_TREATMENTS = Table(
    "prior_treatments",
    "Treatments before (or between) PRRT courses: surgery, analogues, chemotherapy, …",
    (
        key_column("prior_treatment_id", "Prior treatment key"),
        study_id_column(),
        *PRIOR_TREATMENT_COLUMNS,
    ),
    lambda scope: PriorTreatment.objects.filter(patient__in=scope.patients).order_by(
        "patient__study_id", "start", "pk"
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
        PRIOR_TREATMENTS,
    )
}
DICTIONARY_HEADER = ("table", "variable", "label", "type", "unit", "codes")


def tables_for(scope: ExportScope, names: Iterable[str] | None = None) -> list[Table]:
    """The named tables (default all) as this scope writes them."""
    chosen = [TABLES[n] for n in names] if names else list(TABLES.values())
    if scope.whole_registry:
        return [
            with_custom(REGISTRY_PATIENTS, "registry_patients")
            if t is PATIENTS
            else with_custom(t, t.name)
            for t in chosen
        ]
    return [with_custom(t, t.name) for t in chosen]


__all__ = [
    "TABLES",
    "count_rows",
    "dictionary_rows",
    "headers",
    "iter_rows",
    "table_counts",
    "table_queryset",
    "tables_for",
]
