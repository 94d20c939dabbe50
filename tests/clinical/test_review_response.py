"""Independent review of tumour response (CLINICAL.md §2a, §2b, §2c).

Expected responses are worked out by hand from CLINICAL.md; the sums are
written next to each case.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from registry.clinical.facts import LesionFact, ScanFact
from registry.clinical.response import evaluate_course_response

START = date(2015, 5, 1)


def tgt(label: str, long: float | None, short: float | None, *, node: bool = False,
        organ: str = "liver") -> LesionFact:  # fmt: skip
    return LesionFact(label, "lymph node" if node else organ, node, True, False, long, short)


def nontarget(label: str, status: str) -> LesionFact:
    return LesionFact(label, "bone", False, False, False, status=status)


def new(label: str, *, node: bool = False, long: float | None = 12,
        short: float | None = None) -> LesionFact:  # fmt: skip
    return LesionFact(label, "liver", node, False, True, long, short)


def scan(key: int, day: int, *lesions: LesionFact) -> ScanFact:
    return ScanFact(key, START + timedelta(days=day), "CT", lesions)


def evaluate(criteria: str, scans: list[ScanFact], window_end: int | None = None, **kw):
    end = None if window_end is None else START + timedelta(days=window_end)
    return evaluate_course_response(scans, START, end, criteria=criteria, **kw)


def responses(result) -> list[str]:
    return [tp.response for tp in result.time_points]


# ---------------------------------------------------------------- baseline / follow-up

SWOG_BASE = (tgt("L1", 20, 10), tgt("L2", 10, 10))  # SPD 200 + 100 = 300 mm²


def test_baseline_exactly_120_days_before_counts() -> None:
    scans = [scan(1, -120, *SWOG_BASE), scan(2, 60, tgt("L1", 10, 10), tgt("L2", 5, 10))]
    result = evaluate("swog", scans)
    assert result.baseline_scan_key == 1
    assert responses(result) == ["PR"]  # 150 / 300 = −50 %


def test_baseline_121_days_before_is_no_baseline() -> None:
    scans = [scan(1, -121, *SWOG_BASE), scan(2, 60, tgt("L1", 10, 10), tgt("L2", 5, 10))]
    result = evaluate("swog", scans)
    assert result.baseline_scan_key is None
    assert responses(result) == ["NE"]
    assert result.best.response == "NE"


def test_latest_scan_on_or_before_start_is_baseline_and_start_date_scan_is_not_follow_up() -> None:
    scans = [
        scan(1, -100, tgt("L1", 40, 10), tgt("L2", 10, 10)),  # SPD 500 (older)
        scan(2, 0, *SWOG_BASE),  # on the start date: the baseline, SPD 300
        scan(3, 60, tgt("L1", 20, 10), tgt("L2", 5, 10)),  # 250: −16.7 % vs 300 → SD
    ]
    result = evaluate("swog", scans)
    assert result.baseline_scan_key == 2
    assert [tp.scan_key for tp in result.time_points] == [3]
    assert responses(result) == ["SD"]  # vs the older 500 it would be MR (−50 % → PR)


def test_follow_up_scans_only_inside_the_course_window() -> None:
    scans = [
        scan(1, -10, *SWOG_BASE),
        scan(2, 60, tgt("L1", 20, 10), tgt("L2", 10, 10)),  # SD
        scan(3, 99, tgt("L1", 40, 10), tgt("L2", 10, 10)),  # last window day: 500 → PD
        scan(4, 100, tgt("L1", 1, 1), tgt("L2", 1, 1)),  # next course's start: not ours
    ]
    result = evaluate("swog", scans, window_end=99)
    assert [tp.scan_key for tp in result.time_points] == [2, 3]
    assert result.first_pd_date == START + timedelta(days=99)


# ---------------------------------------------------------------- §2a SWOG


@pytest.mark.parametrize(
    ("follow_up", "response"),
    [
        ((tgt("L1", 10, 10), tgt("L2", 5, 10)), "PR"),  # 150: exactly −50 %
        ((tgt("L1", 10, 10), tgt("L2", 5.1, 10)), "MR"),  # 151: −49.67 %
        ((tgt("L1", 15, 10), tgt("L2", 7.5, 10)), "MR"),  # 225: exactly −25 %
        ((tgt("L1", 15, 10), tgt("L2", 7.6, 10)), "SD"),  # 226: −24.67 %
        ((tgt("L1", 27.5, 10), tgt("L2", 10, 10)), "PD"),  # 375: exactly +25 % over nadir 300
        ((tgt("L1", 27.4, 10), tgt("L2", 10, 10)), "SD"),  # 374
        ((tgt("L1", 0, 0), tgt("L2", 0, 0)), "CR"),
        ((tgt("L1", 0, 0), tgt("L2", 0, 0), nontarget("B1", "absent")), "CR"),
        ((tgt("L1", 0, 0), tgt("L2", 0, 0), nontarget("B1", "present")), "PR"),  # −100 %
        ((tgt("L1", 20, 10), tgt("L2", 10, 10), nontarget("B1", "progression")), "PD"),
        ((tgt("L1", 0, 0), tgt("L2", 0, 0), new("N1")), "PD"),
        ((tgt("L1", 5, 5), tgt("L2", 5, 5), new("N2", node=True, long=6, short=5)), "PD"),
    ],
)
def test_swog_time_point_boundaries(follow_up, response) -> None:
    scans = [scan(1, -10, *SWOG_BASE), scan(2, 60, *follow_up)]
    assert responses(evaluate("swog", scans)) == [response]


def test_swog_cr_blocked_by_baseline_non_target_still_present() -> None:
    scans = [
        scan(1, -10, *SWOG_BASE, nontarget("B1", "present")),
        scan(2, 60, tgt("L1", 0, 0), tgt("L2", 0, 0), nontarget("B1", "present")),
        scan(3, 120, tgt("L1", 0, 0), tgt("L2", 0, 0), nontarget("B1", "absent")),
    ]
    assert responses(evaluate("swog", scans)) == ["PR", "CR"]


def test_swog_nadir_is_the_smallest_earlier_evaluable_spd() -> None:
    scans = [
        scan(1, -10, *SWOG_BASE),  # 300
        scan(2, 50, tgt("L1", 10, 10), tgt("L2", 10, 10)),  # 200: −33 % → MR, nadir 200
        scan(3, 100, tgt("L1", 15, 10), tgt("L2", 10, 10)),  # 250 = 1.25 × 200 → PD
    ]
    result = evaluate("swog", scans)
    assert responses(result) == ["MR", "PD"]  # vs baseline 250 is −16.7 %: PD comes from nadir
    assert result.best.response == "MR"
    scans[2] = scan(3, 100, tgt("L1", 14.9, 10), tgt("L2", 10, 10))  # 249: 1.245 × nadir
    assert responses(evaluate("swog", scans)) == ["MR", "SD"]


def test_swog_not_evaluated_scan_does_not_set_the_nadir() -> None:
    scans = [
        scan(1, -10, *SWOG_BASE),  # 300
        scan(2, 50, tgt("L1", 10, 10)),  # L2 not listed: NE (100 alone is no PD)
        scan(3, 100, tgt("L1", 10, 10), tgt("L2", 10, 10)),  # 200 vs nadir 300: −33 % MR
    ]
    assert responses(evaluate("swog", scans)) == ["NE", "MR"]


def test_swog_nadir_zero_then_any_regrowth_is_pd() -> None:
    scans = [
        scan(1, -10, *SWOG_BASE),
        scan(2, 50, tgt("L1", 0, 0), tgt("L2", 0, 0)),  # CR, nadir 0
        scan(3, 100, tgt("L1", 0, 0), tgt("L2", 0, 0)),  # SPD 0: not > 0, still CR
        scan(4, 150, tgt("L1", 1, 1), tgt("L2", 0, 0)),  # SPD 1 > 0 after nadir 0: PD
    ]
    result = evaluate("swog", scans)
    assert responses(result) == ["CR", "CR", "PD"]
    assert result.best.response == "CR"
    assert result.first_pd_date == START + timedelta(days=150)


@pytest.mark.parametrize(
    ("follow_up", "response"),
    [
        ((tgt("L1", 20, 10),), "NE"),  # L2 not listed; 200 < 1.25 × 300
        ((tgt("L1", 20, 10), new("N1")), "PD"),  # unless a new lesion
        ((tgt("L1", 20, 10), nontarget("B1", "progression")), "PD"),  # or NT progression
        ((tgt("L1", 37.5, 10),), "PD"),  # or the evaluated target alone: 375 ≥ 1.25 × 300
        ((tgt("L1", 37.4, 10),), "NE"),  # 374 alone: not PD, not evaluable
        ((tgt("L1", 0, 0),), "NE"),  # all listed targets gone but L2 unknown: not CR
        ((tgt("L1", 20, 10), tgt("L2", None, None)), "NE"),  # listed without sizes
    ],
)
def test_swog_not_evaluated_target(follow_up, response) -> None:
    scans = [scan(1, -10, *SWOG_BASE, nontarget("B1", "present")), scan(2, 60, *follow_up)]
    assert responses(evaluate("swog", scans)) == [response]


def test_swog_no_lesion_count_limit() -> None:
    base = tuple(tgt(f"L{i}", 10, 10, organ="liver") for i in range(8))  # 8 × 100 = 800
    follow = tuple(tgt(f"L{i}", 10, 5, organ="liver") for i in range(8))  # 400: −50 % → PR
    assert responses(evaluate("swog", [scan(1, -5, *base), scan(2, 60, *follow)])) == ["PR"]


# ---------------------------------------------------------------- §2b RECIST

# L1 non-nodal long 40 (short 20), N1 node short 20 (long 30): SoD 40 + 20 = 60 mm
RECIST_BASE = (tgt("L1", 40, 20), tgt("N1", 30, 20, node=True))


@pytest.mark.parametrize(
    ("follow_up", "response"),
    [
        ((tgt("L1", 22, 10), tgt("N1", 25, 20, node=True)), "PR"),  # 42 = 0.70 × 60
        ((tgt("L1", 23, 10), tgt("N1", 25, 20, node=True)), "SD"),  # 43
        ((tgt("L1", 52, 20), tgt("N1", 30, 20, node=True)), "PD"),  # 72 = 1.2 × 60, +12
        ((tgt("L1", 51, 20), tgt("N1", 30, 20, node=True)), "SD"),  # 71
        ((tgt("L1", 0, 0), tgt("N1", 12, 9, node=True)), "CR"),  # node short < 10
        ((tgt("L1", 0, 0), tgt("N1", 12, 10, node=True)), "PR"),  # node 10: not CR; 10/60
        ((tgt("L1", 0, 0), tgt("N1", 12, 9, node=True), nontarget("B1", "present")), "PR"),
        ((tgt("L1", 0, 0), tgt("N1", 12, 9, node=True), nontarget("B1", "absent")), "CR"),
        ((tgt("L1", 40, 20), tgt("N1", 30, 20, node=True), new("X", node=True, short=9)), "SD"),
        ((tgt("L1", 40, 20), tgt("N1", 30, 20, node=True), new("X", node=True, short=10)), "PD"),
        ((tgt("L1", 40, 20), tgt("N1", 30, 20, node=True), new("X", long=4)), "PD"),
        ((tgt("L1", 40, 20), tgt("N1", 30, 20, node=True), nontarget("B1", "progression")),
         "PD"),
        ((tgt("L1", 40, 20),), "NE"),  # N1 not listed
        ((tgt("L1", 72, 20),), "PD"),  # evaluated target alone: 72 ≥ 1.2 × 60 and +12 mm
    ],
)  # fmt: skip
def test_recist_time_points(follow_up, response) -> None:
    scans = [scan(1, -10, *RECIST_BASE), scan(2, 60, *follow_up)]
    assert responses(evaluate("recist", scans)) == [response]


def test_recist_sod_uses_long_for_non_nodal_and_short_for_nodes() -> None:
    scans = [
        scan(1, -10, *RECIST_BASE),
        scan(2, 60, tgt("L1", 30, 25), tgt("N1", 40, 12, node=True)),
    ]
    tp = evaluate("recist", scans).time_points[0]
    assert tp.sum == 42  # 30 + 12, not 25 + 40
    assert tp.response == "PR"


def test_recist_absolute_5_mm_rule() -> None:
    base = (tgt("L1", 20, 10),)  # SoD 20
    four = [scan(1, -10, *base), scan(2, 60, tgt("L1", 24, 10))]  # 1.2 × 20 but +4 mm
    five = [scan(1, -10, *base), scan(2, 60, tgt("L1", 25, 10))]  # 1.25 ×, +5 mm
    assert responses(evaluate("recist", four)) == ["SD"]
    assert responses(evaluate("recist", five)) == ["PD"]


def test_recist_measurability_at_baseline() -> None:
    # L9 long 9 (non-nodal, < 10) and N14 short 14 (< 15) are not measurable: out of the SoD
    base = (tgt("L1", 10, 5), tgt("L9", 9, 5), tgt("N14", 20, 14, node=True),
            tgt("N15", 20, 15, node=True))  # fmt: skip
    follow = (tgt("L1", 10, 5), tgt("L9", 30, 25), tgt("N14", 40, 30, node=True),
              tgt("N15", 20, 15, node=True))  # fmt: skip
    tp = evaluate("recist", [scan(1, -10, *base), scan(2, 60, *follow)]).time_points[0]
    assert tp.sum == 25  # 10 + 15
    assert tp.response == "SD"


def test_recist_nadir_from_earlier_follow_up() -> None:
    scans = [
        scan(1, -10, tgt("L1", 50, 10)),  # 50
        scan(2, 60, tgt("L1", 30, 10)),  # 30: −40 % → PR, nadir 30
        scan(3, 120, tgt("L1", 36, 10)),  # 36 = 1.2 × 30, +6 mm → PD (−28 % vs baseline)
    ]
    assert responses(evaluate("recist", scans)) == ["PR", "PD"]


def test_recist_has_no_mr() -> None:
    scans = [scan(1, -10, tgt("L1", 50, 10)), scan(2, 60, tgt("L1", 36, 10))]  # −28 %
    result = evaluate("recist", scans)
    assert responses(result) == ["SD"]
    assert result.best.response == "SD"


# ---------------------------------------------------------------- §2c best response


def swog_scans(*follow_ups: tuple[int, float]) -> list[ScanFact]:
    """Baseline SPD 200 (one 20 × 10 target); follow-ups (day, long) with short 10."""
    scans = [scan(0, -10, tgt("L1", 20, 10))]
    scans += [scan(i, day, tgt("L1", long, 10)) for i, (day, long) in enumerate(follow_ups, 1)]
    return scans


@pytest.mark.parametrize(
    ("follow_ups", "best"),
    [
        ([(41, 20)], "NE"),  # SD before day 42
        ([(42, 20)], "SD"),  # day 42 inclusive
        ([(41, 14)], "NE"),  # MR (−30 %) before day 42
        ([(42, 14)], "MR"),
        ([(30, 10)], "PR"),  # PR counts at any day
        ([(30, 0)], "CR"),
        ([(30, 20), (60, 30)], "PD"),  # early SD is NE; then PD → first evaluable is PD
        ([(60, 30)], "PD"),
        ([(50, 20), (80, 30), (120, 10)], "SD"),  # best up to and including the first PD
        ([(50, 14), (100, 10), (150, 20)], "PR"),  # CR > PR > MR > SD
        ([(50, 10), (100, 0), (150, 20)], "CR"),
        ([(60, 30), (120, 10)], "PD"),  # PR after PD does not count
        ([], "NE"),  # no follow-up scan
    ],
)
def test_best_overall_response(follow_ups, best) -> None:
    assert evaluate("swog", swog_scans(*follow_ups)).best.response == best


def test_best_response_first_evaluable_is_pd_after_not_evaluated() -> None:
    scans = [
        scan(0, -10, tgt("L1", 20, 10), tgt("L2", 10, 10)),  # 300
        scan(1, 60, tgt("L1", 20, 10)),  # NE
        scan(2, 120, tgt("L1", 30, 10), tgt("L2", 10, 10)),  # 400 ≥ 375 → PD
    ]
    assert evaluate("swog", scans).best.response == "PD"


def test_confirmation_setting_28_days() -> None:
    confirmed = swog_scans((60, 10), (88, 10))  # PR then PR 28 days on
    unconfirmed = swog_scans((60, 10), (87, 10))  # only 27 days on
    assert evaluate("swog", confirmed, confirmation_days=28).best.response == "PR"
    assert evaluate("swog", unconfirmed, confirmation_days=28).best.response != "PR"
    assert evaluate("swog", unconfirmed).best.response == "PR"  # default: off
    cr = swog_scans((60, 0), (90, 0))
    assert evaluate("swog", cr, confirmation_days=28).best.response == "CR"
    # RECIST: the unconfirmed PR is not a PR
    rec = [scan(0, -10, tgt("L1", 50, 10)), scan(1, 60, tgt("L1", 30, 10))]
    assert evaluate("recist", rec, confirmation_days=28).best.response not in ("PR", "CR")
