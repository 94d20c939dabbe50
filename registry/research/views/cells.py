"""The cells of the report's tables: numbers as displayed, each with its key and its link.

Shared by `tables` (the seed paper's tables) and `record_tables` (the
`lutetia-cohort/2` record's rows); formatting only, no computing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.http import urlencode

NOT_REACHED = "NR"
MISSING = "—"


@dataclass
class Cell:
    key: str
    text: str
    href: str = ""
    pct: str = ""  # "(12%)" beside a count


@dataclass
class Row:
    label: str
    cells: list[Cell]
    indent: bool = False


@dataclass
class Section:
    title: str
    columns: list[str]
    rows: list[Row] = field(default_factory=list)
    note: str = ""


def number(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return MISSING
    return f"{value:.{digits}f}" if digits else f"{round(value):d}"


def median_range(s: dict[str, Any], digits: int = 1) -> str:
    if s.get("median") is None:
        return MISSING
    return f"{number(s['median'], digits)} ({number(s['min'], digits)}–{number(s['max'], digits)})"


def median_ci(median: float | None, ci: list[float | None]) -> str:
    def show(v: float | None) -> str:
        return NOT_REACHED if v is None else f"{v:.1f}"

    return f"{show(median)} ({show(ci[0])}–{show(ci[1])})"


def rate_ci(rate: dict[str, Any]) -> str:
    """A proportion as "24 (15–37)" percent, or — for an empty cohort."""
    if rate["proportion"] is None:
        return MISSING
    low, high = rate["ci95"]
    return f"{100 * rate['proportion']:.0f} ({100 * low:.0f}–{100 * high:.0f})"


def percent(count: int, total: int) -> str:
    return f"({round(100 * count / total)}%)" if total else ""


@dataclass(frozen=True)
class Links:
    """Where each number of the report links: the drill-down list of its patients."""

    base: str
    n: int

    def link(self, drill: str = "") -> str:
        return self.base + ("&" + urlencode({"drill": drill}) if drill else "")

    def count(self, key: str, value: int, drill: str, total: int | None = None) -> Cell:
        return Cell(
            key, str(value), self.link(drill), percent(value, self.n if total is None else total)
        )
