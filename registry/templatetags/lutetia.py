"""Display helpers for the templates: the API and reports carry full precision,
pages round here."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def pvalue(p: float | None) -> str:
    """A p-value as papers print it: 3 decimals, "< 0.001" below that, "—" if undefined."""
    if p is None:
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


@register.filter
def months(value: float | None, digits: int = 1) -> str:
    """Months to `digits` decimals, "NR" (not reached) for None."""
    return "NR" if value is None else f"{value:.{int(digits)}f}"


@register.filter
def ratio(value: float | None) -> str:
    """A hazard ratio to 2 decimals."""
    return "—" if value is None else f"{value:.2f}"
