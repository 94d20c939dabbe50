"""Plotly figures for the patient page, as plain figure JSON (rendered by our own plotly.js).

One chart per analyte the patient has values of: the values over time in the
unit the clinician used most, the CTCAE v5.0 grade bands behind them and the
cycle dates marked. The band edges are not copied from the CTCAE table: they
are found from `registry.clinical.ctcae.grade_lab` itself, so the chart can
never disagree with the grades the registry computes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from registry.clinical import ctcae, units
from registry.models import Analyte, Cycle, LabResult

BAND_COLOURS = {1: "#f7e39c", 2: "#f5b971", 3: "#ec8b7d", 4: "#c9546b"}
LINE_COLOUR = "#0b5394"
CYCLE_COLOUR = "#6f42c1"
_BISECT_STEPS = 48


@dataclass(frozen=True)
class Band:
    grade: int
    low: float
    high: float  # may be inf for the top band of an "increased" analyte


def _grade(analyte: str, value: float, unit: str, sex: str | None) -> int:
    return ctcae.grade_lab(analyte, value, unit, sex=sex) or 0


def grade_bands(analyte: str, unit: str, sex: str | None) -> list[Band]:
    """CTCAE grade ≥ 1 bands of `analyte` in `unit`, from the default reference range.

    Grades are monotone in the value, so each edge is found by bisection on
    `grade_lab` (to far below display precision).
    """
    if analyte not in ctcae.GRADED_ANALYTES:
        return []
    decreasing = _grade(analyte, 0.0, unit, sex) > 0
    hi = 1.0
    while _grade(analyte, hi, unit, sex) != (0 if decreasing else 4) and hi < 1e9:
        hi *= 2
    edges: dict[int, float] = {}
    for g in range(1, 5):
        lo_v, hi_v = 0.0, hi

        def reached(v: float, g: int = g) -> bool:
            return _grade(analyte, v, unit, sex) >= g

        if not reached(0.0 if decreasing else hi):
            continue  # grade not reachable from labs (e.g. hemoglobin grade 4)
        for _ in range(_BISECT_STEPS):
            mid = (lo_v + hi_v) / 2
            # Decreasing: grade ≥ g below the edge; increasing: above it.
            if reached(mid) == decreasing:
                lo_v = mid
            else:
                hi_v = mid
        # The ratio rounding of §5 leaves a tail below display precision.
        edges[g] = float(f"{(lo_v + hi_v) / 2:.4g}")
    bands = []
    for g, edge in edges.items():
        nxt = edges.get(g + 1)
        if decreasing:
            bands.append(Band(g, nxt if nxt is not None else 0.0, edge))
        else:
            bands.append(Band(g, edge, nxt if nxt is not None else float("inf")))
    return bands


def pretty_unit(unit: str) -> str:
    return (
        unit.replace("10^9", "10⁹")
        .replace("10^3", "10³")
        .replace("umol", "µmol")
        .replace("ug/", "µg/")
    )


def _display_unit(analyte: str, labs: Sequence[LabResult]) -> str:
    spellings = Counter(units.normalize_unit(analyte, lab.unit) for lab in labs)
    return spellings.most_common(1)[0][0]


def _band_shapes(bands: Sequence, top: float) -> tuple[list[dict], list[dict]]:
    """The grade bands as shaded rectangles below the line, each labelled G1…G4."""
    shapes: list[dict] = []
    annotations: list[dict] = []
    for band in bands:
        high = min(band.high, top)
        if band.low >= top:
            continue
        shapes.append(
            {
                "type": "rect",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": band.low,
                "y1": high,
                "fillcolor": BAND_COLOURS[band.grade],
                "opacity": 0.45,
                "line": {"width": 0},
                "layer": "below",
            }
        )
        annotations.append(
            {
                "xref": "paper",
                "x": 1.0,
                "xanchor": "left",
                "yref": "y",
                "y": (band.low + high) / 2,
                "text": f"G{band.grade}",
                "showarrow": False,
                "font": {"size": 11, "color": "#3a3a3a"},
            }
        )
    return shapes, annotations


def lab_figure(
    analyte: str, labs: Sequence[LabResult], cycles: Iterable[Cycle], sex: str | None
) -> dict:
    """One analyte's chart: values, grade bands and cycle dates."""
    unit = _display_unit(analyte, labs)
    xs = [lab.date.isoformat() for lab in labs]
    ys = [round(units.from_canonical(analyte, lab.canonical_value, unit), 4) for lab in labs]
    grades = [
        ctcae.grade_lab(analyte, lab.value, lab.unit, sex=sex, lln=lab.lln, uln=lab.uln)
        for lab in labs
    ]
    hover = [
        f"{lab.value:g} {lab.unit}" + (f" · grade {g}" if g is not None else "")
        for lab, g in zip(labs, grades, strict=True)
    ]
    bands = grade_bands(analyte, unit, sex)
    # Decreasing analytes show every band (they all lie between 0 and the LLN);
    # increasing ones up to 1.7 × ULN unless a value goes higher, so normal
    # values are not squashed against the axis by a grade 4 band at 20 × ULN.
    if any(b.high == float("inf") for b in bands):
        reference = [min(b.low for b in bands) * 1.7]
    else:
        reference = [b.high * 1.05 for b in bands if b.grade == 1]
    top = max([*ys, *reference, 0.0]) * 1.12 or 1.0
    shapes, annotations = _band_shapes(bands, top)
    cycles = list(cycles)
    for cycle in cycles:
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "x0": cycle.date.isoformat(),
                "x1": cycle.date.isoformat(),
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "line": {"color": CYCLE_COLOUR, "width": 1.5, "dash": "dot"},
            }
        )
    return {
        "data": [
            {
                # Cycle markers along the top edge, with the activity on hover.
                "type": "scatter",
                "mode": "markers",
                "x": [c.date.isoformat() for c in cycles],
                "y": [top] * len(cycles),
                "text": [f"cycle, {c.administered_gbq:g} GBq" for c in cycles],
                "hovertemplate": "%{x}: %{text}<extra></extra>",
                "marker": {"symbol": "triangle-down", "size": 10, "color": CYCLE_COLOUR},
                "cliponaxis": False,
                "name": "Cycles",
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": xs,
                "y": ys,
                "text": hover,
                "hovertemplate": "%{x}: %{text}<extra></extra>",
                "line": {"color": LINE_COLOUR, "width": 2},
                "marker": {"size": 7},
                "name": Analyte(analyte).label,
            },
        ],
        "layout": {
            "height": 240,
            "margin": {"l": 56, "r": 36, "t": 28, "b": 36},
            "xaxis": {"type": "date", "showgrid": False},
            "yaxis": {
                "title": {"text": pretty_unit(unit)},
                "range": [0, top],
                "zeroline": False,
            },
            "shapes": shapes,
            "annotations": annotations,
            "showlegend": False,
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
            "font": {"family": "system-ui, sans-serif", "size": 12},
        },
    }


def lab_figures(labs: Iterable[LabResult], cycles: Sequence[Cycle], sex: str | None) -> list[dict]:
    """Charts for every analyte with values, in the order of the Analyte choices."""
    by_analyte: dict[str, list[LabResult]] = {}
    for lab in sorted(labs, key=lambda lab: (lab.date, lab.pk or 0)):
        by_analyte.setdefault(lab.analyte, []).append(lab)
    return [
        {
            "analyte": analyte,
            "title": Analyte(analyte).label,
            "id": f"chart-{analyte}",
            "data_id": f"chart-{analyte}-data",
            "figure": lab_figure(analyte, by_analyte[analyte], cycles, sex),
        }
        for analyte in Analyte.values
        if analyte in by_analyte
    ]
