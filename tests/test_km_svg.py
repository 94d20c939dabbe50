"""The report's Kaplan–Meier SVG: censor ticks drawn once each, as one path per curve."""

from __future__ import annotations

import re

from registry.clinical.survival import kaplan_meier
from registry.research.km_svg import km_figure


def _ticks(fig) -> list[str]:
    return [p["d"] for p in fig.paths if p["width"] == 1.0]


def test_each_censoring_tick_is_drawn_once_in_one_path():
    # 2,000 censorings at 1,000 distinct times within 0.01 month of each other: a few
    # distinct tenths of a pixel; and 3 events.
    times = [10 + i * 1e-5 for i in range(1000)] * 2 + [5.0, 20.0, 30.0]
    events = [False] * 2000 + [True] * 3
    fig = km_figure([("A", "all", kaplan_meier(times, events))])
    (ticks,) = _ticks(fig)
    segments = re.findall(r"M[\d.]+,[\d.]+V[\d.]+", ticks)
    assert segments and "".join(segments) == ticks
    assert len(segments) == len(set(segments)) < 10
    curve = next(p for p in fig.paths if p["width"] == 1.6)
    assert curve["d"].startswith("M") and curve["d"].count("V") == 3  # a step per event


def test_a_curve_without_censoring_has_no_tick_path():
    fig = km_figure([("A", "all", kaplan_meier([1.0, 2.0, 3.0], [True, True, True]))])
    assert _ticks(fig) == [] and len(fig.paths) == 1


def test_the_template_draws_the_tick_path_thin():
    from django.template.loader import render_to_string

    fig = km_figure([("A", "all", kaplan_meier([1.0, 2.0, 3.0], [True, False, True]))])
    svg = render_to_string("research/_km_figure.html", {"figure": fig})
    assert 'stroke-width="1.0"' in svg and 'stroke-width="1.6"' in svg
    assert svg.count("<path") == 2
