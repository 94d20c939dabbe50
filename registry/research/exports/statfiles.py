"""SPSS `.sav` and Stata `.dta` files of the export tables, with variable and value labels.

Written with pyreadstat (ReadStat), the library pandas and R's haven use. A
coded variable (phase, response, analyte, …) becomes a numbered variable
1, 2, … in the order of the data dictionary's codes, with the codes' labels
as value labels — Stata labels only numbers, and SPSS users expect the same
— so its `_label` column is left out. Yes/no variables are 0/1 labelled
no/yes; CTCAE grades 0–4 are labelled too. Dates are dates; text stays text.

A table is read into one data frame before it is written (ReadStat writes a
whole file at once), so these formats cost memory in proportion to the
largest table; CSV and XLSX stream.
"""

from __future__ import annotations

import re
from pathlib import Path

from registry.research.exports.columns import Table
from registry.research.exports.scope import ExportScope
from registry.research.exports.tables import iter_rows

STATA_NAME_MAX = 32
STATA_LABEL_MAX = 80


def _numbered(codes: dict[str, str]) -> dict[str, int]:
    return {code: i for i, code in enumerate(codes, start=1)}


def table_frame(table: Table, scope: ExportScope):
    """The table as a pandas DataFrame with the labels pyreadstat writes."""
    import pandas as pd

    layout = [
        (header, col, col.as_written(scope))
        for header, col, is_label in table.output_columns(scope)
        if not is_label
    ]
    keep = [i for i, (_, col, is_label) in enumerate(table.output_columns(scope)) if not is_label]
    rows = [[row[i] for i in keep] for row in iter_rows(table, scope)]
    frame = pd.DataFrame(rows, columns=[h for h, _, _ in layout], dtype=object)
    value_labels: dict[str, dict[float, str]] = {}
    column_labels: dict[str, str] = {}
    empty_dates: list[str] = []
    for header, _, written in layout:
        column_labels[header] = written.label + (f" ({written.unit})" if written.unit else "")
        series = frame[header]
        if written.type == "code" and written.codes:
            numbers = _numbered(written.codes)
            frame[header] = pd.to_numeric(series.map(numbers), errors="coerce").astype("float64")
            value_labels[header] = {float(n): written.codes[c] for c, n in numbers.items()}
        elif written.type in ("integer", "boolean", "number"):
            frame[header] = pd.to_numeric(series, errors="coerce").astype("float64")
            if written.codes:
                value_labels[header] = {float(k): v for k, v in written.codes.items()}
        elif written.type == "date":
            # date objects are written as dates (Stata %td, SPSS DATE11); a column with
            # none would be taken for text, so it is written as a missing number in a
            # date format instead.
            if series.isna().all():
                frame[header] = pd.Series([float("nan")] * len(series), dtype="float64")
                empty_dates.append(header)
        else:
            frame[header] = series.map(lambda v: "" if v is None else str(v)).astype(object)
    return frame, column_labels, value_labels, empty_dates


def write_sav(table: Table, scope: ExportScope, path: Path) -> int:
    import pyreadstat

    frame, column_labels, value_labels, empty_dates = table_frame(table, scope)
    pyreadstat.write_sav(
        frame,
        str(path),
        file_label=f"Lutetia {table.name}",
        column_labels=column_labels,
        variable_value_labels=value_labels,
        variable_format=dict.fromkeys(empty_dates, "DATE11"),
    )
    return len(frame)


def _stata_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)[:STATA_NAME_MAX]


def write_dta(table: Table, scope: ExportScope, path: Path) -> int:
    import pyreadstat

    frame, column_labels, value_labels, empty_dates = table_frame(table, scope)
    names = {h: _stata_name(h) for h in frame.columns}
    frame = frame.rename(columns=names)
    pyreadstat.write_dta(
        frame,
        str(path),
        file_label=f"Lutetia {table.name}"[:STATA_LABEL_MAX],
        column_labels={names[h]: label[:STATA_LABEL_MAX] for h, label in column_labels.items()},
        variable_value_labels={names[h]: labels for h, labels in value_labels.items()},
        variable_format={names[h]: "%td" for h in empty_dates},
    )
    return len(frame)
