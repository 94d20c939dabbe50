"""Kaplan–Meier (log-log CI) and 3-group log-rank on 100,000 subjects: ours vs lifelines.

Run: .venv/bin/python bench/bench_survival.py [--n 100000] [--repeat 5]

Both libraries get the same data in the same run; the best of `--repeat`
wall-clock timings is reported, with the ratio ours / lifelines (< 1 = faster).
Times are whole days expressed in months (days / 30.4375), as the registry
stores them, so there are many ties; `--continuous` uses untied times.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry.clinical.survival import kaplan_meier, logrank


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    timings = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - t0)
    return min(timings)


def make_data(n: int, continuous: bool, seed: int = 2010) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    groups = rng.choice(np.array(["pancreas", "midgut", "other"]), n)
    scale_days = np.where(groups == "pancreas", 450.0, np.where(groups == "midgut", 600.0, 520.0))
    event_days = rng.exponential(scale_days)
    censor_days = rng.uniform(30, 1800, n)
    days = np.minimum(event_days, censor_days)
    if not continuous:
        days = np.ceil(days)
    events = event_days <= censor_days
    return days / 30.4375, events, groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--continuous", action="store_true")
    args = parser.parse_args()

    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    times, events, groups = make_data(args.n, args.continuous)
    print(
        f"n = {args.n:,}, distinct times = {len(np.unique(times)):,}, "
        f"events = {int(events.sum()):,}, groups = 3, best of {args.repeat}"
    )

    ours_km = kaplan_meier(times, events, conf_type="log-log")
    kmf = KaplanMeierFitter().fit(times, events)
    theirs_median = kmf.median_survival_time_
    ci = kmf.confidence_interval_survival_function_.iloc[1:, 0].to_numpy()
    defined = ~np.isnan(ours_km.ci_lower)
    max_diff = np.nanmax(np.abs(ours_km.ci_lower[defined] - ci[defined]))
    ours_lr = logrank(times, events, groups)
    theirs_lr = multivariate_logrank_test(times, groups, events)
    print(
        f"check: median {ours_km.median:.4f} vs {theirs_median:.4f}; "
        f"max |lower CI diff| {max_diff:.2e}; "
        f"chi2 {ours_lr.chi2:.6f} vs {theirs_lr.test_statistic:.6f} (df {ours_lr.df})"
    )

    rows = [
        (
            "Kaplan-Meier, log-log CI + median + CI",
            lambda: kaplan_meier(times, events, conf_type="log-log"),
            lambda: KaplanMeierFitter().fit(times, events).median_survival_time_,
        ),
        (
            "log-rank, 3 groups",
            lambda: logrank(times, events, groups),
            lambda: multivariate_logrank_test(times, groups, events).p_value,
        ),
    ]
    print(f"{'task':<40} {'ours (ms)':>10} {'lifelines (ms)':>15} {'ratio':>7}")
    for name, ours, theirs in rows:
        t_ours = best_of(args.repeat, ours)
        t_theirs = best_of(args.repeat, theirs)
        print(f"{name:<40} {t_ours * 1e3:>10.1f} {t_theirs * 1e3:>15.1f} {t_ours / t_theirs:>7.3f}")


if __name__ == "__main__":
    main()
