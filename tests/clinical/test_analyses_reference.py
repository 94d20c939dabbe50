"""Cox, fixed-time survival, RMST, reverse KM, Aalen–Johansen and exact CIs against R.

`tests/reference/analyses.json` holds R's numbers and the data they came from
(`lung`, `veteran`, `mgus2` of R's survival package); `analyses.R` beside it
regenerates them (`Rscript tests/reference/analyses.R > tests/reference/analyses.json`).
The tests need no R. Tolerance: 1e-6 relative (R's coxph itself stops at a
relative log-likelihood change of 1e-9; the rest agrees to ~1e-14).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.clinical import cox, survival
from registry.clinical.competing import aalen_johansen
from registry.clinical.proportions import clopper_pearson

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "analyses.json").read_text())
DATA = REF["data"]
RTOL = 1e-6


def listed(value):
    if isinstance(value, list | tuple | np.ndarray):
        return list(value)
    return [value]  # R's auto_unbox writes a vector of length 1 as a number


def close(mine, theirs, rtol=RTOL) -> None:
    mine = [np.nan if v is None else v for v in listed(mine)]
    theirs = [np.nan if v is None else v for v in listed(theirs)]
    np.testing.assert_allclose(np.array(mine, float), np.array(theirs, float), rtol=rtol, atol=0)


def cox_data(name: str):
    if name == "lung":
        d = DATA["lung"]
        cols = {"age": d["age"], "sex": d["sex"], "ph.ecog": d["ph_ecog"]}
        return d["time"], d["event"], cols, dict.fromkeys(cols, cox.NUMBER)
    d = DATA["veteran"]
    if name == "veteran":
        cols = {"celltype": d["celltype"], "karno": d["karno"]}
        return d["time"], d["status"], cols, {"celltype": cox.CATEGORY, "karno": cox.NUMBER}
    return d["time"], d["status"], {"age": d["age"]}, {"age": cox.NUMBER}


@pytest.mark.parametrize("case", REF["cox"], ids=lambda c: f"{c['name']}-{c['ties']}")
def test_cox_matches_r(case):
    times, events, cols, kinds = cox_data(case["name"])
    matrix, terms = cox.design(cols, kinds)
    fit = cox.cox_fit(times, events, matrix, terms, ties=case["ties"])
    assert (fit.n, fit.events) == (case["n"], case["events"])
    # R names a factor's levels "celltypelarge"; we say "celltype=large".
    assert [t.term.replace("=", "") for t in fit.terms] == listed(case["terms"])
    close([t.coef for t in fit.terms], case["coef"])
    close([t.se for t in fit.terms], case["se"])
    close([t.hr for t in fit.terms], case["hr"])
    close([t.ci95[0] for t in fit.terms], case["ci_lower"])
    close([t.ci95[1] for t in fit.terms], case["ci_upper"])
    close([t.z for t in fit.terms], case["z"])
    close([t.p for t in fit.terms], case["p"])
    for name, test in (("lr", fit.likelihood_ratio), ("wald", fit.wald), ("score", fit.score)):
        assert test.df == case[name]["df"]
        close(test.chi2, case[name]["chi2"])
        close(test.p, case[name]["p"])
    close(fit.concordance, case["concordance"]["c"])
    close(fit.concordance_se, case["concordance"]["se"])


@pytest.mark.parametrize("name", ["lung", "veteran", "veteran_age"])
def test_efron_fits_come_from_lifelines_and_agree_with_statsmodels(name):
    """The Efron fit is lifelines' (issue 13's benchmark); statsmodels' fit, its
    fallback, lands on the same optimum, and both on the same tests at zero."""
    times, events, cols, kinds = cox_data(name)
    matrix, _ = cox.design(cols, kinds)
    centred = matrix - matrix.mean(axis=0)
    t, e = np.asarray(times, float), np.asarray(events).astype(bool)
    ours = cox._lifelines_fit(t, e, centred)
    assert ours is not None  # lifelines converged: no fallback on the reference data
    theirs = cox._statsmodels_fit(t, e, centred, "efron")
    np.testing.assert_allclose(ours.beta, theirs.beta, rtol=1e-8)
    np.testing.assert_allclose(ours.covariance, theirs.covariance, rtol=1e-7)
    np.testing.assert_allclose(
        [ours.loglike, ours.loglike_zero], [theirs.loglike, theirs.loglike_zero], rtol=1e-12
    )
    score = ours.score_zero @ np.linalg.solve(ours.information_zero, ours.score_zero)
    expected = theirs.score_zero @ np.linalg.solve(theirs.information_zero, theirs.score_zero)
    assert score == pytest.approx(expected, rel=1e-10)


def test_a_fit_lifelines_gives_up_on_goes_to_statsmodels():
    """Separation: lifelines warns and gives up, statsmodels' fit says why."""
    t = np.arange(1.0, 7.0)
    separated = np.array([[6.0], [5], [4], [3], [2], [1]])
    assert cox._lifelines_fit(t, np.ones(6, bool), separated - separated.mean()) is None


def test_categories_take_the_first_sorted_level_as_reference_unless_told():
    _, _, cols, kinds = cox_data("veteran")
    _, terms = cox.design(cols, kinds)
    assert [(t.level, t.reference) for t in terms if t.covariate == "celltype"] == [
        ("large", "adeno"),
        ("smallcell", "adeno"),
        ("squamous", "adeno"),
    ]
    _, terms = cox.design(cols, kinds, {"celltype": "squamous"})
    assert [t.level for t in terms if t.covariate == "celltype"] == ["adeno", "large", "smallcell"]
    with pytest.raises(cox.DesignError) as error:
        cox.design(cols, kinds, {"celltype": "huge"})
    assert error.value.covariate == "celltype"


def test_a_model_that_cannot_be_fitted_says_why():
    times, events = [1, 2, 3, 4, 5, 6], [1, 1, 0, 1, 0, 1]
    constant = np.ones((6, 1))
    with pytest.raises(cox.DesignError, match="same for every patient"):
        cox.cox_fit(times, events, constant, [cox.Term("x", "x")])
    twice = np.column_stack([np.arange(6.0), 2 * np.arange(6.0)])
    with pytest.raises(cox.DesignError, match="collinear"):
        cox.cox_fit(times, events, twice, [cox.Term("a", "a"), cox.Term("b", "b")])
    with pytest.raises(cox.DesignError, match="no events"):
        cox.cox_fit(times, [0] * 6, np.arange(6.0)[:, None], [cox.Term("x", "x")])
    # Complete separation: the event order follows x exactly → infinite hazard ratio.
    separated = np.array([[6.0], [5], [4], [3], [2], [1]])
    with pytest.raises(cox.DesignError, match="separates"):
        cox.cox_fit(times, [1] * 6, separated, [cox.Term("x", "x")])


def km_data(name: str):
    if name == "lung":
        return DATA["lung_all"]["time"], DATA["lung_all"]["event"]
    return DATA["veteran"]["time"], DATA["veteran"]["status"]


@pytest.mark.parametrize("case", REF["km"], ids=lambda c: f"{c['name']}-{c['conf_type']}")
def test_survival_at_fixed_times_rmst_and_reverse_km_match_r(case):
    times, events = km_data(case["name"])
    km = survival.kaplan_meier(times, events, conf_type=case["conf_type"])
    at = survival.survival_at_times(km, case["at_times"]["time"])
    assert [r.n_risk for r in at] == case["at_times"]["n_risk"]
    close([r.survival for r in at], case["at_times"]["survival"])
    close([r.ci_lower for r in at], case["at_times"]["ci_lower"])
    close([r.ci_upper for r in at], case["at_times"]["ci_upper"])
    for expected in case["rmst"]:
        mean = survival.restricted_mean(km, expected["tau"])
        close([mean.estimate, mean.se], [expected["estimate"], expected["se"]])
    reverse = survival.kaplan_meier(times, [not e for e in events], conf_type=case["conf_type"])
    r = case["reverse_km"]
    assert (reverse.median, reverse.median_ci_lower, reverse.median_ci_upper) == (
        r["median"],
        r["ci_lower"],
        r["ci_upper"],
    )


@pytest.mark.parametrize("group", ["all", "F", "M"])
def test_aalen_johansen_matches_r_on_mgus2(group):
    d = DATA["mgus2"]
    keep = [i for i, sex in enumerate(d["sex"]) if group in ("all", sex)]
    times = [d["etime"][i] for i in keep]
    events = [d["event"][i] for i in keep]
    fit = aalen_johansen(times, events)
    ref = REF["competing"][group]
    close(fit.time, ref["time"], rtol=0)
    assert fit.n_risk.tolist() == ref["n_risk"]
    close(fit.progression, ref["progression"])
    close(fit.death, ref["death"])
    close(fit.progression_lower, ref["progression_lower"])
    close(fit.progression_upper, ref["progression_upper"])
    close(fit.death_lower, ref["death_lower"])
    close(fit.death_upper, ref["death_upper"])
    at = fit.at(ref["at_times"]["time"], times)
    assert [r["n_risk"] for r in at] == ref["at_times"]["n_risk"]
    close([r["progression"] for r in at], ref["at_times"]["progression"])
    close([r["death"] for r in at], ref["at_times"]["death"])
    close([r["progression_ci"][0] for r in at], ref["at_times"]["progression_lower"])
    close([r["progression_ci"][1] for r in at], ref["at_times"]["progression_upper"])


def test_aalen_johansen_without_competing_deaths_is_one_minus_km():
    rng = np.random.default_rng(7)
    times = rng.integers(1, 40, 200).astype(float)
    events = rng.integers(0, 2, 200)  # progression or censored, no death
    fit = aalen_johansen(times, events)
    km = survival.kaplan_meier(times, events)
    for t, p in zip(fit.time, fit.progression, strict=True):
        assert p == pytest.approx(1 - km.survival_at(t), abs=1e-12)
    assert not fit.death.any()


def test_aalen_johansen_keeps_ties_and_counts_censored_at_an_event_time_at_risk():
    # Two progressions and a death at t = 2, a censoring at 2 too: n at risk 5.
    fit = aalen_johansen([1, 2, 2, 2, 2, 3], [0, 1, 1, 2, 0, 1])
    assert fit.time.tolist() == [2.0, 3.0]
    assert fit.n_risk.tolist() == [5, 1]
    assert fit.progression.tolist() == pytest.approx([2 / 5, 2 / 5 + 2 / 5])
    assert fit.death.tolist() == pytest.approx([1 / 5, 1 / 5])


@pytest.mark.parametrize("case", REF["binom"], ids=lambda c: f"{c['count']}of{c['n']}")
def test_clopper_pearson_matches_binom_test(case):
    rate = clopper_pearson(case["count"], case["n"])
    close(list(rate.ci95), [case["lower"], case["upper"]])


def test_p_values_are_never_zero():
    assert survival.chi2_p(5000.0, 1) > 0
    assert survival.chi2_p(340.0, 1) == pytest.approx(5.4e-76, rel=0.1)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    n=st.integers(2, 25),
    seed=st.integers(0, 10_000),
    levels=st.integers(1, 5),
    event_rate=st.floats(0.0, 1.0),
)
def test_any_small_design_fits_or_says_why(n, seed, levels, event_rate):
    """Small cohorts, rare levels, no events, ties: a result or a DesignError, never a crash,
    and every number of a result finite."""
    rng = np.random.default_rng(seed)
    times = rng.integers(1, 6, n).astype(float)
    events = rng.random(n) < event_rate
    columns = {"x": rng.normal(60, 10, n).round(), "g": rng.integers(0, levels, n).astype(str)}
    try:
        matrix, terms = cox.design(columns, {"x": cox.NUMBER, "g": cox.CATEGORY})
        fit = cox.cox_fit(times, events, matrix, terms)
    except cox.DesignError:
        return
    for t in fit.terms:
        assert all(np.isfinite([t.coef, t.se, t.hr, *t.ci95, t.z, t.p]))
    assert 0 < fit.likelihood_ratio.p <= 1
    # No comparable pair (every event tied in time): C is undefined, null, never NaN.
    assert fit.concordance_se is None or np.isfinite(fit.concordance_se)


def test_concordance_without_a_comparable_pair_is_none():
    from registry.clinical.concordance import concordance

    result = concordance([3, 3, 3], [1, 1, 1], [0.1, 0.5, 0.9])
    assert (result.c, result.se, result.tied_y) == (None, None, 3)
