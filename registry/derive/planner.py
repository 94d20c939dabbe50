"""Fresh planner statistics after a bulk write (PostgreSQL only).

Autovacuum analyses a table only some time after a bulk write; until then PostgreSQL
plans for the table as it was (empty, after a first import or recompute) and picks
nested loops over hundreds of thousands of rows. The writes that fill whole tables
(a big import, `recompute --all`) analyse what they wrote (issue 17: the dashboard's
queries took 5.8 s before, 0.7 s after).

Outside a transaction they VACUUM too. It marks the written pages all-visible, which
index-only scans need: until then the covering platelet index (`lab_platelets`) fetched
every row from the table anyway. At 30,000 patients after an import, the dashboard's
platelet query took 1.3–2.0 s before VACUUM, 0.5 s after; VACUUM took 2 s.
"""

from __future__ import annotations

from django.db import connection


def analyze(*models) -> None:
    """ANALYZE the models' tables, and VACUUM them outside a transaction (VACUUM cannot
    run inside one); nothing on other databases."""
    if connection.vendor != "postgresql" or not models:
        return
    quoted = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in models)
    command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
    with connection.cursor() as cursor:
        cursor.execute(f"{command} {quoted}")
