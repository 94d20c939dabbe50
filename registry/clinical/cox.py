"""Cox proportional hazards regression, as R's `coxph` and its `summary` (CLINICAL.md §4b).

The fit is statsmodels' `PHReg` (Efron or Breslow ties, both as R), not an
optimiser of ours: its Newton iterations from zero are run to a tolerance of
1e-10 on the coefficients (R's `coxph` stops at a relative change of the log
likelihood of 1e-9; both land within ~1e-9 of the optimum). From the fit we
take, as R's `summary` prints them: coefficients, standard errors (inverse
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
    from statsmodels.duration.hazard_regression import PHReg

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
    model = PHReg(t, centred, status=e.astype(float), ties=ties)
    _remember_evaluations(model)
    try:
        beta = _maximise(model, k)
    except np.linalg.LinAlgError as exc:  # a singular information matrix inside the fit
        raise DesignError(_SEPARATION) from exc
    if np.any(np.abs(beta) * centred.std(axis=0) > 25):
        # R warns "coefficient may be infinite" and prints a huge one: a hazard ratio of
        # e^25 per standard deviation is a separation, not an estimate.
        raise DesignError(_SEPARATION)
    try:
        covariance = np.linalg.inv(-model.hessian(beta))
    except np.linalg.LinAlgError as exc:
        raise DesignError(_SEPARATION) from exc
    with np.errstate(all="ignore"):
        se = np.sqrt(np.diag(covariance))
        bounds = np.exp(np.concatenate([beta - Z95 * se, beta + Z95 * se]))
    if not (
        np.isfinite(se).all() and np.isfinite(bounds).all() and np.isfinite(np.exp(beta)).all()
    ):
        # A level with one or two patients: an estimate without any precision.
        raise DesignError(_SEPARATION)
    zero = np.zeros(k)
    u0 = model.score(zero)
    i0 = -model.hessian(zero)
    lr = 2 * (model.loglike(beta) - model.loglike(zero))
    try:
        wald = float(beta @ np.linalg.solve(covariance, beta))
        score = float(u0 @ np.linalg.solve(i0, u0))
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
