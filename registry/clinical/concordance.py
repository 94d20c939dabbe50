"""Harrell's concordance of a Cox model and its standard error, as R's `coxph` (§4b).

A pair is comparable when the subject with the shorter time had an event
(a subject censored at that same time still counts as later; two events at
one time are `tied.y`, not comparable). It is concordant when the earlier
failure has the higher risk score, discordant when the lower, and `tied.x`
when the scores are equal, which counts one half:

    C = (concordant + tied.x / 2) / (concordant + discordant + tied.x).

The standard error is R's `concordancefit`: the infinitesimal jackknife of
Somers' d = 2C − 1, from each subject's counts of the three kinds of pairs it
belongs to, halved. No library computes it (lifelines gives C only), so the
counts are ours: two sweeps over the times, each a batch of "how many
subjects already passed have a lower (an equal) risk rank" questions, answered
with numpy in blocks (`_dominance`, O(n √n) element work but no Python loop per
subject), checked against R in `tests/reference/analyses.json` and against the
plain Fenwick-tree sweep (`_sweep`, kept as the readable definition) in the tests.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray


class Concordance(NamedTuple):
    c: float | None  # None: no comparable pair (every event tied in time), R's NaN
    se: float | None
    concordant: int
    discordant: int
    tied_x: int
    tied_y: int


class _Fenwick:
    """Counts of inserted ranks, with prefix sums (ranks 0 … size − 1).

    A Python list, not a numpy array: element access in these tight loops is
    several times faster on a list.
    """

    def __init__(self, size: int):
        self.tree = [0] * (size + 1)
        self.size = size

    def add(self, rank: int) -> None:
        tree, size = self.tree, self.size
        i = rank + 1
        while i <= size:
            tree[i] += 1
            i += i & -i

    def below(self, rank: int) -> int:
        """How many inserted ranks are < rank."""
        tree = self.tree
        total, i = 0, rank
        while i > 0:
            total += tree[i]
            i -= i & -i
        return total


def concordance(times: ArrayLike, events: ArrayLike, risk: ArrayLike) -> Concordance:
    """Concordance of `risk` (higher = earlier failure) with the survival times (§4b)."""
    t = np.asarray(times, dtype=float).ravel()
    e = np.asarray(events).astype(bool).ravel()
    x = np.asarray(risk, dtype=float).ravel()
    n = len(t)
    ranks = np.unique(x, return_inverse=True)[1].astype(np.int64)
    # Per subject: pairs it is in, by kind (concordant, discordant, tied.x).
    per = np.zeros((n, 3), dtype=np.int64)
    if n:
        per += _pair_counts(t, e, ranks)
    conc, disc, tied_x = (int(v) // 2 for v in per.sum(axis=0))  # each pair counted twice
    events_at = np.unique(t[e], return_counts=True)[1]
    tied_y = int(((events_at * (events_at - 1)) // 2).sum())
    pairs = conc + disc + tied_x
    if pairs == 0:
        return Concordance(None, None, 0, 0, 0, tied_y)
    somers = (conc - disc) / pairs
    dfbeta = (per[:, 0] - per[:, 1]) / pairs - (somers / pairs) * per.sum(axis=1)
    return Concordance(
        c=(somers + 1) / 2,
        se=float(np.sqrt((dfbeta**2).sum() / 4)),
        concordant=conc,
        discordant=disc,
        tied_x=tied_x,
        tied_y=tied_y,
    )


def _sweep(t: NDArray, e: NDArray, ranks: NDArray, size: int, per: NDArray, *, up: bool):
    """One pass over the times with a Fenwick tree of the ranks already passed.

    Down (`up=False`, latest first): each event subject meets the later
    subjects — later times, and the censored at its own time, inserted before
    its events are queried. Up (earliest first): each subject meets the
    earlier events — a censored subject also the events at its own time,
    inserted before the censored are queried. An earlier event with the
    higher risk makes the pair concordant.
    """
    order = np.lexsort((e, t)) if up else np.lexsort((e, -t))
    # Blocks of equal time, in sweep order.
    cuts = np.flatnonzero(np.diff(t[order])) + 1
    rank = ranks.tolist()
    is_event = e.tolist()
    tree = _Fenwick(size)
    inserted = 0
    counts = [(0, 0, 0)] * len(t)

    def query(i: int) -> tuple[int, int, int]:
        below = tree.below(rank[i])
        equal = tree.below(rank[i] + 1) - below
        return below, inserted - below - equal, equal

    for block in np.split(order, cuts):
        block = block.tolist()
        events = [i for i in block if is_event[i]]
        censored = [i for i in block if not is_event[i]]
        if not up:  # the censored here are later than the events here
            for i in censored:
                tree.add(rank[i])
                inserted += 1
        for i in events:
            below, above, equal = query(i)
            # down: i is the earlier event (concordant: later ones with a lower risk);
            # up: i is the later one (concordant: earlier events with a higher risk)
            counts[i] = (below, above, equal) if not up else (above, below, equal)
        for i in events:
            tree.add(rank[i])
            inserted += 1
        if up:  # the events here are earlier than the censored here
            for i in censored:
                below, above, equal = query(i)
                counts[i] = (above, below, equal)
    per += np.array(counts, dtype=np.int64).reshape(len(t), 3)


def _pair_counts(t: NDArray, e: NDArray, ranks: NDArray) -> NDArray:
    """What the two `_sweep`s add to `per`, computed in batches.

    Each sweep is a sequence of inserts and queries, keyed by (time block, step):
    a query sees the inserts with a smaller key. Down (latest time first): the
    censored of a block are inserted (step 0), its events query (1), then are
    inserted (2). Up (earliest first): a block's events query (0), are inserted
    (1), then its censored query (2).
    """
    n = len(t)
    block = np.unique(t, return_inverse=True)[1].astype(np.int64).ravel()
    per = np.zeros((n, 3), dtype=np.int64)
    events = np.flatnonzero(e)
    censored = np.flatnonzero(~e)
    # Down: later subjects of an event; concordant = a lower risk later.
    down = (block.max() - block) * 3
    before, below, equal = _dominance(
        down + np.where(e, 2, 0), ranks, down[events] + 1, ranks[events]
    )
    per[events] += np.column_stack([below, before - below - equal, equal])
    # Up: earlier events of every subject; concordant = a higher risk earlier.
    up = block * 3
    queries = np.concatenate([events, censored])
    keys = np.concatenate([up[events], up[censored] + 2])
    before, below, equal = _dominance(up[events] + 1, ranks[events], keys, ranks[queries])
    per[queries] += np.column_stack([before - below - equal, below, equal])
    return per


def _dominance(
    insert_key: NDArray, insert_rank: NDArray, query_key: NDArray, query_rank: NDArray
) -> tuple[NDArray, NDArray, NDArray]:
    """For each query: the inserts with a smaller key, and of those the ones whose rank is
    lower, and equal. Inserts are taken in key order in blocks of about √n: the blocks
    wholly before a query are counted with `searchsorted` on their merged, sorted ranks;
    the part of the block a query falls in is compared element by element."""
    order = np.argsort(insert_key, kind="stable")
    keys, values = insert_key[order], insert_rank[order]
    m = len(keys)
    before = np.searchsorted(keys, query_key, side="left")
    below = np.zeros(len(query_key), dtype=np.int64)
    equal = np.zeros(len(query_key), dtype=np.int64)
    size = max(64, int(np.sqrt(max(m, 1))))
    chunk_of = before // size
    by_chunk = np.argsort(chunk_of, kind="stable")
    bounds = np.searchsorted(chunk_of[by_chunk], np.arange(m // size + 2))
    merged = np.zeros(0, dtype=values.dtype)
    for c in range(m // size + 1):
        start = c * size
        chunk = values[start : start + size]
        asked = by_chunk[bounds[c] : bounds[c + 1]]
        if len(asked):
            r = query_rank[asked]
            below[asked] = np.searchsorted(merged, r, side="left")
            equal[asked] = np.searchsorted(merged, r, side="right") - below[asked]
            within = np.arange(len(chunk))[None, :] < (before[asked] - start)[:, None]
            below[asked] += (within & (chunk[None, :] < r[:, None])).sum(axis=1)
            equal[asked] += (within & (chunk[None, :] == r[:, None])).sum(axis=1)
        ordered = np.sort(chunk)
        merged = np.insert(merged, np.searchsorted(merged, ordered), ordered)
    return before, below, equal
