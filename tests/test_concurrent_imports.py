"""Two imports of the same new study IDs at the same moment (security review, finding 6).

On PostgreSQL the patients go in by COPY, which bypasses Django's cursor
wrapper: the import that lost the race used to crash with a raw
`psycopg.errors.UniqueViolation` instead of answering the documented
"the registry changed during the import; retry". Both imports here pass their
checks before either writes, so the loser's COPY meets the winner's rows.
"""

from __future__ import annotations

import copy
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from registry import models as m
from registry.interchange import documents, importing
from tests import factories
from tests.services import need_postgres


@pytest.mark.django_db(transaction=True)
def test_the_loser_of_a_concurrent_import_is_told_to_retry(reference, monkeypatch):
    need_postgres()
    doc = copy.deepcopy(reference("example_cohort.json"))
    for site in doc["sites"]:
        factories.SiteFactory(code=site["code"], name=site["name"])
    both_checked = threading.Barrier(2, timeout=30)
    write = importing.ImportWriter.write

    def after_both_have_looked(self, *args, **kwargs):
        both_checked.wait()  # each has read "no such patient" before either writes
        return write(self, *args, **kwargs)

    monkeypatch.setattr(importing.ImportWriter, "write", after_both_have_looked)
    monkeypatch.setattr(importing, "schedule_recompute", lambda ids: None)

    def run(_):
        try:
            return documents.import_document(copy.deepcopy(doc))
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, range(2)))

    won = [r for r in results if not r.errors]
    lost = [r for r in results if r.errors]
    assert len(won) == 1 and len(lost) == 1, [r.errors for r in results]
    assert won[0].created == len(doc["patients"])
    [error] = lost[0].errors
    assert error.path == "$" and "registry changed during the import" in error.message
    assert error.message.endswith("retry.")
    assert m.Patient.objects.count() == len(doc["patients"])  # the loser wrote nothing
