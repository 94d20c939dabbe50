"""Reading an export table: its rows as values, its headers, counts and dictionary.

Kept apart from `tables`, which only declares what each table holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet

from registry.research.exports.columns import CHUNK_SIZE, Table, write_number
from registry.research.exports.scope import ExportScope


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
                value = write_number(value, col.decimals)
            row.append(value)
        yield row


def headers(table: Table, scope: ExportScope) -> list[str]:
    return [h for h, _, _ in table.output_columns(scope)]


def table_counts(tables: Iterable[Table], scope: ExportScope) -> dict[str, int]:
    return {t.name: table_queryset(t, scope).count() for t in tables}


def count_rows(tables: Iterable[Table], scope: ExportScope) -> int:
    return sum(table_counts(tables, scope).values())
