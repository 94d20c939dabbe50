"""Writing export tables: streamed CSV, a ZIP of CSVs, and XLSX, with the data dictionary.

Memory stays flat whatever the size: CSV is written row by row and XLSX
through openpyxl's write-only mode, so a million-row lab table never sits in
memory. Text that a spreadsheet would run as a formula is neutralised.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from registry.research.cohort import Cohort
from registry.research.exports.tables import (
    DICTIONARY_HEADER,
    TABLES,
    XLSX_MAX_ROWS,
    Table,
    dictionary_rows,
    headers,
    iter_rows,
)

# --- CSV -------------------------------------------------------------------


# Text a spreadsheet would read as a formula when it opens a CSV (OWASP's "CSV
# injection"): a study ID typed as `=HYPERLINK(…)` must reach the statistician as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: ISO dates, empty for None, and text that a spreadsheet
    would run as a formula prefixed with an apostrophe (numbers are left alone)."""
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose write() returns what it was given (Django's CSV-streaming idiom)."""

    def write(self, value: str) -> str:
        return value


def stream_csv(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """CSV text, one line at a time, for a StreamingHttpResponse."""
    writer = csv.writer(_Echo())
    yield writer.writerow(list(header))
    for row in rows:
        yield writer.writerow([csv_cell(v) for v in row])


def stream_table_csv(table: Table, cohort: Cohort) -> Iterator[str]:
    return stream_csv(headers(table), iter_rows(table, cohort))


def stream_dictionary_csv() -> Iterator[str]:
    return stream_csv(DICTIONARY_HEADER, dictionary_rows())


ProgressCallback = Callable[[int], None]


@dataclass
class _Counter:
    """Counts rows written across tables and reports progress every `every` rows."""

    callback: ProgressCallback | None
    every: int = 10_000
    done: int = field(default=0)

    def tick(self) -> None:
        self.done += 1
        if self.callback and self.done % self.every == 0:
            self.callback(self.done)


def write_csv_zip(
    target: IO[bytes],
    cohort: Cohort,
    tables: Iterable[Table] | None = None,
    progress: ProgressCallback | None = None,
) -> int:
    """A ZIP of one CSV per table plus `dictionary.csv`, written row by row. Returns rows."""
    tables = list(tables or TABLES.values())
    counter = _Counter(progress)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("dictionary.csv", "w") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            writer = csv.writer(text)
            writer.writerow(DICTIONARY_HEADER)
            writer.writerows(dictionary_rows(tables))
            text.flush()
            text.detach()
        for table in tables:
            with archive.open(f"{table.name}.csv", "w") as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                writer = csv.writer(text)
                writer.writerow(headers(table))
                for row in iter_rows(table, cohort):
                    writer.writerow([csv_cell(v) for v in row])
                    counter.tick()
                text.flush()
                text.detach()
    return counter.done


# --- XLSX ------------------------------------------------------------------


def write_xlsx(
    target: IO[bytes] | str,
    cohort: Cohort,
    tables: Iterable[Table] | None = None,
    progress: ProgressCallback | None = None,
) -> int:
    """One workbook: a sheet per table and a `dictionary` sheet, in write-only mode.

    Write-only mode keeps one row in memory at a time (openpyxl spools the
    sheet XML to a temporary file), so the workbook's size does not matter.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    def as_text(sheet, row: list[Any]) -> list[Any]:
        # openpyxl stores a string that starts with "=" as a formula; keep it text.
        # (A cell typed as text is never evaluated, so "+", "-" and "@" are safe here.)
        for i, value in enumerate(row):
            if isinstance(value, str) and value.startswith("="):
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"
                row[i] = cell
        return row

    tables = list(tables or TABLES.values())
    counter = _Counter(progress)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("dictionary")
    sheet.append(list(DICTIONARY_HEADER))
    for row in dictionary_rows(tables):
        sheet.append(list(row))
    for table in tables:
        sheet, part, used = book.create_sheet(table.name), 1, 1
        sheet.append(headers(table))
        for row in iter_rows(table, cohort):
            if used == XLSX_MAX_ROWS:  # a sheet holds 1,048,576 rows: go on in the next
                part += 1
                sheet, used = book.create_sheet(f"{table.name}_{part}"), 1
                sheet.append(headers(table))
            sheet.append(as_text(sheet, list(row)))
            used += 1
            counter.tick()
    book.save(target)
    return counter.done
