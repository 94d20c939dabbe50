"""SWOG-with-MR and RECIST 1.1 time points and best response (CLINICAL.md §2)."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from registry.clinical.facts import LesionFact, ScanFact
from registry.clinical.response import (
    best_overall_response,
    evaluate_course_response,
    lesion_size,
    missing_targets,
    recist_target_observations,
    select_baseline_scan,
    select_follow_up_scans,
    time_points,
)

START = date(2020, 1, 1)


def T(label: str, long: float | None, short: float | None = 10, *, node: bool = False,
      organ: str = "liver") -> LesionFact:  # fmt: skip
    return LesionFact(label, organ, node, True, False, long, short)


def N(label: str, long: float | None, short: float | None, organ: str = "mesentery") -> LesionFact:
    return LesionFact(label, organ, True, True, False, long, short)


def NT(label: str, status: str = "present") -> LesionFact:
    return LesionFact(label, "bone", False, False, False, status=status)


def NEW(label: str, *, node: bool = False, short: float | None = None) -> LesionFact:
    return LesionFact(label, "liver", node, False, True, None, short)


def scan(key: int, day: int, *lesions: LesionFact) -> ScanFact:
    return ScanFact(key, START + timedelta(days=day), "CT", lesions)


def run(criteria, baseline, follow_ups, confirmation_days=None, window_end=None):
    scans = [scan(0, -10, *baseline)] if baseline is not None else []
    scans += [scan(i, day, *lesions) for i, (day, lesions) in enumerate(follow_ups, start=1)]
    return evaluate_course_response(
        scans, START, window_end, criteria=criteria, confirmation_days=confirmation_days
    )


# SWOG: one target 20 × 10 mm = SPD 200 mm² at baseline, so SPD = 10 × long.
BASE_SWOG = [T("L1", 20)]
# RECIST: one non-nodal target of 50 mm.
BASE_RECIST = [T("L1", 50)]

SCENARIOS = [
    # id, criteria, baseline lesions, [(day, lesions)], time-point responses, best, kwargs
    ("swog -50% is PR", "swog", BASE_SWOG, [(60, [T("L1", 10)])], ["PR"], "PR", {}),
    ("swog -49.5% is MR", "swog", BASE_SWOG, [(60, [T("L1", 10.1)])], ["MR"], "MR", {}),
    ("swog -25% is MR", "swog", BASE_SWOG, [(60, [T("L1", 15)])], ["MR"], "MR", {}),
    ("swog -24.5% is SD", "swog", BASE_SWOG, [(60, [T("L1", 15.1)])], ["SD"], "SD", {}),
    ("swog +25% is PD", "swog", BASE_SWOG, [(60, [T("L1", 25)])], ["PD"], "PD", {}),
    ("swog +24.5% is SD", "swog", BASE_SWOG, [(60, [T("L1", 24.9)])], ["SD"], "SD", {}),
    (
        "swog +25% over nadir after PR is PD",
        "swog",
        BASE_SWOG,
        [(60, [T("L1", 10)]), (120, [T("L1", 12.5)])],
        ["PR", "PD"],
        "PR",
        {},
    ),
    (
        "swog +24% over nadir after PR is MR",
        "swog",
        BASE_SWOG,
        [(60, [T("L1", 10)]), (120, [T("L1", 12.4)])],
        ["PR", "MR"],
        "PR",
        {},
    ),
    (
        "swog new lesion is PD",
        "swog",
        BASE_SWOG,
        [(60, [T("L1", 10), NEW("L9")])],
        ["PD"],
        "PD",
        {},
    ),
    (
        "swog non-target progression is PD",
        "swog",
        [*BASE_SWOG, NT("B1")],
        [(60, [T("L1", 10), NT("B1", "progression")])],
        ["PD"],
        "PD",
        {},
    ),
    (
        "swog target not evaluated is NE",
        "swog",
        [*BASE_SWOG, T("L2", 20)],
        [(60, [T("L1", 5)])],
        ["NE"],
        "NE",
        {},
    ),
    (
        "swog evaluated targets alone meet PD",
        "swog",
        [T("L1", 20), T("L2", 20)],
        [(60, [T("L1", 50)])],
        ["PD"],
        "PD",
        {},
    ),
    (
        "swog evaluated targets alone below PD",
        "swog",
        [T("L1", 20), T("L2", 20)],
        [(60, [T("L1", 49.9)])],
        ["NE"],
        "NE",
        {},
    ),
    (
        "swog target listed without size is NE",
        "swog",
        BASE_SWOG,
        [(60, [T("L1", 18, None)])],
        ["NE"],
        "NE",
        {},
    ),
    (
        "swog all targets gone is CR",
        "swog",
        [*BASE_SWOG, NT("B1")],
        [(60, [T("L1", 0, 0), NT("B1", "absent")])],
        ["CR"],
        "CR",
        {},
    ),
    (
        "swog targets gone, non-target present is PR",
        "swog",
        [*BASE_SWOG, NT("B1")],
        [(60, [T("L1", 0, 0), NT("B1")])],
        ["PR"],
        "PR",
        {},
    ),
    (
        "swog targets gone, non-target unlisted is PR",
        "swog",
        [*BASE_SWOG, NT("B1")],
        [(60, [T("L1", 0, None)])],
        ["PR"],
        "PR",
        {},
    ),
    (
        "swog regrowth after nadir 0 is PD",
        "swog",
        BASE_SWOG,
        [(60, [T("L1", 0, 0)]), (120, [T("L1", 2, 2)])],
        ["CR", "PD"],
        "CR",
        {},
    ),
    ("swog SD before day 42 is NE", "swog", BASE_SWOG, [(41, [T("L1", 19)])], ["SD"], "NE", {}),
    ("swog SD on day 42 counts", "swog", BASE_SWOG, [(42, [T("L1", 19)])], ["SD"], "SD", {}),
    (
        "swog MR before day 42 then SD",
        "swog",
        BASE_SWOG,
        [(30, [T("L1", 14)]), (90, [T("L1", 17)])],
        ["MR", "SD"],
        "SD",
        {},
    ),
    (
        "swog early SD then PD is PD",
        "swog",
        BASE_SWOG,
        [(30, [T("L1", 19)]), (90, [T("L1", 30)])],
        ["SD", "PD"],
        "PD",
        {},
    ),
    (
        "swog first PD then PR stays PD",
        "swog",
        BASE_SWOG,
        [(60, [T("L1", 30)]), (120, [T("L1", 5)])],
        ["PD", "PR"],
        "PD",
        {},
    ),
    ("swog no follow-up is NE", "swog", BASE_SWOG, [], [], "NE", {}),
    ("swog no baseline is NE", "swog", None, [(60, [T("L1", 5)])], ["NE"], "NE", {}),
    ("swog confirmation off: single PR", "swog", BASE_SWOG, [(60, [T("L1", 9)])], ["PR"], "PR", {}),
    (
        "swog confirmation 28 d: confirmed",
        "swog",
        BASE_SWOG,
        [(60, [T("L1", 9)]), (88, [T("L1", 9)])],
        ["PR", "PR"],
        "PR",
        {"confirmation_days": 28},
    ),
    (
        "swog confirmation 28 d: 27 d is too early",
        "swog",
        BASE_SWOG,
        [(60, [T("L1", 9)]), (87, [T("L1", 9)])],
        ["PR", "PR"],
        "MR",
        {"confirmation_days": 28},
    ),
    (
        "swog confirmation: CR confirmed by PR",
        "swog",
        BASE_SWOG,
        [(60, [T("L1", 0, 0)]), (100, [T("L1", 5)])],
        ["CR", "PD"],
        "MR",
        {"confirmation_days": 28},
    ),
    ("recist -30% is PR", "recist", BASE_RECIST, [(60, [T("L1", 35)])], ["PR"], "PR", {}),
    ("recist -29.8% is SD", "recist", BASE_RECIST, [(60, [T("L1", 35.1)])], ["SD"], "SD", {}),
    (
        "recist +20% and +10 mm is PD",
        "recist",
        BASE_RECIST,
        [(60, [T("L1", 60)])],
        ["PD"],
        "PD",
        {},
    ),
    ("recist +19.8% is SD", "recist", BASE_RECIST, [(60, [T("L1", 59.9)])], ["SD"], "SD", {}),
    (
        "recist +20% but +4 mm is SD",
        "recist",
        [T("L1", 20)],
        [(60, [T("L1", 24)])],
        ["SD"],
        "SD",
        {},
    ),
    (
        "recist +20% and exactly +5 mm is PD",
        "recist",
        [T("L1", 25)],
        [(60, [T("L1", 30)])],
        ["PD"],
        "PD",
        {},
    ),
    ("recist +5 mm but +10% is SD", "recist", BASE_RECIST, [(60, [T("L1", 55)])], ["SD"], "SD", {}),
    (
        "recist PD vs nadir after PR",
        "recist",
        BASE_RECIST,
        [(60, [T("L1", 30)]), (120, [T("L1", 36)])],
        ["PR", "PD"],
        "PR",
        {},
    ),
    (
        "recist +19% over nadir is not PD",
        "recist",
        BASE_RECIST,
        [(60, [T("L1", 30)]), (120, [T("L1", 35.7)])],
        ["PR", "SD"],
        "PR",
        {},
    ),
    (
        "recist CR with residual node < 10 mm",
        "recist",
        [T("L1", 50), N("N1", 30, 20)],
        [(60, [T("L1", 0), N("N1", 12, 9.9)])],
        ["CR"],
        "CR",
        {},
    ),
    (
        "recist node of 10 mm is not CR",
        "recist",
        [T("L1", 50), N("N1", 30, 20)],
        [(60, [T("L1", 0), N("N1", 12, 10)])],
        ["PR"],
        "PR",
        {},
    ),
    (
        "recist target CR, non-target present is PR",
        "recist",
        [*BASE_RECIST, NT("B1")],
        [(60, [T("L1", 0), NT("B1")])],
        ["PR"],
        "PR",
        {},
    ),
    (
        "recist new node of 9.9 mm is not PD",
        "recist",
        BASE_RECIST,
        [(60, [T("L1", 49), NEW("N9", node=True, short=9.9)])],
        ["SD"],
        "SD",
        {},
    ),
    (
        "recist new node of 10 mm is PD",
        "recist",
        BASE_RECIST,
        [(60, [T("L1", 49), NEW("N9", node=True, short=10)])],
        ["PD"],
        "PD",
        {},
    ),
    (
        "recist new non-nodal lesion is PD",
        "recist",
        BASE_RECIST,
        [(60, [T("L1", 20), NEW("L9")])],
        ["PD"],
        "PD",
        {},
    ),
    (
        "recist non-target progression is PD",
        "recist",
        [*BASE_RECIST, NT("B1")],
        [(60, [T("L1", 20), NT("B1", "progression")])],
        ["PD"],
        "PD",
        {},
    ),
    (
        "recist target not evaluated is NE",
        "recist",
        [T("L1", 50), T("L2", 30, organ="lung")],
        [(60, [T("L1", 20)])],
        ["NE"],
        "NE",
        {},
    ),
    (
        "recist non-measurable target left out",
        "recist",
        [T("L1", 50), T("L2", 8)],
        [(60, [T("L1", 35)])],
        ["PR"],
        "PR",
        {},
    ),
    (
        "recist SD before day 42 is NE",
        "recist",
        BASE_RECIST,
        [(41, [T("L1", 50)])],
        ["SD"],
        "NE",
        {},
    ),
    (
        "recist confirmation 28 d unconfirmed PR is SD",
        "recist",
        BASE_RECIST,
        [(60, [T("L1", 30)])],
        ["PR"],
        "SD",
        {"confirmation_days": 28},
    ),
    (
        "recist confirmation 28 d confirmed PR",
        "recist",
        BASE_RECIST,
        [(60, [T("L1", 30)]), (90, [T("L1", 30)])],
        ["PR", "PR"],
        "PR",
        {"confirmation_days": 28},
    ),
]


@pytest.mark.parametrize(
    ("criteria", "baseline", "follow_ups", "expected", "best", "kwargs"),
    [pytest.param(*s[1:], id=s[0]) for s in SCENARIOS],
)
def test_scenarios(criteria, baseline, follow_ups, expected, best, kwargs) -> None:
    result = run(criteria, baseline, follow_ups, **kwargs)
    assert [tp.response for tp in result.time_points] == expected
    assert result.best.response == best, result.best.reason


def test_there_are_at_least_thirty_scenarios() -> None:
    assert len(SCENARIOS) >= 30
    assert {s[1] for s in SCENARIOS} == {"swog", "recist"}


def test_reasons_and_sums() -> None:
    result = run("swog", [T("L1", 50, 40), N("N1", 30, 20)],
                 [(60, [T("L1", 42, 35), N("N1", 25, 16)])])  # fmt: skip
    (tp,) = result.time_points
    assert tp.sum == 1870
    assert tp.pct_vs_baseline == pytest.approx(-28.076923)
    assert tp.reason == "MR: SPD \u221228.1 % vs baseline"
    assert result.best.reason == "MR: SPD \u221228.1 % vs baseline on 2020-03-01"
    assert result.best.best_pct_change == pytest.approx(-28.076923)
    new = run("swog", BASE_SWOG, [(60, [T("L1", 20), NEW("N1")])])
    assert new.time_points[0].reason == "PD: new lesion N1"
    assert new.best.reason.startswith("PD: first evaluable time point is PD (new lesion N1)")
    recist = run("recist", BASE_RECIST, [(60, [T("L1", 60)])])
    assert recist.time_points[0].reason == "PD: SoD +20.0 % vs nadir (10 mm)"
    ne = run("swog", [T("L1", 20), T("L2", 20)], [(60, [T("L1", 5)])])
    assert ne.time_points[0].reason == "NE: target L2 not evaluated"
    assert ne.time_points[0].not_evaluated == "L2"
    assert not ne.time_points[0].all_targets_evaluated


def test_not_evaluated_scan_does_not_move_nadir() -> None:
    result = run("swog", [T("L1", 20), T("L2", 20)],
                 [(60, [T("L1", 1)]), (120, [T("L1", 20), T("L2", 20)])])  # fmt: skip
    assert [tp.response for tp in result.time_points] == ["NE", "SD"]
    assert result.time_points[1].pct_vs_nadir == 0


def test_swog_and_recist_disagree_as_in_example() -> None:
    baseline = [T("L1", 50, 40), N("N1", 30, 20)]
    ups = [(60, [T("L1", 42, 35), N("N1", 25, 16)]), (300, [T("L1", 52, 41), N("N1", 26, 17)])]
    assert [t.response for t in run("swog", baseline, ups).time_points] == ["MR", "PD"]
    recist = run("recist", baseline, ups)
    assert [t.response for t in recist.time_points] == ["SD", "SD"]
    assert recist.time_points[1].pct_vs_nadir == pytest.approx(18.965517)


def test_no_measurable_target() -> None:
    result = run("recist", [T("L1", 8), NT("B1")], [(60, [T("L1", 8), NT("B1")])])
    assert result.time_points[0].response == "NE"
    result = run("recist", [T("L1", 8)], [(60, [T("L1", 8), NEW("L9")])])
    assert result.time_points[0].response == "PD"


def test_baseline_selection_boundaries() -> None:
    at_120 = ScanFact(1, START - timedelta(days=120), "CT", ())
    at_121 = ScanFact(2, START - timedelta(days=121), "CT", ())
    on_start = ScanFact(3, START, "CT", ())
    assert select_baseline_scan([at_120, at_121], START) == at_120
    assert select_baseline_scan([at_121], START) is None
    assert select_baseline_scan([at_120, on_start], START) == on_start


def test_follow_up_selection_in_window() -> None:
    scans = [
        ScanFact(i, START + timedelta(days=d), "CT", ()) for i, d in enumerate([0, 1, 99, 100])
    ]
    picked = select_follow_up_scans(scans, START, START + timedelta(days=99))
    assert [s.key for s in picked] == [1, 2]
    assert [s.key for s in select_follow_up_scans(scans, START, None)] == [1, 2, 3]


def test_scan_outside_window_is_ignored() -> None:
    result = run("swog", BASE_SWOG, [(60, [T("L1", 19)]), (200, [T("L1", 40)])],
                 window_end=START + timedelta(days=199))  # fmt: skip
    assert [t.response for t in result.time_points] == ["SD"]
    assert result.first_pd_date is None


def test_no_baseline_every_time_point_ne() -> None:
    points = time_points("recist", None, [scan(1, 60, NEW("L9"))], START)
    assert [p.response for p in points] == ["NE"]
    assert best_overall_response(points, criteria="recist", has_baseline=False).response == "NE"


def test_lesion_size_rules() -> None:
    assert lesion_size(T("L1", 0, None), "swog") == 0
    assert lesion_size(T("L1", 12, None), "swog") is None
    assert lesion_size(N("N1", 20, 12), "recist") == 12
    assert lesion_size(N("N1", 0, None), "recist") == 0
    assert lesion_size(T("L1", 5), "recist") == 5  # "too small to measure" entered as 5


def test_recist_observations() -> None:
    six = scan(1, -5, *[T(f"L{i}", 20, organ=f"organ{i}") for i in range(6)])
    assert [o.code for o in recist_target_observations(six)] == ["recist_too_many_targets"]
    five = scan(1, -5, *[T(f"L{i}", 20, organ=f"organ{i}") for i in range(5)])
    assert recist_target_observations(five) == []
    liver = scan(1, -5, T("L1", 20), T("L2", 20), T("L3", 20))
    assert [o.code for o in recist_target_observations(liver)] == [
        "recist_too_many_targets_in_organ"
    ]
    nodes = scan(1, -5, N("N1", 30, 20, "neck"), N("N2", 30, 20, "axilla"),
                 N("N3", 30, 20, "groin"))  # fmt: skip
    notes = recist_target_observations(nodes)
    assert [o.code for o in notes] == ["recist_too_many_targets_in_organ"]
    assert "lymph nodes" in notes[0].message
    two_nodes = scan(1, -5, N("N1", 30, 20, "neck"), N("N2", 30, 20, "axilla"))
    assert recist_target_observations(two_nodes) == []


def test_missing_targets() -> None:
    base = scan(0, -5, T("L1", 20), T("L2", 20), NT("B1"))
    assert missing_targets(base, scan(1, 60, T("L1", 10))) == ["L2"]
    assert missing_targets(base, scan(1, 60, T("L1", 10), T("L2", 5))) == []


def test_unknown_criteria() -> None:
    with pytest.raises(ValueError):
        time_points("who", None, [], START)


def test_an_unchanged_sum_is_a_change_of_plus_zero() -> None:
    """33.7 × 21.3 mm is 717.8100000000001 in floating point and 717.81 once rounded: the
    change is 0, never -0.0 (which JSON, CSV and the reason would print as "-0.0")."""
    result = run("swog", [T("L1", 33.7, 21.3)], [(60, [T("L1", 33.7, 21.3)])])
    (tp,) = result.time_points
    assert tp.pct_vs_baseline == 0 and math.copysign(1, tp.pct_vs_baseline) == 1
    assert math.copysign(1, tp.pct_vs_nadir) == 1
    assert tp.reason == "SD: SPD +0.0 % vs baseline"
