"""Cox proportional hazards regression, as R's `coxph` and its `summary` (CLINICAL.md §4b).

The fit is a well-kept library's, not an optimiser of ours. With Efron ties (R's
default) it is lifelines' (`SemiParametricPHFitter`, what `CoxPHFitter` runs):
Newton–Raphson with step halving from zero, to a relative change of the log
likelihood of 1e-14 (R's `coxph` stops at 1e-9; the fit lands within ~1e-12 of
the optimum, R's within ~1e-9), whose first iteration's score and information
at zero we keep for the score test. lifelines
has no Breslow ties: those, and any Efron fit lifelines does not bring to
convergence, are statsmodels' `PHReg` (Newton from zero to a tolerance of 1e-10
on the coefficients, BFGS first where Newton alone fails). lifelines is the
faster of the two (its risk-set pass is one loop over subjects; statsmodels'
Efron pass loops per event time in Python: issue 13's benchmark).
From the fit we take, as R's `summary` prints them: coefficients, standard errors (inverse
information), hazard ratios with exp(coef ± 1.959964·se), Wald z and p; the
likelihood-ratio test 2(ℓ(β̂) − ℓ(0)), the Wald test β̂ᵀ V⁻¹ β̂ and the score
test U(0)ᵀ I(0)⁻¹ U(0), each with df = the number of terms; and Harrell's
concordance with R's standard error (`registry.clinical.concordance`).

`design` builds the model matrix the way R's formula does for the
covariates of CONTRACT.md: numbers as they are, booleans as 0/1,
categories as indicator columns against a reference level (by default the
first level in sorted code order, as R's factors).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from registry.clinical.concordance import concordance
from registry.clinical.survival import Z95, chi2_p

TIES = ("efron", "breslow")
NUMBER, BOOLEAN, CATEGORY = "number", "boolean", "category"


@dataclass(frozen=True, slots=True)
class Term:
    """One column of the model matrix: a covariate, or one level of a categorical one."""

    term: str
    covariate: str
    level: str | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class TermResult:
    term: str
    covariate: str
    level: str | None
    reference: str | None
    coef: float
    se: float
    hr: float
    ci95: tuple[float, float]
    z: float
    p: float


@dataclass(frozen=True, slots=True)
class Test:
    chi2: float
    df: int
    p: float


@dataclass(frozen=True)
class CoxResult:
    ties: str
    n: int
    events: int
    terms: tuple[TermResult, ...]
    likelihood_ratio: Test
    wald: Test
    score: Test
    concordance: float | None  # None when no pair of patients is comparable
    concordance_se: float | None


class DesignError(ValueError):
    """A model that cannot be fitted, with the covariate to blame (or None)."""

    def __init__(self, message: str, covariate: str | None = None):
        super().__init__(message)
        self.covariate = covariate


def design(
    columns: Mapping[str, Sequence[Any]],
    kinds: Mapping[str, str],
    references: Mapping[str, str] | None = None,
) -> tuple[np.ndarray, list[Term]]:
    """The model matrix of complete cases and its terms, as R's formula builds it (§4b).

    `columns` holds one value per subject for each covariate (no None: leave
    incomplete subjects out first); `kinds` says number, boolean or category.
    A reference level that does not occur is a DesignError naming the covariate.
    """
    references = references or {}
    blocks: list[np.ndarray] = []
    terms: list[Term] = []
    for name, values in columns.items():
        kind = kinds[name]
        if kind == CATEGORY:
            levels = sorted({str(v) for v in values})
            reference = references.get(name, levels[0] if levels else None)
            if reference not in levels:
                raise DesignError(
                    f"Reference level {reference!r} does not occur; levels: {', '.join(levels)}.",
                    name,
                )
            codes = np.array([str(v) for v in values])
            for level in levels:
                if level != reference:
                    blocks.append((codes == level).astype(float))
                    terms.append(Term(f"{name}={level}", name, level, reference))
        else:
            blocks.append(np.array([float(v) for v in values], dtype=float))
            terms.append(Term(name, name))
    matrix = np.column_stack(blocks) if blocks else np.zeros((0, 0))
    return matrix, terms


def cox_fit(
    times: ArrayLike, events: ArrayLike, matrix: np.ndarray, terms: Sequence[Term], *,
    ties: str = "efron",
) -> CoxResult:  # fmt: skip
    """Fit the model and summarise it as R's `summary(coxph)` (§4b); DesignError if it cannot."""
    from scipy import stats

    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}")
    t = np.asarray(times, dtype=float)
    e = np.asarray(events).astype(bool)
    n, k = matrix.shape if matrix.size else (len(t), 0)
    if k == 0:
        raise DesignError("Choose at least one covariate.")
    if e.sum() == 0:
        raise DesignError("The cohort has no events: there is nothing to fit.")
    for j, term in enumerate(terms):
        if np.ptp(matrix[:, j]) == 0:
            raise DesignError(f"{term.term} is the same for every patient.", term.covariate)
    if np.linalg.matrix_rank(matrix - matrix.mean(axis=0)) < k:
        raise DesignError("Two or more covariates are collinear; leave one out.")
    # Centred, as R's coxph does: the coefficients are the same, and Newton's first
    # steps from zero stay sane for covariates far from zero (age in years).
    centred = matrix - matrix.mean(axis=0)
    fit = (_lifelines_fit(t, e, centred) if ties == "efron" else None) or _statsmodels_fit(
        t, e, centred, ties
    )
    beta, covariance = fit.beta, fit.covariance
    if np.any(np.abs(beta) * centred.std(axis=0) > 25):
        # R warns "coefficient may be infinite" and prints a huge one: a hazard ratio of
        # e^25 per standard deviation is a separation, not an estimate.
        raise DesignError(_SEPARATION)
    with np.errstate(all="ignore"):
        se = np.sqrt(np.diag(covariance))
        bounds = np.exp(np.concatenate([beta - Z95 * se, beta + Z95 * se]))
    if not (
        np.isfinite(se).all() and np.isfinite(bounds).all() and np.isfinite(np.exp(beta)).all()
    ):
        # A level with one or two patients: an estimate without any precision.
        raise DesignError(_SEPARATION)
    lr = 2 * (fit.loglike - fit.loglike_zero)
    try:
        wald = float(beta @ np.linalg.solve(covariance, beta))
        score = float(fit.score_zero @ np.linalg.solve(fit.information_zero, fit.score_zero))
    except np.linalg.LinAlgError as exc:  # no information at zero: nothing to test
        raise DesignError(_SEPARATION) from exc
    rows = []
    for j, term in enumerate(terms):
        z = beta[j] / se[j]
        rows.append(
            TermResult(
                term=term.term,
                covariate=term.covariate,
                level=term.level,
                reference=term.reference,
                coef=float(beta[j]),
                se=float(se[j]),
                hr=math.exp(beta[j]),
                ci95=(math.exp(beta[j] - Z95 * se[j]), math.exp(beta[j] + Z95 * se[j])),
                z=float(z),
                p=max(float(2 * stats.norm.sf(abs(z))), np.nextafter(0.0, 1.0)),
            )
        )
    c = concordance(t, e, centred @ beta)
    return CoxResult(
        ties=ties,
        n=int(n),
        events=int(e.sum()),
        terms=tuple(rows),
        likelihood_ratio=Test(float(lr), k, chi2_p(lr, k)),
        wald=Test(wald, k, chi2_p(wald, k)),
        score=Test(score, k, chi2_p(score, k)),
        concordance=c.c,
        concordance_se=c.se,
    )


@dataclass(frozen=True)
class _Fit:
    """What the summary needs from a fit: β̂, its covariance, ℓ(β̂), and ℓ, U, I at zero."""

    beta: np.ndarray
    covariance: np.ndarray
    loglike: float
    loglike_zero: float
    score_zero: np.ndarray
    information_zero: np.ndarray


def _lifelines_fit(t: np.ndarray, e: np.ndarray, centred: np.ndarray) -> _Fit | None:
    """lifelines' Efron fit, or None where it raises or warns (no convergence, an
    ill-conditioned information matrix): statsmodels' fit then decides.

    `CoxPHFitter` hands an Efron fit to its `SemiParametricPHFitter`; lifelines
    keeps ℓ(0) but not the score and information at zero, so a subclass of the
    latter records them from the first Newton iteration, which evaluates all three at
    β = 0 (on lifelines' standardised columns; the score test is the same on
    any scaling of the columns). These are private methods of lifelines, pinned
    in requirements.lock; the reference tests against R would catch a change.
    """
    import pandas as pd
    from lifelines.exceptions import ConvergenceError, ConvergenceWarning
    from lifelines.fitters.coxph_fitter import SemiParametricPHFitter
    from scipy.linalg import LinAlgWarning

    class Recording(SemiParametricPHFitter):
        at_zero: tuple | None = None

        def _choose_gradient_calculator(self, *args):
            compute = super()._choose_gradient_calculator(*args)

            def recorded(X, T, E, weights, entries, beta):
                h, g, ll = compute(X, T, E, weights, entries, beta)
                if self.at_zero is None and not np.any(beta):
                    self.at_zero = (-np.array(h), np.array(g), float(ll))
                return h, g, ll

            return recorded

    columns = [f"x{j}" for j in range(centred.shape[1])]
    frame = pd.DataFrame(centred, columns=columns)
    frame["_t"], frame["_e"] = t, e
    fitter = Recording()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        warnings.simplefilter("error", LinAlgWarning)
        try:
            # To a relative change of ℓ of 1e-14: R stops at 1e-9, lifelines' default
            # 1e-9 and a Newton decrement of 1e-7 leave ~4e-7 of the optimum
            # (veteran, age); this lands within ~1e-12, one or two steps more.
            fitter.fit(frame, "_t", "_e", fit_options={"precision": 1e-20, "r_precision": 1e-14})
        except (
            ConvergenceError, ConvergenceWarning, LinAlgWarning, np.linalg.LinAlgError, ValueError
        ):  # fmt: skip
            return None
    if fitter.at_zero is None:
        return None
    information_zero, score_zero, loglike_zero = fitter.at_zero
    return _Fit(
        beta=fitter.params_.to_numpy(dtype=float),
        covariance=fitter.variance_matrix_.to_numpy(dtype=float),
        loglike=float(fitter.log_likelihood_),
        loglike_zero=loglike_zero,
        score_zero=score_zero,
        information_zero=information_zero,
    )


def _statsmodels_fit(t: np.ndarray, e: np.ndarray, centred: np.ndarray, ties: str) -> _Fit:
    """statsmodels' PHReg fit (Efron or Breslow); DesignError where it cannot be estimated."""
    from statsmodels.duration.hazard_regression import PHReg

    k = centred.shape[1]
    model = PHReg(t, centred, status=e.astype(float), ties=ties)
    _remember_evaluations(model)
    try:
        beta = _maximise(model, k)
        covariance = np.linalg.inv(-model.hessian(beta))
    except (np.linalg.LinAlgError, ValueError) as exc:
        # A singular information matrix inside the fit (statsmodels' BFGS says
        # ValueError: "need covariance of parameters").
        raise DesignError(_SEPARATION) from exc
    zero = np.zeros(k)
    return _Fit(
        beta=beta,
        covariance=covariance,
        loglike=float(model.loglike(beta)),
        loglike_zero=float(model.loglike(zero)),
        score_zero=model.score(zero),
        information_zero=-model.hessian(zero),
    )


def _remember_evaluations(model) -> None:
    """Keep each log-likelihood, score and Hessian the fit evaluates, by parameter vector.

    Newton's iterations start at zero and end with the score and Hessian at the
    estimate, which is what the tests and the standard errors need again: asked
    once more they are answered from here instead of recomputed (each costs a
    pass over every risk set; issue 13's benchmark).
    """
    for name in ("loglike", "score", "hessian"):
        compute = getattr(model, name)
        seen: dict[bytes, np.ndarray] = {}

        def remembered(params, *args, _compute=compute, _seen=seen):
            if args:
                return _compute(params, *args)
            key = np.asarray(params, dtype=float).tobytes()
            if key not in _seen:
                _seen[key] = _compute(params)
            value = _seen[key]
            return value.copy() if isinstance(value, np.ndarray) else value

        setattr(model, name, remembered)


def _maximise(model, k: int) -> np.ndarray:
    """statsmodels' Newton iterations from zero; where they fail to converge (they take
    no half-steps, R's do), its BFGS, then Newton again from there to full precision."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        # A Newton run that fails is detected below and retried; its warning is noise.
        warnings.simplefilter("ignore")
        beta = np.asarray(
            model.fit(method="newton", start_params=np.zeros(k), maxiter=200, tol=1e-10).params,
            dtype=float,
        )
        if not np.isfinite(beta).all() or np.abs(model.score(beta)).max() > 1e-6:
            start = model.fit(method="bfgs", start_params=np.zeros(k), maxiter=1000).params
            beta = np.asarray(
                model.fit(method="newton", start_params=start, maxiter=200, tol=1e-10).params,
                dtype=float,
            )
    if not np.isfinite(beta).all() or np.abs(model.score(beta)).max() > 1e-4:
        raise DesignError(_SEPARATION)
    return beta


_SEPARATION = (
    "The model cannot be estimated: a covariate (or one of its levels, or too few "
    "patients in a level) separates the events, so its hazard ratio is infinite or has "
    "no precision. Leave it out, merge levels or widen the cohort."
)
