"""The Aalen–Johansen jackknife's accumulated sums equal the influence of each subject
summed one by one, as the module's formula writes it (an independent oracle beside R)."""

from __future__ import annotations

import numpy as np
import pytest

from registry.clinical import competing
from registry.clinical.competing import aalen_johansen


def _brute_force_se(times, events, cause: int) -> np.ndarray:
    t, e = np.asarray(times, float), np.asarray(events, int)
    grid = np.unique(t[e > 0])
    n = np.array([(t >= x).sum() for x in grid], float)
    d = np.array([((t == x) & (e > 0)).sum() for x in grid], float)
    dk = np.array([((t == x) & (e == cause)).sum() for x in grid], float)
    h = d / n
    s_before = np.concatenate(([1.0], np.cumprod(1 - h)[:-1]))
    f = np.cumsum(s_before * dk / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(h < 1, h / (n * (1 - h)), 0.0)
        jump = np.where(h < 1, 1 / (n * (1 - h)), 0.0)
    big_c, big_cf, bk = np.cumsum(c), np.cumsum(c * f), np.cumsum(s_before * dk / n**2)
    variance = np.zeros(len(grid))
    for time, event in zip(t, e, strict=True):
        j = np.searchsorted(grid, time, side="right") - 1
        if j < 0:
            continue
        for i in range(len(grid)):
            low = min(i, j)
            u = f[i] * big_c[low] - big_cf[low] - bk[low]
            if j <= i and event > 0:
                u -= (f[i] - f[j]) * jump[j]
            if j <= i and event == cause:
                u += s_before[j] / n[j]
            variance[i] += u * u
    return np.sqrt(variance)


@pytest.mark.parametrize("seed", range(6))
def test_the_bounds_are_those_of_each_subjects_influence_summed(seed):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(8, 120))
    times = np.round(rng.exponential(10, size), int(seed % 3))  # ties at 0 and 1 decimals
    events = rng.choice([0, 1, 2], size, p=[0.4, 0.4, 0.2])
    fit = aalen_johansen(times, events)
    for cause, (p, lower, upper) in (
        (1, (fit.progression, fit.progression_lower, fit.progression_upper)),
        (2, (fit.death, fit.death_lower, fit.death_upper)),
    ):
        want_lower, want_upper = competing._log_bounds(p, _brute_force_se(times, events, cause))
        np.testing.assert_allclose(lower, want_lower, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(upper, want_upper, rtol=1e-10, atol=1e-14)
