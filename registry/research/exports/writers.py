"""Writing export tables: streamed CSV, a ZIP of CSVs (and SPSS/Stata files), and XLSX,
with the data dictionary, a README and an R loader.

Memory stays flat whatever the size: CSV is written row by row and XLSX
through openpyxl's write-only mode, so a million-row lab table never sits in
memory. Text that a spreadsheet would run as a formula is neutralised.
"""

from __future__ import annotations

import csv
import io
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from registry.research.exports.columns import XLSX_MAX_ROWS, Table, csv_cell
from registry.research.exports.copystream import stream_copy_csv
from registry.research.exports.readme import load_r, readme_lines
from registry.research.exports.scope import ExportScope
from registry.research.exports.statfiles import write_dta, write_sav
from registry.research.exports.tables import (
    DICTIONARY_HEADER,
    dictionary_rows,
    headers,
    iter_rows,
    tables_for,
)

# --- CSV -------------------------------------------------------------------


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


def stream_table_csv(table: Table, scope: ExportScope) -> Iterator[str] | Iterator[bytes]:
    """The table as CSV: formatted by PostgreSQL where it can (the labs table,
    `copying`), else row by row in Python; the same text either way."""
    copied = stream_copy_csv(table, scope, headers(table, scope))
    if copied is not None:
        return iter(copied)
    return stream_csv(headers(table, scope), iter_rows(table, scope))


def stream_dictionary_csv(
    scope: ExportScope, tables: Iterable[Table] | None = None
) -> Iterator[str]:
    return stream_csv(DICTIONARY_HEADER, dictionary_rows(tables or tables_for(scope), scope))


ProgressCallback = Callable[[int], None]


@dataclass
class _Counter:
    """Counts rows written across tables and reports progress every `every` rows."""

    callback: ProgressCallback | None
    every: int = 10_000
    done: int = field(default=0)
    per_table: dict[str, int] = field(default_factory=dict)

    def tick(self, table: str) -> None:
        self.done += 1
        self.per_table[table] = self.per_table.get(table, 0) + 1
        if self.callback and self.done % self.every == 0:
            self.callback(self.done)

    def add(self, table: str, rows: int) -> None:
        """Rows written in a block (a table PostgreSQL formats)."""
        before = self.done
        self.done += rows
        self.per_table[table] = self.per_table.get(table, 0) + rows
        if self.callback and self.done // self.every > before // self.every:
            self.callback(self.done)

    def advance(self, rows: int) -> None:
        """Rows written again in another format (a `.sav` of a table): progress only."""
        self.done += rows
        if self.callback:
            self.callback(self.done)


STAT_FORMATS = {"sav": ("spss", ".sav", write_sav), "dta": ("stata", ".dta", write_dta)}


def _write_text(archive: zipfile.ZipFile, name: str, text: str) -> None:
    archive.writestr(name, text.encode("utf-8"))


def write_csv_zip(
    target: IO[bytes],
    scope: ExportScope,
    tables: Iterable[Table] | None = None,
    progress: ProgressCallback | None = None,
    stat_formats: Iterable[str] = (),
) -> int:
    """A ZIP of one folder named after the cohort and date: a CSV per table,
    `dictionary.csv`, `README.txt`, `load.R`, and `.sav`/`.dta` files when asked
    (`stat_formats`: "sav", "dta"). CSVs are written row by row. Returns rows."""
    tables = list(tables or tables_for(scope))
    counter = _Counter(progress)
    folder = scope.file_name("export", "")
    files = {t.name: f"{t.name}.csv" for t in tables}
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open(f"{folder}/dictionary.csv", "w") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            writer = csv.writer(text)
            writer.writerow(DICTIONARY_HEADER)
            writer.writerows(dictionary_rows(tables, scope))
            text.flush()
            text.detach()
        for table in tables:
            copied = stream_copy_csv(table, scope, headers(table, scope))
            if copied is not None:
                with archive.open(f"{folder}/{files[table.name]}", "w") as raw:
                    counter.per_table.setdefault(table.name, 0)
                    for block in copied:
                        raw.write(block)
                        counter.add(table.name, copied.rows_in_last_block)
                continue
            with archive.open(f"{folder}/{files[table.name]}", "w") as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                writer = csv.writer(text)
                writer.writerow(headers(table, scope))
                counter.per_table.setdefault(table.name, 0)
                for row in iter_rows(table, scope):
                    writer.writerow([csv_cell(v) for v in row])
                    counter.tick(table.name)
                text.flush()
                text.detach()
        for fmt in stat_formats:
            sub, suffix, write = STAT_FORMATS[fmt]
            with tempfile.TemporaryDirectory() as tmp:
                for table in tables:
                    path = Path(tmp) / f"{table.name}{suffix}"
                    counter.advance(write(table, scope, path))
                    archive.write(path, f"{folder}/{sub}/{table.name}{suffix}")
        _write_text(archive, f"{folder}/load.R", load_r(scope, tables, files))
        readme = readme_lines(scope, tables, counter.per_table, files)
        _write_text(archive, f"{folder}/README.txt", "\n".join(readme) + "\n")
    return sum(counter.per_table.values())


# --- XLSX ------------------------------------------------------------------


def write_xlsx(
    target: IO[bytes] | str,
    scope: ExportScope,
    tables: Iterable[Table] | None = None,
    progress: ProgressCallback | None = None,
) -> int:
    """One workbook: a README sheet, a `dictionary` sheet and a sheet per table,
    in write-only mode.

    Write-only mode keeps one row in memory at a time (openpyxl spools the
    sheet XML to a temporary file), so the workbook's size does not matter.
    The README sheet comes first but is filled last, with the rows written.
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

    tables = list(tables or tables_for(scope))
    counter = _Counter(progress)
    book = Workbook(write_only=True)
    readme = book.create_sheet("README")
    sheet = book.create_sheet("dictionary")
    sheet.append(list(DICTIONARY_HEADER))
    for row in dictionary_rows(tables, scope):
        sheet.append(as_text(sheet, list(row)))
    for table in tables:
        sheet, part, used = book.create_sheet(table.name), 1, 1
        sheet.append(headers(table, scope))
        counter.per_table.setdefault(table.name, 0)
        for row in iter_rows(table, scope):
            if used == XLSX_MAX_ROWS:  # a sheet holds 1,048,576 rows: go on in the next
                part += 1
                sheet, used = book.create_sheet(f"{table.name}_{part}"), 1
                sheet.append(headers(table, scope))
            sheet.append(as_text(sheet, list(row)))
            used += 1
            counter.tick(table.name)
    files = {t.name: f"sheet {t.name}" for t in tables}
    for line in readme_lines(scope, tables, counter.per_table, files):
        readme.append(as_text(readme, [line]))
    book.save(target)
    return counter.done
