"""Exact (Clopper–Pearson) confidence intervals for a proportion, as R's `binom.test`.

Used for the report's response rates (objective response CR + PR, disease
control CR + PR + MR + SD; CLINICAL.md §2): with k of n, the bounds are the
beta quantiles B(α/2; k, n − k + 1) and B(1 − α/2; k + 1, n − k), 0 and 1 at
the edges.
"""

from __future__ import annotations

from typing import NamedTuple


class Proportion(NamedTuple):
    count: int
    n: int
    estimate: float | None
    ci95: tuple[float | None, float | None]


def clopper_pearson(count: int, n: int, level: float = 0.95) -> Proportion:
    """Estimate and exact CI of count/n, as R's `binom.test` (§2 response rates)."""
    if n <= 0:
        return Proportion(count, n, None, (None, None))
    if not 0 <= count <= n:
        raise ValueError("count must lie between 0 and n")
    from scipy import stats  # here, not at import: scipy.stats adds ~1.2 s to every process start

    alpha = 1 - level
    lower = 0.0 if count == 0 else float(stats.beta.ppf(alpha / 2, count, n - count + 1))
    upper = 1.0 if count == n else float(stats.beta.ppf(1 - alpha / 2, count + 1, n - count))
    return Proportion(count, n, count / n, (lower, upper))
