"""Plotly figures of the dashboard's progression and Cox panels, as plain figure JSON.

The progression panel shows either the cumulative incidence of progression
with death competing (Aalen–Johansen, `incidence.cumulative_incidence`) or
1 − Kaplan–Meier of TTP (`analyses.survival_analysis`), and says which: the
latter overstates progression when deaths compete (CLINICAL.md §4c). The Cox
panel's forest plot draws the hazard ratios of `cox.cox_analysis`, the
multivariable model beside each covariate alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry.research.figures import PALETTE, layout, rgba, text

CURVES = {
    "aj": "Cumulative incidence of progression, death competing (Aalen–Johansen)",
    "km": "1 − Kaplan–Meier of time to progression (deaths censored)",
}


def incidence_figure(
    incidence: Mapping[str, Any], labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Step curves of the progression incidence with their 95 % band, per group."""
    labels = labels or {}
    traces: list[dict[str, Any]] = []
    for i, group in enumerate(incidence["groups"]):
        colour = PALETTE[i % len(PALETTE)]
        name = text(labels.get(group["label"], group["label"]))
        xs = [0.0] + [r["time"] for r in group["table"]]
        ys = [0.0] + [r["progression"] for r in group["table"]]
        lower = [0.0] + [r["progression_ci"][0] or 0.0 for r in group["table"]]
        upper = [0.0] + [r["progression_ci"][1] or 0.0 for r in group["table"]]
        traces += _band(xs, lower, upper, colour, name)
        traces.append(
            {
                "type": "scatter",
                "x": xs,
                "y": ys,
                "mode": "lines",
                "line": {"shape": "hv", "color": colour, "width": 2},
                "name": f"{name} (n={group['n']}, progressed {group['progressions']}, "
                f"died first {group['deaths']})",
                "legendgroup": name,
                "hovertemplate": "%{x:.1f} months: %{y:.3f}<extra>" + name + "</extra>",
            }
        )
    return _progression_layout(traces, "Cumulative incidence of progression")


def one_minus_km_figure(
    analysis: Mapping[str, Any], labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """1 − S(t) of TTP per group, with the complement of its 95 % band."""
    labels = labels or {}
    traces: list[dict[str, Any]] = []
    for i, group in enumerate(analysis["groups"]):
        colour = PALETTE[i % len(PALETTE)]
        name = text(labels.get(group["label"], group["label"]))
        xs = [0.0] + [r["time"] for r in group["table"]]
        ys = [0.0] + [1 - r["survival"] for r in group["table"]]
        lower = [0.0] + [1 - (r["ci_upper"] or r["survival"]) for r in group["table"]]
        upper = [0.0] + [1 - (r["ci_lower"] or r["survival"]) for r in group["table"]]
        traces += _band(xs, lower, upper, colour, name)
        traces.append(
            {
                "type": "scatter",
                "x": xs,
                "y": ys,
                "mode": "lines",
                "line": {"shape": "hv", "color": colour, "width": 2},
                "name": f"{name} (n={group['n']}, events={group['events']})",
                "legendgroup": name,
                "hovertemplate": "%{x:.1f} months: %{y:.3f}<extra>" + name + "</extra>",
            }
        )
    return _progression_layout(traces, "1 − Kaplan–Meier (TTP)")


def _band(xs, lower, upper, colour: str, name: str) -> list[dict[str, Any]]:
    common = {"type": "scatter", "x": xs, "mode": "lines", "hoverinfo": "skip",
              "showlegend": False, "legendgroup": name}  # fmt: skip
    return [
        {**common, "y": upper, "line": {"shape": "hv", "width": 0}},
        {
            **common,
            "y": lower,
            "line": {"shape": "hv", "width": 0},
            "fill": "tonexty",
            "fillcolor": rgba(colour, 0.18),
        },
    ]


def _progression_layout(traces: list[dict[str, Any]], title: str) -> dict[str, Any]:
    return {
        "data": traces,
        "layout": layout(
            xaxis={
                "title": {"text": "Months from course start"},
                "rangemode": "tozero",
                "gridcolor": "#eee",
            },
            yaxis={"title": {"text": title}, "range": [0, 1.02], "gridcolor": "#eee"},
            height=380,
        ),
    }


def forest_figure(model: Mapping[str, Any]) -> dict[str, Any]:
    """Hazard ratios with 95 % CIs on a log axis: multivariable (filled) and each
    covariate alone (open), one row per term, the reference line at HR 1."""
    multi = {t["term"]: t for t in model.get("terms", [])}
    alone = {t["term"]: t for fit in model.get("univariable", []) for t in fit.get("terms", [])}
    terms = list(multi) + [t for t in alone if t not in multi]
    rows = list(reversed(terms))  # the first term on top

    def trace(source: dict, name: str, symbol: str, colour: str, offset: float) -> dict:
        shown = [t for t in rows if t in source]
        return {
            "type": "scatter",
            "mode": "markers",
            "name": name,
            "x": [source[t]["hr"] for t in shown],
            "y": [rows.index(t) + offset for t in shown],
            "text": [text(t) for t in shown],
            "error_x": {
                "type": "data",
                "symmetric": False,
                "array": [source[t]["ci95"][1] - source[t]["hr"] for t in shown],
                "arrayminus": [source[t]["hr"] - source[t]["ci95"][0] for t in shown],
                "color": colour,
            },
            "marker": {"symbol": symbol, "size": 9, "color": colour},
            "hovertemplate": "%{text}: HR %{x:.2f}<extra>" + name + "</extra>",
        }

    data = [
        trace(multi, "Multivariable", "square", PALETTE[0], 0.12),
        trace(alone, "Univariable", "circle-open", PALETTE[1], -0.12),
    ]
    return {
        "data": data,
        "layout": layout(
            xaxis={
                "type": "log",
                "title": {"text": "Hazard ratio (95% CI), log scale"},
                "gridcolor": "#eee",
            },
            yaxis={
                "tickmode": "array",
                "tickvals": list(range(len(rows))),
                "ticktext": [text(r) for r in rows],
                "automargin": True,
                "range": [-0.7, len(rows) - 0.3],
            },
            shapes=[
                {
                    "type": "line",
                    "x0": 1,
                    "x1": 1,
                    "yref": "paper",
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": "#555", "dash": "dot", "width": 1},
                }
            ],
            height=max(220, 60 + 34 * len(rows)),
        ),
    }
