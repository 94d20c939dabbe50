"""The README of every export and its R loader: what a recipient needs without asking.

`readme_lines` says which cohort this is (scope, filter, criteria, toxicity
window, de-identification level), who exported it when with which version,
how many rows each file holds, how the tables join, and every derived
variable's definition written out in full — the recipient has no CLINICAL.md.
`load_r` is an R script that reads the CSVs with their types, dates and
factor labels, generated from the same columns as the data dictionary.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping

from django.conf import settings
from django.utils import timezone

from registry.access import role_of
from registry.clinical.courses import DAYS_PER_MONTH
from registry.clinical.units import CANONICAL_UNIT
from registry.research.exports.columns import CANONICAL_DECIMALS, SIGNIFICANT_DIGITS, Table
from registry.research.exports.scope import Coverage, ExportScope, Level

LEVEL_TEXT = {
    Level.PSEUDONYMISED: (
        "Pseudonymised: the study ID replaces name, hospital number and birth date, but every "
        "date is the real calendar date. With the hospital's records the patients can be "
        "re-identified: this is personal data under the GDPR, not de-identified data."
    ),
    Level.SHIFTED: (
        "Dates shifted: every date of a patient was moved back by the same secret number of "
        "days (1 to 364, different for each patient, not given here). Every interval between "
        "a patient's dates (TTP, OS, cycle gaps, days from start) is exact; no calendar date "
        "is the real one, so calendar years and seasons are not reliable. Ages were computed "
        "from the real dates."
    ),
    Level.RELATIVE: (
        "Relative: there are no calendar dates. Every date column is replaced by a `…_day` "
        "column holding the number of days from the patient's first cycle (day 0; negative "
        "before it). A patient without any cycle has no days. Ages were computed from the "
        "real dates."
    ),
}


def _wrap(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, 88, initial_indent=indent, subsequent_indent=indent)


def describe_filter(scope: ExportScope) -> list[tuple[str, str]]:
    """The cohort definition as (item, value) pairs; the report prints the same."""
    rf = scope.filter
    cohort = rf.cohort
    window = cohort.window_days
    items: list[tuple[str, str]] = []
    if scope.whole_registry:
        items.append(("Scope", "the whole registry: every patient you may see, every course"))
    else:
        items.append(
            (
                "Scope",
                f"the cohort of the filter: each patient's {cohort.phase} course {cohort.round}",
            )
        )
        items.append(("Primary sites", ", ".join(cohort.primary_site) or "all"))
        items.append(("Treatment sites", ", ".join(cohort.site) or "all you may see"))
        if cohort.disease_control is not None:
            items.append(
                (
                    "Best response",
                    "disease control (CR, PR, MR, SD)"
                    if cohort.disease_control
                    else "no disease control (PD, NE)",
                )
            )
        if rf.start_from or rf.start_to:
            span = f"{rf.start_from or '…'} to {rf.start_to or '…'}"
            items.append(("Courses started", span))
        if rf.ttp_regular:
            items.append(("TTP after regular therapy", rf.ttp_regular))
        if rf.verified_only:
            items.append(("Record status", "verified courses only (checked by a monitor)"))
    items.append(("Response and progression criteria", cohort.criteria.upper()))
    items.append(("Toxicity window", f"{window} days after the last cycle of a course"))
    items.append(("TTP-after-regular cut-off", f"{rf.ttp_regular_cutoff:g} months"))
    return items


def readme_lines(
    scope: ExportScope, tables: Iterable[Table], counts: Mapping[str, int], files: Mapping[str, str]
) -> list[str]:
    """The README, as lines of text (a README.txt, or a README sheet's rows)."""
    when = timezone.localtime(scope.created_at)
    user = scope.user
    lines = [
        "Lutetia export",
        "==============",
        "",
        f"Exported:          {when:%Y-%m-%d %H:%M %Z}",
        f"Exported by:       {user.get_username()} ({role_of(user) or 'no role'})",
        f"Lutetia version:   {scope.version}",
        f"Coverage:          {Coverage(scope.coverage).label}",
        f"De-identification: {Level(scope.level).label}",
        "",
        "Cohort",
        "------",
    ]
    lines += [f"  {item}: {value}" for item, value in describe_filter(scope)]
    lines += ["", "De-identification", "-----------------"]
    lines += _wrap(LEVEL_TEXT[Level(scope.level)])
    lines += _wrap(
        "Never exported: names, hospital numbers, birth dates and free-text notes. The study "
        "ID is a pseudonym; the key that links it to a person stays in the registry."
    )
    lines += ["", "Files and rows", "--------------"]
    for table in tables:
        lines.append(f"  {files[table.name]:<58} {counts.get(table.name, 0):>9} rows")
        lines += _wrap(table.label, "      ")
    lines += [
        "  dictionary.csv: every variable of every table, its label, type, unit and codes.",
        "  load.R: reads the CSVs into R with their types, dates and factor labels.",
    ]
    lines += ["", "Keys and joins", "--------------"]
    lines += _wrap(
        "study_id is the patient key (patients), site the site key (sites), and every other "
        "table has its own integer key (course_id, cycle_id, lab_id, scan_id, "
        "lesion_measurement_id, time_point_id, adverse_event_id, progression_id). Keys are "
        "the registry's own and stay the same in later exports. cycles, outcomes and "
        "time_points carry the course_id they belong to; labs, scans, adverse events and "
        "clinical progressions carry the course_id of the course whose window holds their "
        "date (blank before the first course); lesions and time_points carry scan_id."
    )
    if not scope.whole_registry:
        lines += _wrap(
            "patients.course_id and outcomes.index_course = 1 mark the cohort's course of each "
            "patient; every other table holds all data of the cohort's patients."
        )
    lines += ["", "Definitions", "-----------"]
    for title, text in definitions(scope):
        lines.append(f"  {title}")
        lines += _wrap(text, "    ")
    lines += ["", "Number formats", "--------------"]
    lines += _wrap(
        "CSV files are UTF-8 with a header row, comma-separated, dates as YYYY-MM-DD, empty "
        "cells for missing values, 1/0 for yes/no. Coded variables hold the code, and a "
        "`_label` column beside it holds the label. A text cell that would start with =, +, "
        "-, @ is prefixed with an apostrophe so that a spreadsheet does not run it. Canonical "
        "lab values are rounded to the decimals of their unit ("
        + ", ".join(f"{unit}: {d}" for unit, d in CANONICAL_DECIMALS.items())
        + "); sums of lesion sizes to 2 decimals; other computed numbers to "
        f"{SIGNIFICANT_DIGITS} significant digits. Values as entered are as entered."
    )
    return lines


# The definitions every README writes out, with the settings of the export filled in.
DEFINITIONS: tuple[tuple[str, str], ...] = (
    (
        "Courses and phases",
        "A course is a run of cycles of one phase: regular (the initial course) or salvage "
        "(additional cycles after progression). Courses of one phase are numbered by date: "
        "round 1, 2, … A course starts on its first cycle's date; its window runs from its "
        "start to the day before the patient's next course starts (or is open).",
    ),
    (
        "Time origin and months",
        "Every time-to-event variable (ttp_*, pfs_*, os_*, follow_up_months) is measured "
        "from the course start. Months = days / {days_per_month}. "
        "days_from_start counts days from the course start.",
    ),
    (
        "Activity",
        "activity_gbq is the sum of administered activity of the course; "
        "cumulative_activity_before_gbq of the patient's earlier courses; "
        "lifetime_activity_gbq of all courses. Intended activity reached: the course's sum "
        "is at least {fraction:g} × the intended activity (blank without one).",
    ),
    (
        "Baseline and follow-up scans",
        "The baseline scan of a course is the latest scan dated on or before the course "
        "start and no more than 120 days before it. Follow-up scans are after the course "
        "start, inside the course window. Without a baseline every time point is NE.",
    ),
    (
        "SWOG with minor response (spd_mm2, best_swog)",
        "Each target lesion contributes long × short diameter; the sum of products (SPD, "
        "mm²) adds all targets. pct = (SPD − SPD at baseline) / SPD at baseline × 100. "
        "First rule that applies: PD = a new lesion, a non-target lesion progressing, or "
        "SPD ≥ 1.25 × nadir (the smallest SPD at baseline or an earlier follow-up) with "
        "SPD > 0; CR = every target 0, no non-target present, no new lesion; PR = pct ≤ "
        "−50; MR = −50 < pct ≤ −25; SD otherwise; NE = a target not evaluated (unless PD "
        "is already met).",
    ),
    (
        "RECIST 1.1 (sod_mm, best_recist)",
        "Sum of diameters (SoD, mm): long diameter of non-nodal targets plus short axis of "
        "nodal targets. Measurable at baseline: non-nodal ≥ 10 mm, nodal short axis ≥ 15 "
        "mm; a target not measurable at baseline counts as non-target. CR = non-nodal "
        "targets 0 and nodal short axes < 10 mm; PR = SoD ≤ 0.70 × baseline; PD = SoD ≥ "
        "1.20 × nadir and at least 5 mm more, a non-target progressing, or a new lesion (a "
        "new node only with short axis ≥ 10 mm); SD otherwise; NE = a target not "
        "evaluated. RECIST has no MR.",
    ),
    (
        "Best overall response (best_swog, best_recist)",
        "The best time-point response (CR > PR > MR > SD) among follow-up scans up to and "
        "including the first PD; PD if the first evaluable time point is PD; NE without a "
        "follow-up scan. SD and MR count only on a scan 42 days or more after the course "
        "start. "
        "{confirmation}"
        "A clinician may override the computed best response with a reason "
        "(overridden = 1).",
    ),
    (
        "Progression date (progression_date_*)",
        "The earliest of the first follow-up scan with time-point response PD (under that "
        "criteria) and a recorded clinical progression, both after the course start and "
        "inside the course window.",
    ),
    (
        "Censoring",
        "A time without an event is censored at the patient's last follow-up date, or, "
        "when that is missing, at the latest dated fact of the patient. A course followed "
        "by another course without a recorded progression is censored the day before the "
        "next course starts.",
    ),
    (
        "TTP, PFS, OS, follow-up",
        "TTP: course start to progression (event = 1); death without progression is "
        "censored at the death date. PFS: start to progression or death, whichever is "
        "first (event = 1). OS: start to death (event = 1), otherwise censored. "
        "follow_up_months: start to last follow-up or death.",
    ),
    (
        "TTP after regular therapy (ttp_regular_*)",
        "The TTP (under the export's criteria) of the patient's regular course of round 1. "
        "Groups at {cutoff:g} months: short = progression before it; long = TTP (event or "
        "censored) at or after it; unclassified = censored before it; blank = no regular "
        "course of round 1.",
    ),
    (
        "Toxicity (grade_*)",
        "CTCAE v5.0 grades from the labs: the worst grade of each analyte among labs dated "
        "after the course start and no later than the last cycle + {window} days, inside "
        "the course window (labs on the start date are pre-treatment). hematologic is the "
        "worst of hemoglobin, platelets, wbc and neutrophils. Hemoglobin is graded in the "
        "unit it was entered in. Creatinine takes the worse of the ULN grade and the grade "
        "against its baseline (the latest value on or before the start, within 90 days); "
        "ALT, AST and bilirubin are graded against the baseline when it was abnormal. "
        "Blank = no lab of that analyte in the window.",
    ),
    (
        "Default reference ranges (lln_used, uln_used)",
        "Used when a lab carries none: platelets LLN 150, wbc LLN 4.0, neutrophils LLN "
        "2.0, lymphocytes LLN 1.0 (10^9/L); hemoglobin LLN female 12.0 g/dL (7.5 mmol/L, "
        "120 g/L), male and unknown 13.5 g/dL (8.5 mmol/L, 135 g/L); creatinine ULN female "
        "90, male and unknown 110 umol/L; ALT ULN 45, AST ULN 40, ALP ULN 120 U/L; "
        "bilirubin ULN 17 umol/L; converted into the unit the value was entered in.",
    ),
    (
        "Canonical units",
        "{canonical_units}. Conversions: hemoglobin g/L ÷ 10, mmol/L × 1.611; cell counts "
        "10^3/uL × 1, /mm3 ÷ 1000; creatinine mg/dL × 88.4; bilirubin mg/dL × 17.1.",
    ),
    (
        "Adverse events",
        "Recorded by clinicians by CTCAE term and grade (e.g. MDS, kidney failure); not "
        "derived from labs. category marks a late toxicity (mds, aml, kidney_failure, "
        "hepatotoxicity, hormonal_crisis, other); the cohort report counts a patient once per "
        "category for an event with onset on or after the start of the reported course.",
    ),
    (
        "State at the course start",
        "ecog, karnofsky, krenning_score (with uptake_modality: SRS = OctreoScan, PET = "
        "68Ga-PET) and the *_metastases variables describe the patient at the start of the "
        "course, as recorded on the course (1 = yes, 0 = no, blank = not recorded); "
        "liver_load is the share of the liver replaced by tumour (lt25, 25to50, gt50).",
    ),
    (
        "Prior treatments",
        "One row per treatment before (or between) PRRT courses; start and end as recorded "
        "(blank = not known; no end = ongoing or not recorded). The report counts a patient "
        "for a treatment that started before the reported course, or has no start date.",
    ),
    (
        "The centre's own fields (custom_*)",
        "Variables the centre defined for itself, one column custom_<code> in the table of "
        "their level (patients, courses, cycles, scans); the dictionary gives each one's "
        "label, type, unit and codes. Fields the centre marked identifying are not exported. "
        "Retired fields (no longer entered) are still exported with their values.",
    ),
    (
        "Ages",
        "Completed years at the course start (age_at_start) or at the first cycle "
        "(age_at_first_cycle), computed from the real birth date before export.",
    ),
)


def definitions(scope: ExportScope) -> list[tuple[str, str]]:
    confirm = settings.RESPONSE_CONFIRMATION_DAYS
    values = {
        "days_per_month": DAYS_PER_MONTH,
        "fraction": settings.LUTETIA_INTENDED_ACTIVITY_FRACTION,
        "window": scope.filter.cohort.window_days,
        "cutoff": scope.filter.ttp_regular_cutoff,
        "confirmation": (
            f"CR and PR need a confirming scan at least {confirm} days later. "
            if confirm
            else "No confirmation scan is required. "
        ),
        "canonical_units": ", ".join(f"{a}: {u}" for a, u in CANONICAL_UNIT.items()),
    }
    return [(title, text.format(**values)) for title, text in DEFINITIONS]


# --- R -------------------------------------------------------------------------------

R_CLASSES = {
    "string": "character",
    "code": "character",
    "integer": "integer",
    "boolean": "integer",
    "number": "numeric",
    "date": "Date",
}


def _r_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _r_vector(values: Iterable[str]) -> str:
    return "c(" + ", ".join(_r_string(v) for v in values) + ")"


def load_r(scope: ExportScope, tables: Iterable[Table], files: Mapping[str, str]) -> str:
    """An R script that reads every CSV of the export with its types, dates and labels.

    Base R only (no packages): `read.csv` with `colClasses`, so a column that
    is empty in this export is still integer or numeric, never logical; codes
    become factors with the dictionary's labels and levels in its order.
    """
    out = [
        "# Lutetia export: reads every table into the list `lutetia` (base R, no packages).",
        '# Run it from the folder the ZIP was unpacked into: source("load.R")',
        "lutetia <- list()",
        "",
    ]
    for table in tables:
        classes, factors = [], []
        for header, col, is_label in table.output_columns(scope):
            written = col.as_written(scope)
            if is_label:
                classes.append(f'{header} = "character"')
                continue
            classes.append(f'{header} = "{R_CLASSES[written.type]}"')
            if written.type == "code" and written.codes:
                factors.append((header, written.codes))
        out.append(f"lutetia${table.name} <- read.csv(")
        out.append(f"  {_r_string(files[table.name])},")
        out.append("  colClasses = c(" + ", ".join(classes) + "),")
        out.append('  na.strings = "", encoding = "UTF-8", check.names = FALSE')
        out.append(")")
        for header, codes in factors:
            out.append(
                f"lutetia${table.name}${header} <- factor(lutetia${table.name}${header}, "
                f"levels = {_r_vector(codes)}, labels = {_r_vector(codes.values())})"
            )
        out.append("")
    out.append("invisible(lutetia)")
    return "\n".join(out) + "\n"
