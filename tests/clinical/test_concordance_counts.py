"""The batched pair counts of the concordance (`_pair_counts`) equal the Fenwick-tree
sweeps that define them (`_sweep`), ties of time and of risk included (§4b)."""

from __future__ import annotations

import numpy as np
import pytest

from registry.clinical import concordance as c


@pytest.mark.parametrize("seed", range(6))
def test_batched_counts_equal_the_sweeps(seed):
    rng = np.random.default_rng(seed)
    for _ in range(60):
        n = int(rng.integers(1, 300 if seed == 5 else 40))
        t = rng.integers(1, 9, n).astype(float)
        e = rng.random(n) < 0.6
        x = rng.integers(0, 6, n).astype(float)
        ranks = np.unique(x, return_inverse=True)[1].astype(np.int64)
        swept = np.zeros((n, 3), dtype=np.int64)
        c._sweep(t, e, ranks, int(ranks.max()) + 1, swept, up=False)
        c._sweep(t, e, ranks, int(ranks.max()) + 1, swept, up=True)
        assert (c._pair_counts(t, e, ranks) == swept).all()


def test_no_events_and_one_subject():
    assert c.concordance([1.0, 2.0], [False, False], [0.1, 0.2]).c is None
    assert c.concordance([1.0], [True], [0.3]).c is None
