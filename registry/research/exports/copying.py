"""The labs table's CSV formatted by PostgreSQL: `COPY (…) TO STDOUT`, the same bytes.

The lab table is the export's giant (≈ 160 rows a patient, 5M at 30,000
patients). Written cell by cell in Python it ran at ~28k rows/s (issue 17);
here the database formats every cell and Python passes the bytes on. Each
cell's SQL is what `reading.iter_rows` and `writers.csv_cell` do to it:

- a number is written as Python writes a float (`repr`: `12.0`, `1e-05`),
  rounded as `columns.write_number` rounds it (half away from zero on the
  shortest decimal form, as `round(numeric)` does);
- text that a spreadsheet would run as a formula gets the apostrophe, empty
  text is an empty cell, and a line break inside a cell is CRLF;
- dates are shifted by the patient's secret offset (computed here, in Python,
  and passed as an array indexed by patient id), left as they are, or counted
  from the first cycle, as the export's level says;
- the derived columns (canonical value, default reference limits, their
  source) are looked up in maps built in Python from the same functions the
  Python path calls, for the (analyte, unit) pairs the table holds.

`tests/test_copy_export.py` compares this path with the Python one, byte for
byte, on data made to hit every rule. Only the tables in `FORMATTERS` (labs)
take this path, and only on PostgreSQL; anything else is written by Python.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import F

from registry.clinical.units import CANONICAL_UNIT
from registry.models import Analyte, CourseOutcome, LabResult
from registry.research.exports.columns import (
    FORMULA_STARTS,
    SIGNIFICANT_DIGITS,
    Column,
    Table,
    canonical_decimals,
    csv_cell,
    reference_limit,
    write_number,
)
from registry.research.exports.scope import ExportScope, Level, date_shift_days

# A patient id above this leaves the table to the Python writer: the arrays indexed by
# patient id (date shifts, first cycles, course windows) are as long as the largest id.
MAX_ARRAY_ID = 2_000_000


def literal(text: str) -> str:
    """A SQL string literal (E'…' so that control characters survive as escapes)."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'")
    escaped = escaped.replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")
    return f"E'{escaped}'"


def python_repr(t: str) -> str:
    """SQL for a float8 written as Python's `repr` writes it, from its ::text `t`.

    PostgreSQL's shortest form (extra_float_digits = 1) has the same digits;
    it differs in `100` for `100.0`, in `NaN`/`Infinity`, and in writing
    1e15 ≤ |x| < 1e16 with an exponent, where Python writes every digit. From
    2**52 on, where a short decimal can fall exactly between two floats,
    PostgreSQL may write it with one more digit (`9.286063171919999e+18` for
    Python's `9.28606317192e+18`): the same float, read back by anything. No lab
    value comes near (the plausibility limits, CLINICAL.md §6).
    """
    return (
        # The common case first: a decimal point and no exponent, as it is.
        f"CASE WHEN strpos({t}, '.') > 0 AND strpos({t}, 'e') = 0 THEN {t} "
        f"WHEN {t} IN ('NaN', 'Infinity', '-Infinity') "
        f"THEN CASE {t} WHEN 'NaN' THEN 'nan' WHEN 'Infinity' THEN 'inf' ELSE '-inf' END "
        f"WHEN strpos({t}, 'e') = 0 THEN {t} || '.0' "
        f"WHEN abs(({t})::float8) >= 1e15 AND abs(({t})::float8) < 1e16 "
        f"THEN ({t})::numeric::text || "
        f"CASE WHEN strpos(({t})::numeric::text, '.') = 0 THEN '.0' ELSE '' END "
        f"ELSE {t} END"
    )


def rounded_text(t: str, decimals: str | int | None) -> str:
    """SQL for the ::text of `write_number(x, decimals)` from x's ::text `t`: to
    `decimals` places, or 12 significant digits.

    A number already that short keeps its text, without numeric: so are zero (and
    -0.0), NaN and infinities, as Python leaves them. So the common case converts
    no float to text but the one `t` is (each conversion is a shortest-decimal
    search, ~20M of them in a 4M-row export). Negative numbers rounding to zero
    would lose their sign here (numeric has no -0): the lab table holds none (its
    check constraints).
    """
    n = f"({t})::numeric"
    if decimals is not None:
        short = (
            f"strpos({t}, 'e') = 0 AND "
            f"(strpos({t}, '.') = 0 OR char_length({t}) - strpos({t}, '.') <= {decimals})"
        )
        return f"CASE WHEN {short} THEN {t} ELSE (round({n}, {decimals})::float8)::text END"
    # Twelve digits or fewer in the shortest form (at most 13 characters): as it is.
    # Else round at the 12th digit: the decimal exponent from log10, corrected where
    # the logarithm's own rounding lands on the wrong side of a power of ten.
    e = f"floor(log(abs({n})))::int"
    exponent = (
        f"(CASE WHEN abs({n}) >= 10::numeric ^ ({e} + 1) THEN {e} + 1 "
        f"WHEN abs({n}) < 10::numeric ^ {e} THEN {e} - 1 ELSE {e} END)"
    )
    return (
        f"CASE WHEN char_length({t}) <= {SIGNIFICANT_DIGITS + 1} THEN {t} "
        f"ELSE (round({n}, {SIGNIFICANT_DIGITS - 1} - {exponent})::float8)::text END"
    )


def written_as_is(texts) -> bool:
    """Whether `csv_cell` leaves every one of these texts as it is (no apostrophe, no
    line break), so that constant cells (labels, units) need no SQL of their own."""
    return all(csv_cell(t) == t and "\n" not in t for t in texts)


def text_cell(x: str) -> str:
    """SQL for a text cell as `csv_cell` writes it (formula apostrophe, CRLF breaks)."""
    v = f"NULLIF({x}, '')"
    starts = ", ".join(literal(s) for s in FORMULA_STARTS)
    prefixed = f"CASE WHEN left({v}, 1) IN ({starts}) THEN '''' || {v} ELSE {v} END"
    return f"replace({prefixed}, E'\\r\\n', E'\\n')"


@dataclass
class Context:
    """What a cell's SQL may refer to, and the staging that computes each value once.

    Columns are named, unqualified: the inner row's `c0`…, the query's values
    `v0`… (one row of parameters joined to every row, each passed once however
    often the cells name it) and the staged values `s0`…. A value staged at level
    k is computed once per row in a subquery of its own (fenced with OFFSET 0, so
    the planner does not fold it back into each cell that names it: a float
    written as Python writes it names its value eight times).
    """

    alias: dict[str, str]
    patient_ids: list[int] = field(default_factory=list)  # the export's, read once
    params: list = field(default_factory=list)
    casts: list[str] = field(default_factory=list)
    stages: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    numbers: dict[tuple[str, str | int | None], str] = field(default_factory=dict)
    count: int = 0

    def param(self, value, cast: str) -> str:
        self.params.append(value)
        self.casts.append(cast)
        return f"v{len(self.params) - 1}"

    def col(self, path: str) -> str:
        return self.alias[path]

    def let(self, expression: str, level: int) -> str:
        name = f"s{self.count}"
        self.count += 1
        self.stages.setdefault(level, []).append((name, expression))
        return name

    def number(self, x: str, decimals: str | int | None = None, *, level: int = 1) -> str:
        """The cell of a float column: rounded as `write_number`, written as `repr`.
        Each (column, decimals) is converted and rounded once a row, however many
        cells show it (a limit as entered and the limit used)."""
        if (x, decimals) not in self.numbers:
            text = self.let(f"({x})::text", level)
            self.numbers[x, decimals] = self.text_number(text, decimals, level=level + 1)
        return self.numbers[x, decimals]

    def text_number(self, text: str, decimals: str | int | None, *, level: int) -> str:
        """`number` of a float given as its ::text (staged at a lower level)."""
        return python_repr(self.let(rounded_text(text, decimals), level))

    def source(self, inner_sql: str) -> str:
        """The FROM of the cells: the inner query, its values, then each level's stage."""
        values = ", ".join(f"%s::{cast} AS v{i}" for i, cast in enumerate(self.casts))
        sql = f"SELECT * FROM ({inner_sql}) AS q"
        if values:
            sql = f"WITH m AS MATERIALIZED (SELECT {values}) {sql} CROSS JOIN m"
        for level in sorted(self.stages):
            staged = ", ".join(f"{e} AS {name}" for name, e in self.stages[level])
            sql = f"SELECT *, {staged} FROM ({sql}) AS t{level} OFFSET 0"
        return sql


# The arrays indexed by patient id hold no NULL: a subscript of an array with NULLs
# walks its null bitmap (the 9,000th patient's shift cost 9,000 bits for each lab).
NO_DAY = -(2**31)  # a patient without a cycle, in the array of first-cycle days


def by_patient_id(values: dict[int, object], empty: object, size: int) -> list:
    """`values` as an array indexed by patient id (1 … size), `empty` where none."""
    found = [empty] * size
    for pk, value in values.items():
        if pk <= size:
            found[pk - 1] = value
    return found


def date_cell(ctx: Context, path: str, scope: ExportScope, patient: str | None) -> str:
    """A date as `ExportScope.date_value` writes it (ISO, shifted, or days from day 0)."""
    d = ctx.col(path)
    if scope.level == Level.PSEUDONYMISED or patient is None:
        return f"({d})::text"
    size = max(ctx.patient_ids, default=0)
    pid = ctx.col(patient)
    if scope.level == Level.SHIFTED:
        shifts = by_patient_id({pk: date_shift_days(pk) for pk in ctx.patient_ids}, 0, size)
        return f"({d} - {ctx.param(shifts, 'int[]')}[{pid}])::text"
    epoch = dt.date(1970, 1, 1)
    days = {pk: (first - epoch).days for pk, first in scope.first_cycle.items()}
    firsts = by_patient_id(days, NO_DAY, size)
    day = ctx.let(f"{ctx.param(firsts, 'int[]')}[{pid}]", 1)
    return f"CASE WHEN {day} <> {NO_DAY} THEN (({d} - DATE '1970-01-01') - {day})::text END"


def generic_cell(ctx: Context, col: Column, scope: ExportScope, patient: str | None) -> str:
    x = ctx.col(col.path)
    if col.type == "date":
        return date_cell(ctx, col.path, scope, patient)
    if col.type == "number":
        return ctx.number(x, col.decimals)
    if col.type == "integer":
        return f"({x})::text"
    if col.type == "boolean":
        return f"CASE WHEN {x} THEN '1' WHEN NOT {x} THEN '0' END"
    return text_cell(f"({x})::text")


def label_cell(ctx: Context, col: Column, code: str) -> str:
    """The label of the code the SQL `code` gives (empty for an unknown or empty code)."""
    labels = {k: v for k, v in (col.codes or {}).items() if v}
    if len(labels) <= 16:  # a CASE of a few codes is cheaper than a jsonb lookup
        whens = " ".join(
            f"WHEN {ctx.param(k, 'text')} THEN {ctx.param(v, 'text')}" for k, v in labels.items()
        )
        found = f"CASE ({code})::text {whens} END" if whens else "NULL"
    else:
        found = f"{ctx.param(json.dumps(labels), 'jsonb')} ->> ({code})::text"
    return found if written_as_is(labels.values()) else text_cell(found)


# --- the labs table's derived columns ------------------------------------------


def _defaults(ctx: Context) -> tuple[str, str]:
    """Maps of the default LLN and ULN cells by analyte, unit as entered and sex key,
    from `reference_limit` itself, for every (analyte, unit) the lab table holds."""
    pairs = LabResult.objects.values_list("analyte", "unit").distinct().order_by()
    lln, uln = reference_limit("lln"), reference_limit("uln")
    maps: tuple[dict[str, str], dict[str, str]] = ({}, {})
    for analyte, unit in pairs:
        for sex in ("F", "M"):
            row = {"analyte": analyte, "unit": unit, "patient__sex": sex, "lln": None, "uln": None}
            for found, limit in zip(maps, (lln, uln), strict=True):
                value = limit(row, None)
                if value is not None:
                    found[f"{analyte}|{unit}|{sex}"] = repr(write_number(value, None))
    return ctx.param(json.dumps(maps[0]), "jsonb"), ctx.param(json.dumps(maps[1]), "jsonb")


def _lab_cells(ctx: Context) -> dict[str, Callable[[], str]]:
    analyte, unit = ctx.col("analyte"), ctx.col("unit")
    lln, uln = ctx.col("lln"), ctx.col("uln")
    staged: dict[str, str] = {}

    def default(which: int) -> str:
        """The default limit's cell (None where there is none), looked up once a row."""
        if not staged:
            sex = f"CASE WHEN {ctx.col('patient__sex')} = 'F' THEN 'F' ELSE 'M' END"
            key = ctx.let(f"{analyte} || '|' || {unit} || '|' || {sex}", 1)
            maps = _defaults(ctx)
            staged["lln"] = ctx.let(f"{maps[0]} ->> {key}", 2)
            staged["uln"] = ctx.let(f"{maps[1]} ->> {key}", 2)
        return staged["lln" if which == 0 else "uln"]

    def limit(own: str, which: int) -> str:
        return f"CASE WHEN {own} > 0 THEN {ctx.number(own)} ELSE {default(which)} END"

    def canonical_value() -> str:
        places = {a: canonical_decimals(a) for a in Analyte.values}
        decimals = ctx.let(f"({ctx.param(json.dumps(places), 'jsonb')} ->> {analyte})::int", 1)
        # As the Python path: to the unit's decimals, then (as every float) to 12 digits.
        text = ctx.let(f"({ctx.col('canonical_value')})::text", 1)
        to_places = ctx.let(rounded_text(text, decimals), 2)
        return ctx.text_number(to_places, None, level=3)

    def canonical_unit() -> str:
        unit_of = f"{ctx.param(json.dumps(CANONICAL_UNIT), 'jsonb')} ->> {analyte}"
        return unit_of if written_as_is(CANONICAL_UNIT.values()) else text_cell(unit_of)

    def analyte_code() -> str:
        # The table's check constraint holds analyte to its codes, all written as they are.
        return analyte if written_as_is(Analyte.values) else text_cell(analyte)

    def study_id() -> str:
        # The patient table's check constraint: [A-Za-z0-9_-]{1,32}; only "-" needs "'".
        x = ctx.col("patient__study_id")
        return f"CASE WHEN left({x}, 1) = '-' THEN '''' || {x} ELSE {x} END"

    def range_source() -> str:
        if "source" not in staged:
            staged["source"] = ctx.let(
                f"CASE WHEN {lln} > 0 OR {uln} > 0 THEN 'entered' WHEN {default(0)} IS NOT NULL "
                f"OR {default(1)} IS NOT NULL THEN 'default' END",
                3,
            )
        return staged["source"]

    return {
        "analyte": analyte_code,
        "study_id": study_id,
        "canonical_value": canonical_value,
        "canonical_unit": canonical_unit,
        "lln_used": lambda: limit(lln, 0),
        "uln_used": lambda: limit(uln, 1),
        "range_source": range_source,
    }


FORMATTERS: dict[str, Callable[[Context], dict[str, Callable[[], str]]]] = {"labs": _lab_cells}

# A patient with more courses than this keeps the correlated lookup (`course_at`).
MAX_WINDOWS = 8


def course_windows(scope: ExportScope, size: int) -> list[tuple[list, list]] | None:
    """The course windows of the export's patients as arrays by patient id (1 … size):
    for the k-th course of each patient (by start, then id) its start and its id,
    NULL-free (no course: 9999-12-31 and 0). None where a patient has more than
    MAX_WINDOWS courses."""
    courses: dict[int, list[tuple[dt.date, int]]] = {}
    rows = (
        CourseOutcome.objects.filter(patient__in=scope.patients)
        .order_by("patient_id", "start", "course_id")
        .values_list("patient_id", "start", "course_id")
    )
    for patient_id, start, course_id in rows:
        courses.setdefault(patient_id, []).append((start, course_id))
    most = max(map(len, courses.values()), default=0)
    if most > MAX_WINDOWS:
        return None
    kth = [{pk: found[k] for pk, found in courses.items() if k < len(found)} for k in range(most)]
    return [
        (
            by_patient_id({pk: start for pk, (start, _) in course.items()}, dt.date.max, size),
            by_patient_id({pk: cid for pk, (_, cid) in course.items()}, 0, size),
        )
        for course in kth
    ]


def window_course_cell(ctx: Context, windows, date: str, patient: str) -> str:
    """`course_at`'s answer from the arrays: the latest course started on or before the
    date (the later course id where two start the same day), blank before the first."""
    whens = []
    for starts, ids in reversed(windows):
        s, c = ctx.param(starts, "date[]"), ctx.param(ids, "bigint[]")
        whens.append(f"WHEN {date} >= {s}[{patient}] THEN ({c}[{patient}])::text")
    return f"CASE {' '.join(whens)} END" if whens else "NULL"


def copy_statements(
    table: Table, scope: ExportScope, split_from: int | None = None
) -> list[tuple[str, list]] | None:
    """The table's COPY statements and their parameters: the whole table, and for an
    export of at least `split_from` patients its two halves, the rows of the patients
    before the median patient id and those from it on. None where the table or the
    database is not one this module formats. The halves are in the table's order only
    where it is ordered by patient id first (`copystream.ordered_by_patient`)."""
    if connection.vendor != "postgresql" or table.name not in FORMATTERS:
        return None
    # The arrays below are as long as the largest patient id: check it before any.
    patient_ids = list(scope.patients.values_list("pk", flat=True))
    size = max(patient_ids, default=0)
    if size > MAX_ARRAY_ID:
        return None
    windows = course_windows(scope, size) if "window_course_id" in table.paths(scope) else None
    # The window course from arrays, not from a lookup per row (~1.4 s of 1.4M labs).
    paths = [p for p in table.paths(scope) if windows is None or p != "window_course_id"]
    alias = {path: f"c{i}" for i, path in enumerate(paths)}
    ctx = Context(alias, patient_ids)
    derived = FORMATTERS[table.name](ctx)
    if windows is not None:
        patient = ctx.col(table.patient_path)
        derived["course_id"] = lambda: window_course_cell(ctx, windows, ctx.col("date"), patient)
    cells = []
    for _, col, is_label in table.output_columns(scope):
        if col.derive is not None and col.name not in derived:
            return None
        if is_label:
            code = derived[col.name]() if col.derive is not None else ctx.col(col.path)
            cells.append(label_cell(ctx, col, code))
        elif col.name in derived:
            cells.append(derived[col.name]())
        else:
            cells.append(generic_cell(ctx, col, scope, table.patient_path))
    rows = table.rows(scope)
    split_at = None
    if split_from is not None and len(patient_ids) >= split_from:
        split_at = sorted(patient_ids)[len(patient_ids) // 2]
    parts = [rows] if split_at is None else [
        rows,
        rows.filter(**{f"{table.patient_path}__lt": split_at}),
        rows.filter(**{f"{table.patient_path}__gte": split_at}),
    ]  # fmt: skip
    statements = []
    for part in parts:
        inner = part.values(**{alias[p]: F(p) for p in paths})
        inner_sql, inner_params = inner.query.sql_with_params()
        # One row of values joined to every row, stages that add columns: the inner
        # query's order is kept.
        body = f"SELECT {', '.join(cells)} FROM ({ctx.source(inner_sql)}) AS cells"
        statements.append(
            (f"COPY ({body}) TO STDOUT WITH (FORMAT csv)", [*ctx.params, *inner_params])
        )
    return statements
