"""Kaplan–Meier and log-rank against R (CLINICAL.md §4, reference/km_aml.json)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.clinical.survival import CONF_TYPES, kaplan_meier, logrank, r_quantile_time
from tests.clinical.conftest import load_reference

AML = load_reference("km_aml.json")
GROUPS = AML["groups"]

# R's printed `summary(survfit(Surv(time, status) ~ x, data = aml))` (conf.type "log"):
# (time, survival, lower, upper); None = NA.
R_LOG_SUMMARY = {
    "Maintained": [
        (9, 0.909, 0.7541, 1.000),
        (13, 0.818, 0.6192, 1.000),
        (18, 0.716, 0.4884, 1.000),
        (23, 0.614, 0.3769, 0.999),
        (31, 0.491, 0.2549, 0.946),
        (34, 0.368, 0.1549, 0.875),
        (48, 0.184, 0.0359, 0.944),
    ],
    "Nonmaintained": [
        (5, 0.8333, 0.6470, 1.000),
        (8, 0.6667, 0.4468, 0.995),
        (12, 0.5833, 0.3616, 0.941),
        (23, 0.4861, 0.2675, 0.883),
        (27, 0.3889, 0.1854, 0.816),
        (30, 0.2917, 0.1148, 0.741),
        (33, 0.1944, 0.0569, 0.664),
        (43, 0.0972, 0.0153, 0.620),
        (45, 0.0, None, None),
    ],
}


def fit(name: str, conf_type: str = "log-log"):
    g = GROUPS[name]
    return kaplan_meier(g["time"], g["status"], conf_type=conf_type)


def row_at(result, time: float):
    return next(r for r in result.table if r.time == time)


@pytest.mark.parametrize("name", list(GROUPS))
@pytest.mark.parametrize("conf_type", CONF_TYPES)
def test_aml_counts_survival_and_medians(name: str, conf_type: str) -> None:
    g = GROUPS[name]
    result = fit(name, conf_type)
    assert result.n == g["n"]
    assert result.events == g["events"]
    for t, s in g.get("survival_at", {}).items():
        assert round(row_at(result, float(t)).survival, 4) == s
    assert result.median == g["median"]
    lo, hi = g["median_ci95_" + conf_type.replace("-", "_")]
    assert result.median_ci_lower == lo
    assert result.median_ci_upper == hi


def test_aml_log_log_bounds() -> None:
    result = fit("Maintained", "log-log")
    for t, (lo, hi) in GROUPS["Maintained"]["ci95_log_log_at"].items():
        row = row_at(result, float(t))
        assert (round(row.ci_lower, 4), round(row.ci_upper, 4)) == (lo, hi)


@pytest.mark.parametrize("name", list(R_LOG_SUMMARY))
def test_aml_log_bounds_as_r_prints(name: str) -> None:
    result = fit(name, "log")
    for t, s, lo, hi in R_LOG_SUMMARY[name]:
        row = row_at(result, t)
        assert row.survival == pytest.approx(s, abs=5e-4)
        if lo is None:
            assert row.ci_lower is None and row.ci_upper is None
        else:
            assert row.ci_lower == pytest.approx(lo, abs=5e-5)
            assert row.ci_upper == pytest.approx(hi, abs=5e-4)


def test_aml_plain_bounds_are_clipped() -> None:
    result = fit("Maintained", "plain")
    assert row_at(result, 9).ci_upper == 1.0
    assert row_at(result, 48).ci_lower == 0.0
    s = row_at(result, 31).survival
    se = math.sqrt(1 / (11 * 10) + 1 / (10 * 9) + 1 / (8 * 7) + 1 / (7 * 6) + 1 / (5 * 4))
    assert row_at(result, 31).ci_lower == pytest.approx(s - 1.959964 * se * s, abs=1e-6)


def test_aml_table_rows_like_r_censored_true() -> None:
    result = fit("Maintained")
    assert [r.time for r in result.table] == [9, 13, 18, 23, 28, 31, 34, 45, 48, 161]
    assert [r.n_risk for r in result.table] == [11, 10, 8, 7, 6, 5, 4, 3, 2, 1]
    assert [r.n_event for r in result.table] == [1, 1, 1, 1, 0, 1, 1, 0, 1, 0]
    assert [r.n_censor for r in result.table] == [0, 1, 0, 0, 1, 0, 0, 1, 0, 1]
    last = fit("Nonmaintained").table[-1]
    assert (last.survival, last.ci_lower, last.ci_upper) == (0.0, None, None)


def test_aml_logrank() -> None:
    times, events, groups = [], [], []
    for name, g in GROUPS.items():
        times += g["time"]
        events += g["status"]
        groups += [name] * len(g["time"])
    result = logrank(times, events, groups)
    assert round(result.chi2, 3) == round(AML["logrank"]["chi2"], 3)
    assert round(result.chi2, 4) == AML["logrank"]["chi2"]
    assert result.df == AML["logrank"]["df"]
    assert round(result.p, 4) == AML["logrank"]["p"]
    assert result.groups == ("Maintained", "Nonmaintained")
    assert result.observed == (7, 11)


def test_lifelines_agrees_on_log_log() -> None:
    lifelines = pytest.importorskip("lifelines")
    g = GROUPS["Nonmaintained"]
    kmf = lifelines.KaplanMeierFitter().fit(g["time"], g["status"])
    ours = fit("Nonmaintained")
    ci = kmf.confidence_interval_survival_function_
    for row in ours.table:
        if row.ci_lower is not None:
            assert row.ci_lower == pytest.approx(ci.iloc[:, 0].loc[row.time], abs=1e-9)
            assert row.ci_upper == pytest.approx(ci.iloc[:, 1].loc[row.time], abs=1e-9)


def test_median_midpoint_rule() -> None:
    assert kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1]).median == 2.5
    # A flat at exactly 0.5 to the end: midpoint to the last time (R).
    assert kaplan_meier([1, 2, 3, 4], [1, 1, 0, 0]).median == 3.0
    assert kaplan_meier([1, 2, 3], [1, 1, 1]).median == 2.0


def test_ties_censored_at_event_time_are_at_risk() -> None:
    result = kaplan_meier([2, 2, 2, 3, 5], [1, 1, 0, 1, 0])
    first = result.table[0]
    assert (first.time, first.n_risk, first.n_event, first.n_censor) == (2, 5, 2, 1)
    assert first.survival == pytest.approx(3 / 5)
    assert result.table[1].n_risk == 2
    assert result.table[1].survival == pytest.approx(3 / 5 * 1 / 2)


def test_all_censored() -> None:
    result = kaplan_meier([1, 2, 3], [0, 0, 0], conf_type="log-log")
    assert [r.survival for r in result.table] == [1, 1, 1]
    assert all(r.ci_lower is None for r in result.table)  # R: NA for log-log at S = 1
    assert (result.median, result.median_ci_lower, result.median_ci_upper) == (None, None, None)
    log = kaplan_meier([1, 2, 3], [0, 0, 0], conf_type="log")
    assert (log.table[0].ci_lower, log.table[0].ci_upper) == (1.0, 1.0)


def test_empty_and_single() -> None:
    empty = kaplan_meier([], [])
    assert empty.n == 0 and empty.table == [] and empty.median is None
    one = kaplan_meier([4], [1])
    assert one.table[0].survival == 0 and one.median == 4
    assert logrank([], [], []).p is None


def test_number_at_risk() -> None:
    result = kaplan_meier([1, 2, 2, 5, 8], [1, 0, 1, 1, 0], at=[0, 2, 2.5, 8, 9])
    assert result.at_risk == {0.0: 5, 2.0: 4, 2.5: 2, 8.0: 1, 9.0: 0}
    assert result.survival_at(0.5) == 1.0
    assert result.survival_at(2.4) == pytest.approx(0.8 * 3 / 4)


def test_invalid_input() -> None:
    with pytest.raises(ValueError):
        kaplan_meier([1, 2], [1])
    with pytest.raises(ValueError):
        kaplan_meier([-1], [1])
    with pytest.raises(ValueError):
        kaplan_meier([1], [1], conf_type="arcsine")


def test_logrank_single_group_and_group_without_expected_events() -> None:
    single = logrank([1, 2, 3], [1, 0, 1], ["a", "a", "a"])
    assert (single.chi2, single.df, single.p) == (0.0, 0, None)
    # group "c" is censored before any event: expected 0, dropped as survdiff does
    result = logrank([5, 6, 7, 8, 1], [1, 1, 1, 0, 0], ["a", "a", "b", "b", "c"])
    assert result.df == 1
    assert result.expected[2] == 0


def test_logrank_three_groups_matches_lifelines() -> None:
    stats = pytest.importorskip("lifelines.statistics")
    rng = np.random.default_rng(3)
    n = 300
    groups = rng.choice(["x", "y", "z"], n)
    times = np.round(rng.exponential(np.where(groups == "x", 10, 14)), 0) + 1
    events = rng.random(n) < 0.7
    ours = logrank(times, events, groups)
    theirs = stats.multivariate_logrank_test(times, groups, events)
    assert ours.df == 2
    assert ours.chi2 == pytest.approx(theirs.test_statistic, rel=1e-9)
    assert ours.p == pytest.approx(theirs.p_value, rel=1e-7)


def test_r_quantile_ignores_undefined() -> None:
    t = np.array([1.0, 2.0, 3.0])
    assert r_quantile_time(t, np.array([0.9, np.nan, np.nan])) is None
    assert r_quantile_time(t, np.array([0.9, 0.4, np.nan])) == 2.0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 40), st.booleans()), min_size=1, max_size=60),
    st.sampled_from(CONF_TYPES),
)
def test_km_properties(data, conf_type) -> None:
    times, events = zip(*data, strict=True)
    result = kaplan_meier(times, events, conf_type=conf_type)
    s = result.survival
    assert np.all((s >= 0) & (s <= 1))
    assert np.all(np.diff(s) <= 1e-12)
    assert result.n_risk[0] == len(times)
    assert int(result.n_event.sum()) == sum(events)
    assert int(result.n_event.sum() + result.n_censor.sum()) == len(times)
    for row in result.table:
        if row.ci_lower is not None:
            assert 0 <= row.ci_lower <= row.survival + 1e-12
            assert row.survival - 1e-12 <= row.ci_upper <= 1
    if result.median is not None and result.median_ci_lower is not None:
        assert result.median_ci_lower <= result.median
