"""The labs CSV PostgreSQL formats (`exports.copying`) is the file Python writes, byte for byte.

Lab rows are made to hit every rule a cell follows: floats Python and
PostgreSQL write differently (100.0, 1e-05, 1.5e15), values past 12 digits,
halves at the unit's decimals, own and default reference limits for both
sexes, units a spreadsheet would run as formulas or with line breaks in them,
every export level and coverage. Then the number rules alone on many floats.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time

import psycopg
import pytest
from django.db import connection

from registry import models
from registry.research import exports
from registry.research.exports import copying, copystream
from registry.research.exports.columns import write_number
from tests import factories
from tests.services import need_postgres
from tests.test_research_report import build_known_cohort

pytestmark = pytest.mark.django_db

D = dt.date
TRICKY = [
    # (analyte, value, unit, canonical, lln, uln)
    ("platelets", 100.0, "10^9/L", 100.0, None, None),
    ("platelets", 48.0, "10^9/l", 48.0, 150.0, 400.0),
    ("platelets", 1e-05, "10^9/L", 1e-05, 0.0, None),
    ("platelets", 1.5e15, "10^9/L", 1.5e15, None, 1e16),
    ("hemoglobin", 12.25, "g/dL", 12.25, None, None),  # a half at 2 decimals? no: 12.25
    ("hemoglobin", 6.5, "mmol/L", 6.5 * 1.611, None, None),  # 10.4715 -> 10.47
    ("hemoglobin", 2.675, "g/dL", 2.675, None, None),  # 2.675 is 2.67499… in binary
    ("hemoglobin", 7.0, "mmol / L", 7.0 * 1.611, None, 11.0),
    ("creatinine", 1.2, "mg/dL", 1.2 * 88.4, None, 1.1),
    ("creatinine", 0.1 + 0.2, "mg/dL", (0.1 + 0.2) * 88.4, None, None),
    ("creatinine", 1 / 3, "µmol/L", 1 / 3, None, None),
    ("creatinine", 123456.7890123456, "umol/L", 123456.7890123456, 0.1 + 0.7, None),
    ("alt", 0.0, "U/L", 0.0, None, None),
    ("alt", 35.05, "U/L", 35.05, None, None),  # a half at 1 decimal
    ("alt", 44.0, "=cmd|'/C'!A0", 44.0, None, None),
    ("alt", 44.0, 'U/"L"', 44.0, None, None),
    ("alt", 44.0, "U,L", 44.0, None, None),
    ("alt", 44.0, "U/\r\nL", 44.0, None, None),
    ("alt", 44.0, "-U/L\n", 44.0, None, None),
    ("bilirubin", 0.00012345678901234, "mg/dL", 0.0021111, None, None),
    ("chromogranin_a", 999.9999999999999, "ug/L", 999.9999999999999, None, None),
    ("egfr", 59.99999999999999, "mL/min/1.73m2", 60.0, None, None),
]


@pytest.fixture
def labs(site, other_site, settings, tmp_path):
    need_postgres()
    settings.MEDIA_ROOT = tmp_path
    patients = list(build_known_cohort(site, other_site).values())
    rows = []
    for i, (analyte, value, unit, canonical, lln, uln) in enumerate(TRICKY):
        rows.append(
            models.LabResult(
                patient=patients[i % len(patients)],
                date=D(2004, 1, 1) + dt.timedelta(days=37 * i),
                analyte=analyte,
                value=value,
                unit=unit,
                canonical_value=canonical,
                lln=lln,
                uln=uln,
            )
        )
    models.LabResult.objects.bulk_create(rows)
    # A patient with labs but no cycle: no day 0 for a relative export.
    lone = factories.PatientFactory(site=site, study_id="-K-lone", sex="F")
    factories.LabFactory(patient=lone, analyte="hemoglobin", value=11.5, unit="g/dL")
    return patients


def python_csv(table, scope) -> bytes:
    text = "".join(writers_stream(table, scope))
    return text.encode()


def writers_stream(table, scope):
    from registry.research.exports.reading import headers, iter_rows
    from registry.research.exports.writers import stream_csv

    return stream_csv(headers(table, scope), iter_rows(table, scope))


@pytest.mark.parametrize("level", ["shifted", "relative", "pseudonymised"])
@pytest.mark.parametrize("coverage", ["cohort", "registry"])
def test_the_database_writes_the_labs_csv_python_writes(labs, level, coverage):
    admin = factories.UserFactory(role="admin")
    scope = exports.export_options(admin, {"deid": level, "coverage": coverage}).scope()
    table = exports.tables_for(scope, ["labs"])[0]
    copied = copystream.stream_copy_csv(table, scope, exports.headers(table, scope))
    assert copied is not None  # PostgreSQL and the labs table: the COPY path
    ours = b"".join(copied)
    theirs = python_csv(table, scope)
    assert ours.count(b"\r\n") > len(TRICKY) // 2
    assert ours.decode().splitlines() == theirs.decode().splitlines()
    assert ours == theirs
    assert copied.rows == exports.table_queryset(table, scope).count()


def test_the_streamed_csv_takes_the_database_path(labs, client):
    admin = factories.UserFactory(role="admin")
    scope = exports.export_options(admin, {"deid": "shifted"}).scope()
    table = exports.tables_for(scope, ["labs"])[0]
    parts = list(exports.stream_table_csv(table, scope))
    assert all(isinstance(part, bytes) for part in parts)  # the Python writer yields text
    assert b"".join(parts) == python_csv(table, scope)


def test_other_tables_and_databases_are_left_to_python(labs):
    admin = factories.UserFactory(role="admin")
    scope = exports.export_options(admin, {}).scope()
    for table in exports.tables_for(scope):
        if table.name != "labs":
            assert copying.copy_statements(table, scope) is None


# --- the number rules on many floats --------------------------------------------


def floats(seed: int, n: int) -> list[float]:
    rng = random.Random(seed)
    values = [0.0, -0.0, 100.0, 1e15, 1.5e15, 9999999999999998.0, 1e16, 1e-4, 1e-5, 2.675]
    values += [12.25, 35.05, 0.1 + 0.2, 1 / 3, 999.9999999999999, 1e22, 5e-324, 1.7e308]
    for _ in range(n):
        exponent = rng.randint(-12, 20)
        mantissa = rng.choice([rng.random(), round(rng.random(), rng.randint(1, 6))])
        values.append(mantissa * 10.0**exponent)
        values.append(round(rng.uniform(0, 1000), rng.randint(0, 4)) + 0.005 * rng.randint(0, 1))
    return values


def database_texts(expression: str, values: list[float]) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SET extra_float_digits = 1")
        cursor.execute(
            f"SELECT {expression} FROM unnest(%s::float8[]) WITH ORDINALITY AS v(x, i) ORDER BY i",
            [values],
        )
        return [row[0] for row in cursor.fetchall()]


def same_as_python(ours: list[str], values: list[float], expected: list[float]) -> None:
    """The same text below 2**52; above it (no lab value comes near) the same float, as
    PostgreSQL may write a decimal on a rounding boundary with one more digit."""
    for text, value, number in zip(ours, values, expected, strict=True):
        if abs(value) < 2.0**52:
            assert text == repr(number), value
        else:
            assert float(text) == number, value


@pytest.mark.parametrize("seed", [1, 2])
def test_floats_are_written_as_python_writes_them(seed):
    need_postgres()
    values = floats(seed, 1500)
    ours = database_texts(copying.python_repr(copying.rounded_text("(v.x)::text", None)), values)
    same_as_python(ours, values, [write_number(v, None) for v in values])
    same_as_python(database_texts(copying.python_repr("(v.x)::text"), values), values, values)


@pytest.mark.parametrize("decimals", [0, 1, 2, 3, 6])
def test_rounding_to_decimals_is_half_away_from_zero_on_the_written_number(decimals):
    need_postgres()
    values = [abs(v) for v in floats(decimals, 800)]
    written = copying.python_repr(copying.rounded_text("(v.x)::text", decimals))
    ours = database_texts(written, values)
    same_as_python(ours, values, [write_number(v, decimals) for v in values])


def test_write_number_rounds_as_a_clinician_does():
    assert write_number(12.25, 1) == 12.3  # round() says 12.2: binary 12.25 is a tie, even
    assert write_number(2.675, 2) == 2.68  # round() says 2.67: binary 2.67499…
    assert write_number(10.4715, 2) == 10.47
    assert write_number(0.1 + 0.2, None) == 0.3
    assert write_number(123456789.123456789, None) == 123456789.123
    assert repr(write_number(-0.0, 2)) == "-0.0"
    assert write_number(1e-05, 2) == 0.0
    assert write_number(9286063171919999000.0, None) == 9.28606317192e18


def test_on_sqlite_every_table_is_written_by_python():
    admin = factories.UserFactory(role="admin")
    scope = exports.export_options(admin, {}).scope()
    labs = exports.tables_for(scope, ["labs"])[0]
    assert (copying.copy_statements(labs, scope) is None) == (connection.vendor != "postgresql")


def test_two_courses_starting_the_same_day_give_the_later_course_on_both_paths(labs):
    first = models.CourseOutcome.objects.order_by("patient_id", "start").first()
    later = models.CourseOutcome.objects.filter(patient_id=first.patient_id).exclude(pk=first.pk)
    later.update(start=first.start)  # derived rows only: the tie course_at must break
    admin = factories.UserFactory(role="admin")
    scope = exports.export_options(admin, {"deid": "pseudonymised", "coverage": "registry"}).scope()
    table = exports.tables_for(scope, ["labs"])[0]
    copied = b"".join(copystream.stream_copy_csv(table, scope, exports.headers(table, scope)))
    assert copied == python_csv(table, scope)
    newest = max(first.course_id, *later.values_list("course_id", flat=True))
    assert f",{newest},".encode() in copied


def test_patient_ids_too_large_for_arrays_leave_the_table_to_python(labs, monkeypatch):
    monkeypatch.setattr(copying, "MAX_ARRAY_ID", 1)
    monkeypatch.setattr(copying, "course_windows", lambda *args: pytest.fail("built arrays"))
    admin = factories.UserFactory(role="admin")
    scope = exports.export_options(admin, {}).scope()
    table = exports.tables_for(scope, ["labs"])[0]
    assert copying.copy_statements(table, scope) is None
    streamed = "".join(
        p.decode() if isinstance(p, bytes) else p for p in exports.stream_table_csv(table, scope)
    )
    assert streamed.encode() == python_csv(table, scope)


# --- a large export over two connections ------------------------------------------


def backends() -> int:
    """Connections to the test database, counted from one of its own (the test's may be
    busy with the export's COPY)."""
    with psycopg.connect(**connection.get_connection_params()) as own:
        return own.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        ).fetchone()[0]


def in_another_connection(work) -> None:
    """Run `work` in a thread, on the thread's own connection (committed at once)."""

    def run():
        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("level", ["shifted", "relative"])
def test_a_split_export_is_the_file_one_copy_writes(labs, level, monkeypatch):
    admin = factories.UserFactory(role="admin")
    scope = exports.export_options(admin, {"deid": level, "coverage": "registry"}).scope()
    table = exports.tables_for(scope, ["labs"])[0]
    header = exports.headers(table, scope)
    whole = copystream.stream_copy_csv(table, scope, header)
    assert whole.halves is None  # fewer patients than SPLIT_FROM
    monkeypatch.setattr(copystream, "SPLIT_FROM", 2)
    split = copystream.stream_copy_csv(table, scope, header)
    before = backends()
    ours = b"".join(split)
    assert split.read_in_halves
    assert ours == b"".join(whole) == python_csv(table, scope)
    assert split.rows == exports.table_queryset(table, scope).count()
    assert backends() == before  # the second connection is closed


@pytest.mark.django_db(transaction=True)
def test_both_halves_read_one_snapshot(labs, monkeypatch):
    """A lab written after the export began is in neither half, even in the half whose
    COPY starts after the write."""
    monkeypatch.setattr(copystream, "SPLIT_FROM", 2)
    monkeypatch.setattr(copystream, "BLOCK", 1)  # a block a row: the export pauses at each
    gate = threading.Event()
    run = copystream._SecondHalf.run

    def after_the_write(half):
        assert gate.wait(30)
        run(half)

    monkeypatch.setattr(copystream._SecondHalf, "run", after_the_write)
    admin = factories.UserFactory(role="admin")
    scope = exports.export_options(admin, {"deid": "pseudonymised", "coverage": "registry"}).scope()
    table = exports.tables_for(scope, ["labs"])[0]
    expected = python_csv(table, scope)
    blocks = iter(copystream.stream_copy_csv(table, scope, exports.headers(table, scope)))
    last = models.Patient.objects.order_by("-pk").first()
    read = [next(blocks), next(blocks)]  # the header and the first row: both COPYs run
    in_another_connection(
        lambda: factories.LabFactory(patient=last, analyte="hemoglobin", value=9.5, unit="g/dL")
    )
    gate.set()
    read += list(blocks)
    assert python_csv(table, scope) != expected  # the lab is there, after the export
    assert b"".join(read) == expected


@pytest.mark.django_db(transaction=True)
def test_an_abandoned_split_export_closes_its_second_connection(labs, monkeypatch):
    monkeypatch.setattr(copystream, "SPLIT_FROM", 2)
    monkeypatch.setattr(copystream, "BLOCK", 1)
    admin = factories.UserFactory(role="admin")
    scope = exports.export_options(admin, {"coverage": "registry"}).scope()
    table = exports.tables_for(scope, ["labs"])[0]
    before = backends()
    blocks = iter(copystream.stream_copy_csv(table, scope, exports.headers(table, scope)))
    next(blocks), next(blocks)
    assert backends() == before + 1
    blocks.close()  # a client that went away
    # The server's backend exits a moment after the client closes its connection: the
    # count may still hold it for a few milliseconds (seen once in a full run).
    deadline = time.monotonic() + 5
    while backends() != before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert backends() == before


def test_an_export_inside_a_transaction_is_not_split(labs, monkeypatch):
    monkeypatch.setattr(copystream, "SPLIT_FROM", 2)
    admin = factories.UserFactory(role="admin")
    scope = exports.export_options(admin, {"coverage": "registry"}).scope()
    table = exports.tables_for(scope, ["labs"])[0]
    copied = copystream.stream_copy_csv(table, scope, exports.headers(table, scope))
    assert copied.halves is not None
    assert b"".join(copied) == python_csv(table, scope)
    assert not copied.read_in_halves  # a second connection would not see this test's rows


def test_only_a_table_in_patient_id_order_may_be_split(labs):
    admin = factories.UserFactory(role="admin")
    scope = exports.export_options(admin, {"coverage": "registry"}).scope()
    assert copystream.ordered_by_patient(exports.TABLES["labs"], scope)
    assert not copystream.ordered_by_patient(exports.TABLES["cycles"], scope)  # by study ID
    assert not copystream.ordered_by_patient(exports.TABLES["sites"], scope)  # no patient
