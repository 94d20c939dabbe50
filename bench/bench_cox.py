"""Cox regression with 5 covariates: Lutetia's path vs lifelines on the same arrays.

Ours is `registry.clinical.cox`: the model matrix (`design`, with a
categorical covariate as R builds it), lifelines' Efron fit, the LR, Wald and
score tests, R's concordance with its standard error and the checks for
separation. The baseline is lifelines' `CoxPHFitter.fit` plus its
`concordance_index_` (no score test, no concordance SE) on a DataFrame of the
same data, at the same precision, in the same run: the ratio is the overhead of
our layer (issue 13's goal: <= 1.5x). Both are checked to agree on the
coefficients and the concordance first. A third column times statsmodels'
`PHReg(...).fit()` on the same matrix, the engine of our Breslow fits and of
an Efron fit lifelines does not bring to convergence.

    .venv/bin/python bench/bench_cox.py [--n 10000 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    age = rng.normal(62, 10, n).round()
    ki67 = rng.gamma(2, 4, n)
    activity = rng.choice([7.4, 14.8, 22.2, 29.6], n)
    sex = rng.choice(["F", "M"], n)
    site = rng.choice(["midgut", "pancreas", "bronchial"], n, p=[0.5, 0.35, 0.15])
    lp = 0.02 * (age - 62) + 0.05 * ki67 - 0.02 * activity + 0.2 * (sex == "M")
    lp = lp + 0.4 * (site == "pancreas")
    months = np.ceil(rng.exponential(24 * np.exp(-lp)) * 30.4375) / 30.4375  # whole days
    events = rng.random(n) < 0.75
    columns = {"age": age, "ki67": ki67, "activity": activity, "sex": sex, "site": site}
    return months, events, columns


def best(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> int:
    import pandas as pd
    from lifelines import CoxPHFitter

    from registry.clinical import cox

    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    kinds = {"age": cox.NUMBER, "ki67": cox.NUMBER, "activity": cox.NUMBER,
             "sex": cox.CATEGORY, "site": cox.CATEGORY}  # fmt: skip
    print(
        "| subjects | Lutetia (design + fit + 3 tests + C with SE) | lifelines (fit + C) "
        "| ratio | statsmodels PHReg fit (Efron) |"
    )
    print("|---|---|---|---|---|")
    for n in args.n:
        months, events, columns = data(n)

        def ours(columns=columns, months=months, events=events):
            matrix, terms = cox.design(columns, kinds)
            return cox.cox_fit(months, events, matrix, terms, ties="efron")

        def theirs(columns=columns, months=months, events=events):
            frame = pd.DataFrame({"age": columns["age"], "ki67": columns["ki67"],
                                  "activity": columns["activity"],
                                  "sex=M": (columns["sex"] == "M").astype(float),
                                  "site=midgut": (columns["site"] == "midgut").astype(float),
                                  "site=pancreas": (columns["site"] == "pancreas").astype(float),
                                  "T": months, "E": events})  # fmt: skip
            fitter = CoxPHFitter().fit(frame, "T", "E", fit_options={"precision": 1e-12})
            return fitter, fitter.concordance_index_

        def statsmodels_alone(columns=columns, months=months, events=events):
            from statsmodels.duration.hazard_regression import PHReg

            matrix, _ = cox.design(columns, kinds)
            return PHReg(months, matrix, status=events.astype(float), ties="efron").fit()

        ours_s, fit = best(ours, args.repeat)
        theirs_s, (fitter, c) = best(theirs, args.repeat)
        library_s, _ = best(statsmodels_alone, args.repeat)
        mine = {t.term: t.coef for t in fit.terms}
        for term, coef in fitter.params_.items():
            assert abs(mine[term] - coef) < 1e-6 * max(1, abs(coef)), (term, mine[term], coef)
        assert abs(fit.concordance - c) < 1e-9, (fit.concordance, c)
        print(
            f"| {n:,} | {ours_s:.2f} s | {theirs_s:.2f} s | {ours_s / theirs_s:.2f} "
            f"| {library_s:.2f} s |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
