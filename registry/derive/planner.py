"""Fresh planner statistics after a bulk write (PostgreSQL only).

Autovacuum analyses a table only some time after a bulk write; until then PostgreSQL
plans for the table as it was (empty, after a first import or recompute) and picks
nested loops over hundreds of thousands of rows. The writes that fill whole tables
(a big import, `recompute --all`) analyse what they wrote (issue 17: the dashboard's
queries took 5.8 s before, 0.7 s after).
"""

from __future__ import annotations

from django.db import connection


def analyze(*models) -> None:
    """ANALYZE the models' tables; nothing on other databases."""
    if connection.vendor != "postgresql" or not models:
        return
    quoted = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in models)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {quoted}")
