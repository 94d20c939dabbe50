"""A query the database answers while Python goes on with the rest of a page.

A cold dashboard at 30,000 patients spent 0.5–1 s waiting for PostgreSQL to
summarise the platelets (one aggregate over ~400k values) and more than a second in
Python on the cohort's other panels, one after the other. `ahead(work)` starts `work`
on a thread with its own connection and returns the function that waits for its
answer: the server summarises on the second core while this one builds the rest.

Only on PostgreSQL in autocommit (a request, `manage.py`): inside a transaction, a
second connection would not see what the transaction wrote (a test, an import), and
SQLite's connections are not for sharing work; there `work` runs when its answer is
first asked for, on this connection, exactly as without `ahead`. The thread closes its
connection when done; an exception in `work` is raised where the answer is asked for.
Each query sees what was committed when it ran, as the page's other queries do.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.db import connection, connections

T = TypeVar("T")


def concurrent() -> bool:
    """Whether `ahead` runs its work on a second connection here."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def ahead(work: Callable[[], T]) -> Callable[[], T]:
    """Start `work` now on its own connection where that can help; call the result for
    its answer (waiting for it if need be)."""
    if not concurrent():
        return work

    def run() -> T:
        try:
            return work()
        finally:
            connections.close_all()  # this thread's connections, not the caller's

    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lutetia-ahead")
    future = executor.submit(run)
    executor.shutdown(wait=False)
    return future.result
