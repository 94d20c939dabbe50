"""The parts export tables are made of: a `Column` (one variable and its dictionary row),
a `Table`, and the column groups and derivations several tables share.

Numbers are written without float noise (`write_number`): canonical lab values
rounded to the decimals their unit warrants (`CANONICAL_DECIMALS`), sums of
lesion sizes to 0.01, everything else to 12 significant digits. Rounding is of
the number as written (its shortest decimal form), half away from zero, as a
clinician rounds: 12.25 g/dL to one decimal is 12.3 (Python's `round` would
give 12.2, from the binary value just below), and the same rule as
PostgreSQL's `round(numeric)`, so the labs CSV formatted by the database is the
same file (`registry.research.exports.copying`).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery, TextChoices

from registry.clinical import ctcae
from registry.clinical.units import CANONICAL_UNIT
from registry.models import (
    CauseOfDeath,
    CourseOutcome,
    Criteria,
    FunctionalSyndrome,
    Phase,
    PrimarySite,
    ResponseCode,
    Sex,
    WhoGrade,
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
# Text a spreadsheet would read as a formula when it opens a CSV (OWASP's "CSV
# injection"): a study ID typed as `=HYPERLINK(…)` must reach the statistician as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: ISO dates, empty for None, and text that a spreadsheet
    would run as a formula prefixed with an apostrophe (numbers are left alone).
    A line break inside text is written CRLF, as the lines end (RFC 4180)."""
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        if value.startswith(FORMULA_STARTS):
            value = "'" + value
        if "\n" in value:
            value = value.replace("\r\n", "\n").replace("\n", "\r\n")
    return value


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


def write_number(value: float, decimals: int | None) -> float:
    """`value` to `decimals` decimals, or to 12 significant digits (module docstring)."""
    text = repr(value)
    mantissa = text.partition("e")[0].lstrip("-")
    if not math.isfinite(value):
        return value
    if decimals is not None:
        if "e+" in text or ("e" not in text and len(mantissa.partition(".")[2]) <= decimals):
            return value  # already as short (1e16 and more is whole), without Decimal
        return float(Decimal(text).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP))
    if len(mantissa.replace(".", "").lstrip("0")) <= SIGNIFICANT_DIGITS:
        return value
    number = Decimal(text)
    step = Decimal(1).scaleb(number.adjusted() - SIGNIFICANT_DIGITS + 1)
    return float(number.quantize(step, ROUND_HALF_UP))


def course_at(date_path: str, patient_path: str = "patient_id") -> Subquery:
    """The course whose window holds a dated row: the latest course started on or before it."""
    return Subquery(
        CourseOutcome.objects.filter(
            patient_id=OuterRef(patient_path), start__lte=OuterRef(date_path)
        )
        .order_by("-start", "-course_id")  # two starting the same day: the later id
        .values("course_id")[:1]
    )


def key_column(name: str, label: str, source: str = "id") -> Column:
    return Column(name, label, "integer", source=source)


def study_id_column(source: str = "patient__study_id") -> Column:
    return Column("study_id", "Study ID (pseudonym; the patient key)", "string", source=source)


def window_course_column() -> Column:
    return Column(
        "course_id",
        "Course key: the course whose window holds this date (blank before the first course)",
        "integer",
        source="window_course_id",
    )


def ttp_regular_columns() -> tuple[Column, ...]:
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


def grade_columns(prefix: str = "grade_") -> tuple[Column, ...]:
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


def response_columns() -> tuple[Column, ...]:
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


def endpoint_columns() -> tuple[Column, ...]:
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
    *response_columns(),
    Column("overridden", "Best response overridden by a clinician", "boolean", codes=BOOLEAN_CODES),
    *grade_columns(),
    *endpoint_columns(),
)


def age_at_start(row: dict[str, Any], scope: ExportScope) -> int | None:
    return age_at(row["patient__identity__birth_date"], row["start"])


def age_at_first_cycle(row: dict[str, Any], scope: ExportScope) -> int | None:
    return age_at(row["identity__birth_date"], scope.first_cycle.get(row["id"]))


def patient_columns(prefix: str) -> tuple[Column, ...]:
    """The patient's own variables, read through `prefix` (`patient__` from a course row)."""
    return (
        study_id_column(f"{prefix}study_id"),
        Column("site", "Treatment site code (joins sites)", "string", source=f"{prefix}site__code"),
        coded("sex", "Sex", Sex, source=f"{prefix}sex"),
        coded("primary_site", "Primary tumour site", PrimarySite, source=f"{prefix}primary_site"),
        Column("ki67_percent", "Ki-67 index", "number", "%", source=f"{prefix}ki67_percent"),
        Column("diagnosis_date", "Date of diagnosis", "date", source=f"{prefix}diagnosis_date"),
        Column("last_follow_up", "Last follow-up", "date", source=f"{prefix}last_follow_up"),
        Column("death_date", "Date of death", "date", source=f"{prefix}death_date"),
        *patient_record_columns(prefix),
        Column(
            "lifetime_activity_gbq",
            "Lifetime cumulative activity",
            "number",
            "GBq",
            source=f"{prefix}state__cumulative_activity_gbq",
        ),
        *ttp_regular_columns(),
    )


def patient_record_columns(prefix: str) -> tuple[Column, ...]:
    """The patient's variables of the lutetia-cohort/2 record."""
    return (
        coded("who_grade", "WHO grade", WhoGrade, source=f"{prefix}who_grade"),
        coded(
            "functional_syndrome",
            "Hormone (functional) syndrome",
            FunctionalSyndrome,
            source=f"{prefix}functional_syndrome",
        ),
        coded("cause_of_death", "Cause of death", CauseOfDeath, source=f"{prefix}cause_of_death"),
    )


def canonical_value(row: dict[str, Any], scope: ExportScope) -> float | None:
    value = row["canonical_value"]
    if value is None:
        return None
    return write_number(value, canonical_decimals(row["analyte"]))


def canonical_decimals(analyte: str) -> int:
    return CANONICAL_DECIMALS.get(CANONICAL_UNIT.get(analyte, ""), 3)


def reference_limit(which: str):
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
        return None if value is None else write_number(value, 6)

    return derive


def range_source(row: dict[str, Any], scope: ExportScope) -> str:
    own = any(row[k] is not None and row[k] > 0 for k in ("lln", "uln"))
    if own:
        return "entered"
    used = any(reference_limit(which)(row, scope) is not None for which in ("lln", "uln"))
    return "default" if used else ""


def is_index_course(row: dict[str, Any], scope: ExportScope) -> bool:
    return row["course_id"] in scope.index_courses


def lesion_sum(criteria: str, decimals: int):
    def derive(row: dict[str, Any], scope: ExportScope) -> float | None:
        value = row["total_mm"]
        if row["criteria"] != criteria or value is None:
            return None
        return write_number(value, decimals)

    return derive
