"""The labs CSV's bytes as PostgreSQL formats them, read over one or two connections.

`copying.copy_statements` makes the COPY statements; this module runs them. A large
export is split in two by patient id: the first half is streamed on the
request's own connection while a helper thread reads the second half on a
second connection into a temporary file, which follows the first half. Both
server processes format at once — the cells' SQL, not the transfer, is what an
export's time goes to (issue 17: 14.4 s against a raw COPY's 3.25 s at 30,000
patients). Both read one snapshot: the request's transaction is REPEATABLE READ
and exports its snapshot (`pg_export_snapshot`), which the second transaction
takes (`SET TRANSACTION SNAPSHOT`), as `pg_dump --jobs` does. So the file is the
one a single COPY writes, byte for byte.

Not split: small exports (fewer than `SPLIT_FROM` patients), tables not ordered by
patient id first, and any export read inside a transaction already open (a test's,
or an atomic request's): the second connection would not see what that transaction
wrote, so the whole table is read in one COPY instead.
"""

from __future__ import annotations

import csv
import io
import tempfile
import threading
from collections.abc import Iterator

import psycopg
from django.db import connection, transaction
from psycopg import sql

from registry.research.exports.columns import Table
from registry.research.exports.copying import copy_statements
from registry.research.exports.scope import ExportScope

# Patients from which an export is split over two connections.
SPLIT_FROM = 2000

SETTINGS = (
    # The float form the cells are written for, whatever the server's default.
    "SET LOCAL extra_float_digits = 1",
    "SET LOCAL DateStyle = 'ISO, YMD'",
    # No JIT: compiling the cells' expressions took 31 s of a 1.4M-row export.
    "SET LOCAL jit = off",
)

BLOCK = 256 * 1024


def _blocks(copy) -> Iterator[tuple[bytes, int]]:
    """The COPY's rows as CSV blocks of about BLOCK bytes, with how many rows each holds
    (PostgreSQL sends one message per row); line ends made CRLF, as csv writes them."""
    block: list[bytes] = []
    size = 0
    for data in copy:
        block.append(bytes(data))
        size += len(data)
        if size >= BLOCK:
            yield b"".join(block).replace(b"\n", b"\r\n"), len(block)
            block, size = [], 0
    if block:
        yield b"".join(block).replace(b"\n", b"\r\n"), len(block)


class _SecondHalf(threading.Thread):
    """Reads one COPY on its own connection, in the given snapshot, into a temporary file."""

    def __init__(self, statement: tuple[str, list], snapshot: str):
        super().__init__(name="export-second-half", daemon=True)
        self.statement, self.snapshot = statement, snapshot
        self.connection = psycopg.connect(**connection.get_connection_params())
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self.sizes: list[tuple[int, int]] = []  # (bytes, rows) of each block written
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cursor.execute(
                    sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(self.snapshot))
                )
                for setting in SETTINGS:
                    cursor.execute(setting)
                with cursor.copy(*self.statement) as copy:
                    for data, rows in _blocks(copy):
                        self.file.write(data)
                        self.sizes.append((len(data), rows))
        except BaseException as error:  # handed to the reading thread
            self.error = error

    def blocks(self) -> Iterator[tuple[bytes, int]]:
        self.join()
        if self.error is not None:
            raise self.error
        self.file.seek(0)
        for size, rows in self.sizes:
            yield self.file.read(size), rows

    def close(self) -> None:
        if self.is_alive():
            self.connection.cancel()
            self.join()
        self.connection.close()
        self.file.close()


class CopiedCsv:
    """The table's CSV as blocks of bytes (the header, then what PostgreSQL formats),
    counting its rows. `halves`, where given, are read at once over two connections
    unless the reading happens inside an open transaction (`whole` is read then)."""

    def __init__(
        self,
        whole: tuple[str, list],
        header: list[str],
        halves: tuple[tuple[str, list], tuple[str, list]] | None = None,
    ):
        self.whole, self.halves, self.header = whole, halves, header
        self.rows = 0
        self.rows_in_last_block = 0
        self.read_in_halves = False

    def __iter__(self) -> Iterator[bytes]:
        line = io.StringIO()
        csv.writer(line).writerow(self.header)
        yield line.getvalue().encode()
        self.rows_in_last_block = 0
        self.read_in_halves = self.halves is not None and not connection.in_atomic_block
        first, rest = self.halves if self.read_in_halves else (self.whole, None)
        with transaction.atomic(), connection.cursor() as cursor:
            second = None
            if rest is not None:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            for setting in SETTINGS:
                cursor.execute(setting)
            try:
                if rest is not None:
                    cursor.execute("SELECT pg_export_snapshot()")
                    second = _SecondHalf(rest, cursor.fetchone()[0])
                    second.start()
                with cursor.cursor.copy(*first) as copy:
                    yield from self._counted(_blocks(copy))
                if second is not None:
                    yield from self._counted(second.blocks())
            finally:
                if second is not None:
                    second.close()

    def _counted(self, blocks: Iterator[tuple[bytes, int]]) -> Iterator[bytes]:
        for data, rows in blocks:
            self.rows += rows
            self.rows_in_last_block = rows
            yield data


def ordered_by_patient(table: Table, scope: ExportScope) -> bool:
    """Whether the table's rows come in patient id order first (its halves then follow
    each other in the table's order)."""
    order = table.rows(scope).query.order_by
    return bool(table.patient_path) and tuple(order[:1]) == (table.patient_path,)


def stream_copy_csv(table: Table, scope: ExportScope, header: list[str]) -> CopiedCsv | None:
    """The table's CSV formatted by PostgreSQL, or None where Python must write it."""
    split_from = SPLIT_FROM if ordered_by_patient(table, scope) else None
    statements = copy_statements(table, scope, split_from=split_from)
    if statements is None:
        return None
    whole, *halves = statements
    return CopiedCsv(whole, header, (halves[0], halves[1]) if halves else None)
