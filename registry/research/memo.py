"""Cohort results kept for as long as the data they were computed from.

A research page or a cohort analysis reads the whole cohort: at 30,000 patients that is
seconds for an answer that stays the same until something is written. `memoised` keeps
the answer in the shared cache under a key made of

- what was asked: the name of the result and every query parameter (sorted);
- who asks, as far as it changes the answer: the role (research staff see no identifiers)
  and the sites the user may see, never the user's name;
- the data version (`registry.derive.version`), which every write moves on commit;
- the code: a digest of the source, so a deployment never serves an older release's answer.

So two researchers of the same sites share an answer, a clinician of another site never
sees it, and the first request after any write computes afresh. The time limit
(`LUTETIA_RESULT_CACHE_SECONDS`, 0 = off) only bounds how long an answer could outlive a
write whose version move the cache missed (an outage). A cache that cannot be reached, or
an entry that cannot be read back, means computing afresh, never an error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from registry.access import role_of, visible_sites
from registry.collector import collection_paused
from registry.derive.version import data_version, kept, result_key

T = TypeVar("T")


def memoised(request, name: str, compute: Callable[[], T]) -> T:
    """`compute()`, or its answer to the same question on the same data and scope.
    Computed with Python's garbage collector paused (`collector`)."""

    def paused() -> T:
        with collection_paused():
            return compute()

    version = data_version()
    if version is None:
        return paused()
    return kept(memo_key(request, name, version), paused)


def memo_key(request, name: str, version: str) -> str:
    """The cache key of a question (see the module's docstring)."""
    params = getattr(request, "query_params", request.GET)
    sites = sorted(visible_sites(request.user).values_list("pk", flat=True))
    return result_key(
        "memo",
        name,
        version,
        code_digest(),
        str(role_of(request.user)),
        ",".join(map(str, sites)),
        repr(sorted(params.lists())),
    )


@lru_cache(maxsize=1)
def code_digest() -> str:
    """A digest of the application's Python source (read once per process)."""
    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    for package in ("registry", "api"):
        for path in sorted((root / package).rglob("*.py")):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
