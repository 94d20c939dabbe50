"""Python's cyclic garbage collector, paused while a cohort's answer is computed.

A cold research page builds ~100,000 model instances at 30,000 patients, all alive
until the answer is made. CPython's collector runs a collection every 700 net
allocations and, every so often, traverses the whole growing heap again: at 30,000
patients that was 40–50 % of a cold dashboard (3.7–4.4 s, 2.5–2.7 s with the
collector paused; the API's cohort report 2.3–2.7 s, 1.1 s). Reference counting
still frees nearly everything at once; the collector resumes when the computation
ends and its next collection frees the few cycles the rows made (an outcome and its
course refer to each other).

Pauses nest and may overlap across a worker's threads: the collector resumes when
the last one ends, and only if it was running when the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_pauses = 0
_resume = False


@contextmanager
def collection_paused() -> Iterator[None]:
    global _pauses, _resume
    with _lock:
        if _pauses == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _resume:
                gc.enable()
