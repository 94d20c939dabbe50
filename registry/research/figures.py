"""Plotly figures of the research dashboards, as plain figure JSON.

The figures draw numbers computed elsewhere — the survival JSON of
`analyses.survival_analysis`, the toxicity counts of `report.cohort_report`,
the bars, lanes and weeks `figure_data` reads from the cohort — so a chart can
never disagree with the report or the API.  They are rendered by the
plotly.js the project serves itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

PALETTE = ("#0b5394", "#c0504d", "#4f8a10", "#8064a2", "#e36c09", "#31859c", "#7f7f7f")
RESPONSE_COLOURS = {
    "CR": "#1a7f37",
    "PR": "#4f8a10",
    "MR": "#9bbb59",
    "SD": "#f4b400",
    "PD": "#c0504d",
    "NE": "#9e9e9e",
}
GRADE_COLOURS = {
    "0": "#d9ead3",
    "1": "#f7e39c",
    "2": "#f5b971",
    "3": "#ec8b7d",
    "4": "#c9546b",
    "not_assessed": "#e0e0e0",
}
ANALYTE_SHORT = {
    "hematologic": "Hemat.",
    "hemoglobin": "Hb",
    "platelets": "Platelets",
    "wbc": "WBC",
    "neutrophils": "Neutro.",
    "lymphocytes": "Lympho.",
    "creatinine": "Creat.",
}
# Thresholds drawn on the waterfall (CLINICAL.md §2a/§2b).
WATERFALL_LINES = {"swog": (-50, -25, 25), "recist": (-30, 20)}


def text(value: object) -> str:
    """Data shown as chart text: Plotly reads a subset of HTML in labels (`<a href>`,
    `<b>`, styles), so a study ID or a site code typed with tags would become a link.
    Escaped, Plotly shows the characters as typed (security review, finding 7)."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def layout(**extra: Any) -> dict[str, Any]:
    base = {
        "margin": {"l": 60, "r": 20, "t": 30, "b": 50},
        "font": {"family": "system-ui, sans-serif", "size": 13},
        "plot_bgcolor": "#ffffff",
        "legend": {"orientation": "h", "y": -0.2},
    }
    base.update(extra)
    return base


def rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


# --- Kaplan–Meier ----------------------------------------------------------


def at_risk_step(max_time: float) -> float:
    """Months between ticks (the plot's and the at-risk table's): 6, or 12 past 5 years."""
    return 6.0 if max_time <= 60 else 12.0


def at_risk_ticks(max_time: float) -> list[float]:
    step = at_risk_step(max_time)
    return [i * step for i in range(int(max_time // step) + 1)]


def n_at_risk(table: Sequence[Mapping[str, Any]], n: int, t: float) -> int:
    """Subjects still at risk at time t: the risk set of the first table time ≥ t."""
    if t <= 0:
        return n
    for row in table:
        if row["time"] >= t:
            return int(row["n_risk"])
    return 0


@dataclass(frozen=True)
class AtRisk:
    ticks: list[float]
    rows: list[tuple[str, list[int]]]  # (group label, counts at each tick)


def at_risk_table(groups: Sequence[Mapping[str, Any]]) -> AtRisk:
    max_time = max((row["time"] for g in groups for row in g["table"]), default=0.0)
    ticks = at_risk_ticks(max_time)
    rows = [(g["label"], [n_at_risk(g["table"], g["n"], t) for t in ticks]) for g in groups]
    return AtRisk(ticks, rows)


def _bound(value: float | None, fallback: float) -> float:
    # R prints NA where a bound is undefined (S = 1 for log-log, S = 0); the
    # band then collapses onto the curve rather than leaving a hole.
    return fallback if value is None else value


def _km_traces(group: Mapping[str, Any], name: str, colour: str) -> list[dict]:
    """One group's step curve, its shaded 95 % band and its censor marks."""
    table = group["table"]
    xs = [0.0] + [r["time"] for r in table]
    ys = [1.0] + [r["survival"] for r in table]
    upper = [1.0] + [_bound(r["ci_upper"], r["survival"]) for r in table]
    lower = [1.0] + [_bound(r["ci_lower"], r["survival"]) for r in table]
    legend = f"{name} (n={group['n']}, events={group['events']})"
    traces = [
        {
            "type": "scatter",
            "x": xs,
            "y": upper,
            "mode": "lines",
            "line": {"shape": "hv", "width": 0},
            "hoverinfo": "skip",
            "showlegend": False,
            "legendgroup": name,
        },
        {
            "type": "scatter",
            "x": xs,
            "y": lower,
            "mode": "lines",
            "line": {"shape": "hv", "width": 0},
            "fill": "tonexty",
            "fillcolor": rgba(colour, 0.18),
            "hoverinfo": "skip",
            "showlegend": False,
            "legendgroup": name,
            "name": f"{name} 95% CI",
        },
        {
            "type": "scatter",
            "x": xs,
            "y": ys,
            "mode": "lines",
            "name": legend,
            "line": {"shape": "hv", "color": colour, "width": 2},
            "legendgroup": name,
            "hovertemplate": "%{x:.1f} months: %{y:.3f}<extra>" + name + "</extra>",
        },
    ]
    censored = [r for r in table if r["n_censor"] > 0]
    traces.append(
        {
            "type": "scatter",
            "mode": "markers",
            "showlegend": False,
            "legendgroup": name,
            "x": [r["time"] for r in censored],
            "y": [r["survival"] for r in censored],
            "marker": {"symbol": "line-ns-open", "size": 9, "color": colour},
            "name": f"{name} censored",
            "hovertemplate": "censored %{x:.1f}<extra></extra>",
        }
    )
    return traces


def km_figure(
    analysis: Mapping[str, Any], labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """KM curves with shaded confidence bands, censor marks and median lines."""
    labels = labels or {}
    traces: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    for i, group in enumerate(analysis["groups"]):
        colour = PALETTE[i % len(PALETTE)]
        name = text(labels.get(group["label"], group["label"]))
        traces += _km_traces(group, name, colour)
        if (median := group.get("median")) is not None:
            line = {"color": colour, "dash": "dash", "width": 1}
            shapes += [
                {"type": "line", "x0": 0, "x1": median, "y0": 0.5, "y1": 0.5, "line": line},
                {"type": "line", "x0": median, "x1": median, "y0": 0, "y1": 0.5, "line": line},
            ]
    endpoint = str(analysis.get("endpoint", "")).upper()
    max_time = max((r["time"] for g in analysis["groups"] for r in g["table"]), default=0.0)
    return {
        "data": traces,
        "layout": layout(
            xaxis={
                "title": {"text": "Months from course start"},
                "rangemode": "tozero",
                "gridcolor": "#eee",
                "dtick": at_risk_step(max_time),
            },
            yaxis={
                "title": {"text": f"{endpoint} probability"},
                "range": [0, 1.02],
                "gridcolor": "#eee",
            },
            shapes=shapes,
            height=420,
        ),
    }


# --- Waterfall and swimmer ---------------------------------------------------


class WaterfallBar(NamedTuple):
    """One patient's bar: a tuple, cheaper to build than a frozen dataclass (a 30,000-
    patient cohort's waterfall, 22,737 bars, with `waterfall_bars`' attrgetters: 0.19 →
    0.12 s)."""

    study_id: str
    pct_change: float
    response: str


def waterfall_figure(bars: Iterable[WaterfallBar], criteria: str) -> dict[str, Any]:
    """Best % change per patient, largest growth left, coloured by best response."""
    ordered = sorted(bars, key=lambda b: (-b.pct_change, b.study_id))
    traces = []
    for code, colour in RESPONSE_COLOURS.items():
        mine = [b for b in ordered if b.response == code]
        if mine:
            traces.append(
                {
                    "type": "bar",
                    "name": code,
                    "marker": {"color": colour},
                    "x": [b.study_id for b in mine],
                    "y": [b.pct_change for b in mine],
                    "hovertemplate": "%{x}: %{y:.1f}%<extra>" + code + "</extra>",
                }
            )
    shapes = [
        {
            "type": "line",
            "xref": "paper",
            "x0": 0,
            "x1": 1,
            "y0": y,
            "y1": y,
            "line": {"color": "#555", "dash": "dot", "width": 1},
        }
        for y in WATERFALL_LINES.get(criteria, ())
    ]
    return {
        "data": traces,
        "layout": layout(
            barmode="overlay",
            xaxis={
                "categoryorder": "array",
                "categoryarray": [b.study_id for b in ordered],
                "showticklabels": len(ordered) <= 30,
                "tickangle": -90,
                "title": {"text": f"{len(ordered)} patients"},
            },
            yaxis={
                "title": {"text": f"Best change in tumour size ({criteria.upper()}), %"},
                "zeroline": True,
                "gridcolor": "#eee",
            },
            shapes=shapes,
            height=380,
            bargap=0.15,
        ),
    }


@dataclass(frozen=True)
class SwimLane:
    study_id: str
    follow_up_months: float
    cycles: list[float]  # months from the course start
    responses: list[tuple[float, str]]  # (months, CR/PR/MR) time points
    progression: float | None
    death: float | None


def swimmer_figure(lanes: Sequence[SwimLane]) -> dict[str, Any]:
    """One bar per patient from the first cycle to last follow-up, events marked."""
    lanes = sorted(lanes, key=lambda lane: (lane.follow_up_months, lane.study_id))
    ids = [lane.study_id for lane in lanes]
    traces: list[dict[str, Any]] = [
        {
            "type": "bar",
            "orientation": "h",
            "name": "Follow-up",
            "y": ids,
            "x": [lane.follow_up_months for lane in lanes],
            "marker": {"color": "#c9d7e8"},
            "hovertemplate": "%{y}: %{x:.1f} months<extra></extra>",
        }
    ]

    def markers(name: str, points: list[tuple[float, str]], symbol: str, colour: str) -> None:
        if points:
            traces.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": name,
                    "x": [p[0] for p in points],
                    "y": [p[1] for p in points],
                    "marker": {
                        "symbol": symbol,
                        "size": 7,
                        "color": colour,
                        "line": {"width": 1, "color": "#333"},
                    },
                    "hovertemplate": "%{y}: " + name + " at %{x:.1f} months<extra></extra>",
                }
            )

    markers(
        "Cycle",
        [(m, lane.study_id) for lane in lanes for m in lane.cycles],
        "triangle-up",
        "#6f42c1",
    )
    for code in ("CR", "PR", "MR"):
        markers(
            f"Response {code}",
            [(m, lane.study_id) for lane in lanes for m, c in lane.responses if c == code],
            "circle",
            RESPONSE_COLOURS[code],
        )
    markers(
        "Progression",
        [(lane.progression, lane.study_id) for lane in lanes if lane.progression is not None],
        "x",
        "#c0504d",
    )
    markers(
        "Death",
        [(lane.death, lane.study_id) for lane in lanes if lane.death is not None],
        "square",
        "#222222",
    )
    return {
        "data": traces,
        "layout": layout(
            xaxis={
                "title": {"text": "Months from course start"},
                "gridcolor": "#eee",
                "rangemode": "tozero",
            },
            yaxis={
                "type": "category",
                "showticklabels": len(ids) <= 60,
                "automargin": True,
                "tickmode": "linear",
                "tickfont": {"size": 10},
            },
            legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},
            margin={"l": 60, "r": 20, "t": 50, "b": 50},
            height=max(320, min(1400, 18 * len(ids) + 120)),
            barmode="overlay",
        ),
    }


# --- Toxicity ----------------------------------------------------------------


def toxicity_figure(toxicity: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:
    """Patients by worst grade per analyte, stacked (the report's toxicity counts)."""
    analytes = [a for a, counts in toxicity.items() if counts]
    names = [ANALYTE_SHORT.get(a, a) for a in analytes]
    traces = []
    for grade, colour in GRADE_COLOURS.items():
        name = "not assessed" if grade == "not_assessed" else f"grade {grade}"
        traces.append(
            {
                "type": "bar",
                "name": name,
                "x": names,
                "y": [toxicity[a].get(grade, 0) for a in analytes],
                "marker": {"color": colour, "line": {"width": 0.5, "color": "#777"}},
                "hovertemplate": "%{x}: %{y} patients<extra>" + name + "</extra>",
            }
        )
    return {
        "data": traces,
        "layout": layout(
            barmode="stack",
            height=380,
            yaxis={"title": {"text": "Patients"}, "gridcolor": "#eee"},
        ),
    }


@dataclass(frozen=True)
class WeekSummary:
    cycle: int  # cycle number within the course (1 = first)
    week: int  # whole weeks since that cycle (negative: before the first)
    n: int
    median: float
    low: float
    high: float


def platelet_figure(weeks: Sequence[WeekSummary]) -> dict[str, Any]:
    """Median and range of platelets by week after each cycle, one colour per cycle."""
    traces: list[dict[str, Any]] = []
    for i, cycle in enumerate(sorted({w.cycle for w in weeks})):
        colour = PALETTE[i % len(PALETTE)]
        mine = sorted((w for w in weeks if w.cycle == cycle), key=lambda w: w.week)
        xs = [w.week for w in mine]
        name = f"after cycle {cycle}" if cycle > 0 else "before first cycle"
        traces += [
            {
                "type": "scatter",
                "x": xs,
                "y": [w.high for w in mine],
                "mode": "lines",
                "line": {"width": 0},
                "showlegend": False,
                "hoverinfo": "skip",
                "legendgroup": name,
            },
            {
                "type": "scatter",
                "x": xs,
                "y": [w.low for w in mine],
                "mode": "lines",
                "line": {"width": 0},
                "fill": "tonexty",
                "fillcolor": rgba(colour, 0.15),
                "showlegend": False,
                "hoverinfo": "skip",
                "legendgroup": name,
            },
            {
                "type": "scatter",
                "x": xs,
                "y": [w.median for w in mine],
                "mode": "lines+markers",
                "name": name,
                "line": {"color": colour},
                "legendgroup": name,
                "customdata": [[w.n, w.low, w.high] for w in mine],
                "hovertemplate": "week %{x}: median %{y:.0f} (range %{customdata[1]:.0f}–"
                "%{customdata[2]:.0f}, n=%{customdata[0]})<extra>" + name + "</extra>",
            },
        ]
    return {
        "data": traces,
        "layout": layout(
            height=380,
            xaxis={"title": {"text": "Weeks after cycle"}, "dtick": 1, "gridcolor": "#eee"},
            yaxis={
                "title": {"text": "Platelets, 10⁹/L"},
                "gridcolor": "#eee",
                "rangemode": "tozero",
            },
            shapes=[
                {
                    "type": "line",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "y0": 75,
                    "y1": 75,
                    "line": {"color": "#c0504d", "dash": "dot", "width": 1},
                }
            ],
        ),
    }


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
