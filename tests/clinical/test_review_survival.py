"""Independent review of Kaplan–Meier and log-rank (CLINICAL.md §4).

The expected numbers are computed here from the formulas of CLINICAL.md §4
with plain `math` (no numpy), and cross-checked against lifelines.
"""

from __future__ import annotations

import math

import pytest

from registry.clinical.survival import kaplan_meier, logrank

Z = 1.959964

# times 1, 2, 2+, 3, 4+, 5 (+ = censored)
TIMES = [1, 2, 2, 3, 4, 5]
EVENTS = [1, 1, 0, 1, 0, 1]
# by hand: t=1 n=6 d=1 S=5/6; t=2 n=5 d=1 c=1 S=4/6; t=3 n=3 d=1 S=4/9;
# t=4 n=2 c=1; t=5 n=1 d=1 S=0.  Greenwood Σ d/(n(n−d)): 1/30, +1/20, +1/6, then n = d.
HAND = [
    # time, n_risk, n_event, n_censor, S, V
    (1, 6, 1, 0, 5 / 6, 1 / 30),
    (2, 5, 1, 1, 4 / 6, 1 / 30 + 1 / 20),
    (3, 3, 1, 0, 4 / 9, 1 / 30 + 1 / 20 + 1 / 6),
    (4, 2, 0, 1, 4 / 9, 1 / 30 + 1 / 20 + 1 / 6),
    (5, 1, 1, 0, 0.0, math.inf),
]


def bounds(s: float, v: float, conf_type: str) -> tuple[float | None, float | None]:
    if s == 0 or math.isinf(v):
        return None, None
    se = math.sqrt(v)
    if conf_type == "plain":
        return max(0.0, s - Z * s * se), min(1.0, s + Z * s * se)
    if conf_type == "log":
        return s * math.exp(-Z * se), min(1.0, s * math.exp(Z * se))
    if s == 1:
        return None, None
    k = Z * se / math.log(s)
    return s ** math.exp(-k), s ** math.exp(k)


@pytest.mark.parametrize("conf_type", ["plain", "log", "log-log"])
def test_table_against_hand_computation(conf_type: str) -> None:
    km = kaplan_meier(TIMES, EVENTS, conf_type=conf_type)
    assert len(km.table) == len(HAND)
    for row, (t, n, d, c, s, v) in zip(km.table, HAND, strict=True):
        assert (row.time, row.n_risk, row.n_event, row.n_censor) == (t, n, d, c)
        assert row.survival == pytest.approx(s, abs=1e-12)
        lo, up = bounds(s, v, conf_type)
        for got, want in ((row.ci_lower, lo), (row.ci_upper, up)):
            if want is None:
                assert got is None
            else:
                assert got == pytest.approx(want, abs=1e-6)


def test_hand_numbers_at_t2() -> None:
    # S = 0.666667, √V = √(1/12) = 0.288675
    rows = {ct: kaplan_meier(TIMES, EVENTS, conf_type=ct).table[1] for ct in
            ("plain", "log", "log-log")}  # fmt: skip
    assert rows["plain"].ci_lower == pytest.approx(0.289472, abs=1e-6)  # S − z·S·√V
    assert rows["plain"].ci_upper == 1.0  # 1.043862 clipped
    assert rows["log"].ci_lower == pytest.approx(0.378606, abs=1e-6)  # S·e^(−z√V) = ⅔ · 0.567909
    assert rows["log"].ci_upper == 1.0  # 1.173884 clipped
    assert rows["log-log"].ci_lower == pytest.approx(
        0.194617, abs=1e-6
    )  # S^exp(−k), k = z√V/log S = −1.395416
    assert rows["log-log"].ci_upper == pytest.approx(0.904434, abs=1e-6)


def test_median_and_its_ci() -> None:
    km = kaplan_meier(TIMES, EVENTS)  # log-log default
    assert km.conf_type == "log-log"
    assert km.median == 3  # first S < 0.5: 4/9 at t = 3
    # lower curve: 0.273 at t = 1 already ≤ 0.5; upper curve: 0.975, 0.904, 0.785, 0.785,
    # then undefined (S = 0) → never ≤ 0.5 → null
    assert km.median_ci_lower == 1
    assert km.median_ci_upper is None


def test_median_midpoint_over_a_flat_at_one_half() -> None:
    km = kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1])  # S = .75, .5, .25, 0
    assert km.median == 2.5  # S = 0.5 exactly on [2, 3): midpoint with the next event time
    km = kaplan_meier([1, 2, 3, 5, 6], [1, 1, 0, 1, 1])  # S: .8, .6, .6, .3, 0
    assert km.median == 5
    km = kaplan_meier([1, 2, 3, 5], [1, 1, 0, 1])  # S = 0.5 on [2, 5): censoring at 3
    assert km.median == 3.5  # midpoint of 2 and the next EVENT time 5


def test_median_not_reached() -> None:
    km = kaplan_meier([1, 2, 3, 4], [1, 0, 0, 0])  # S = 0.75 at the end
    assert km.median is None
    assert km.median_ci_lower is None or km.median_ci_lower >= 1


def test_censoring_at_an_event_time_is_at_risk() -> None:
    km = kaplan_meier([2, 2, 2, 7], [1, 0, 0, 1])
    row = km.table[0]
    assert (row.n_risk, row.n_event, row.n_censor) == (4, 1, 2)
    assert row.survival == 0.75  # 1 − 1/4, not 1 − 1/2


def test_against_lifelines_log_log() -> None:
    lifelines = pytest.importorskip("lifelines")
    times = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
    events = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]  # gehan 6-MP
    kmf = lifelines.KaplanMeierFitter().fit(times, events)
    ci = kmf.confidence_interval_
    km = kaplan_meier(times, events, conf_type="log-log")
    for row in km.table:
        assert row.survival == pytest.approx(kmf.survival_function_.loc[row.time].iloc[0])
        if row.ci_lower is not None:
            assert row.ci_lower == pytest.approx(ci.loc[row.time].iloc[0], abs=1e-6)
            assert row.ci_upper == pytest.approx(ci.loc[row.time].iloc[1], abs=1e-6)
    assert km.median == 23  # published: the 6-MP arm's median remission is 23 weeks
    # R: survfit(conf.type = "log-log") gives 23 (13, NA); the default "log" 23 (16, NA)
    assert (km.median_ci_lower, km.median_ci_upper) == (13, None)
    log = kaplan_meier(times, events, conf_type="log")
    assert (log.median, log.median_ci_lower, log.median_ci_upper) == (23, 16, None)


# ---------------------------------------------------------------- log-rank


def test_logrank_two_groups_by_hand() -> None:
    # A: 1, 3 (events); B: 2, 4 (events)
    # t=1: n=4 (2/2), d=1 in A: E_A = 1/2, V = 1·3/3 · ½·½ = 0.25
    # t=2: n=3 (1/2), d=1 in B: E_A = 1/3, V = 1·2/2 · ⅓·⅔ = 2/9
    # t=3: n=2 (1/1), d=1 in A: E_A = 1/2, V = 1·1/1 · ½·½ = 0.25
    # t=4: n=1 (0/1), d=1 in B: E_A = 0, V = 0
    # O_A − E_A = 2 − 4/3 = 2/3; χ² = (4/9) / (13/18) = 8/13
    result = logrank([1, 3, 2, 4], [1, 1, 1, 1], ["A", "A", "B", "B"])
    assert result.df == 1
    assert result.chi2 == pytest.approx(8 / 13, abs=1e-12)
    assert result.observed == pytest.approx((2, 2))
    assert result.expected == pytest.approx((4 / 3, 8 / 3))
    # p of χ²(1) = erfc(√(χ²/2))
    assert result.p == pytest.approx(math.erfc(math.sqrt(8 / 13 / 2)), abs=1e-12)


def test_logrank_three_groups_against_lifelines() -> None:
    statistics = pytest.importorskip("lifelines.statistics")
    times = [3, 5, 7, 9, 12, 15, 4, 6, 6, 10, 14, 18, 20, 2, 8, 11, 13, 16, 22]
    events = [1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 0]
    groups = ["a"] * 6 + ["b"] * 7 + ["c"] * 6
    ours = logrank(times, events, groups)
    theirs = statistics.multivariate_logrank_test(times, groups, events)
    assert ours.df == 2
    assert ours.chi2 == pytest.approx(theirs.test_statistic, rel=1e-9)
    assert ours.p == pytest.approx(theirs.p_value, rel=1e-9)


def test_logrank_two_groups_against_lifelines() -> None:
    statistics = pytest.importorskip("lifelines.statistics")
    a = ([6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16], [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1])
    b = ([1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8], [1] * 12)
    ours = logrank(a[0] + b[0], a[1] + b[1], ["a"] * 11 + ["b"] * 12)
    theirs = statistics.logrank_test(a[0], b[0], a[1], b[1])
    assert ours.chi2 == pytest.approx(theirs.test_statistic, rel=1e-9)
    assert ours.p == pytest.approx(theirs.p_value, rel=1e-9)
