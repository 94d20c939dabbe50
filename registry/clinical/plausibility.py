"""Plausibility of lab values: warnings, never a silent save (CLINICAL.md §6).

A value outside the usual clinical range (in canonical units) is most often a
unit mix-up — 180 entered as /mm3 is 0.18 × 10⁹/L — and so is a jump from the
patient's previous value of that analyte within 30 days by more than a factor
3 (cell counts, creatinine) or by more than 4 g/dL (hemoglobin). Forms ask
for an explicit confirmation and name the likely intended unit; the API and
imports accept the value and record a data-quality finding
(`implausible_value`, `implausible_change`).

The limits are exclusive as written: a platelet count of exactly 5 or 1500 is
plausible, 4.99 and 1500.01 are not; a change by exactly 3× or exactly 4 g/dL
is plausible. "Within 30 days" includes day 30. The previous value is the
latest of that analyte dated before the new one (a same-day value is not a
previous value).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from registry.clinical import units

# analyte -> (low, high) in the canonical unit; None = no limit on that side.
USUAL_RANGE: dict[str, tuple[float | None, float | None]] = {
    "platelets": (5.0, 1500.0),
    "wbc": (0.2, 200.0),
    "neutrophils": (None, 100.0),
    "lymphocytes": (None, 100.0),
    "hemoglobin": (3.0, 22.0),
    "creatinine": (20.0, 1500.0),
}
CHANGE_WINDOW_DAYS = 30
CHANGE_FACTOR = 3.0
CHANGE_FACTOR_ANALYTES = ("platelets", "wbc", "neutrophils", "lymphocytes", "creatinine")
HEMOGLOBIN_CHANGE_G_DL = 4.0


@dataclass(frozen=True, slots=True)
class Implausible:
    """One plausibility warning: the finding code and a message that names the unit."""

    code: str  # implausible_value | implausible_change
    message: str
    likely_unit: str | None = None


def _shown(unit: str) -> str:
    return (
        unit.replace("10^9/L", "10⁹/L")
        .replace("10^3/uL", "10³/µL")
        .replace("umol", "µmol")
        .replace("ug/", "µg/")
    )


def _amount(value: float, unit: str) -> str:
    """`0.18 × 10⁹/L`, `180 /mm3`, `1.1 µmol/L`."""
    shown = _shown(unit)
    return f"{value:g} × {shown}" if shown.startswith("10") else f"{value:g} {shown}"


def _in_range(analyte: str, canonical: float) -> bool:
    low, high = USUAL_RANGE.get(analyte, (None, None))
    return (low is None or canonical >= low) and (high is None or canonical <= high)


def likely_unit(analyte: str, value: float, unit: str) -> str | None:
    """The accepted unit, other than the one entered, under which `value` is in the usual
    range (the canonical unit first), or None (CLINICAL.md §6)."""
    entered = units.normalize_unit(analyte, unit)
    for candidate in units.accepted_units(analyte):
        if candidate == entered:
            continue
        if _in_range(analyte, units.to_canonical(analyte, value, candidate)):
            return candidate
    return None


def check_value(analyte: str, value: float, unit: str) -> Implausible | None:
    """`implausible_value` when the value is outside the usual range (§6), else None."""
    if analyte not in USUAL_RANGE:
        return None
    canonical = units.to_canonical(analyte, value, unit)
    if _in_range(analyte, canonical):
        return None
    low, high = USUAL_RANGE[analyte]
    canon = units.CANONICAL_UNIT[analyte]
    if low is not None and canonical < low:
        side = f"below {_amount(low, canon)}"
    else:
        side = f"above {_amount(high, canon)}"
    message = _amount(value, unit)
    if units.normalize_unit(analyte, unit) != canon:
        message += f" is {_amount(canonical, canon)}"
    message += f", {side}, outside the usual range of {analyte}"
    guess = likely_unit(analyte, value, unit)
    message += f" — did you mean {_shown(guess)}?" if guess else "."
    return Implausible("implausible_value", message, guess)


def check_change(
    analyte: str,
    canonical: float,
    on: date,
    previous: tuple[date, float] | None,
) -> Implausible | None:
    """`implausible_change` against the previous value (date, canonical) within 30 days (§6)."""
    if previous is None:
        return None
    before_on, before = previous
    days = (on - before_on).days
    if not 0 < days <= CHANGE_WINDOW_DAYS:
        return None
    canon = units.CANONICAL_UNIT.get(analyte, "")
    if analyte == "hemoglobin":
        if abs(round(canonical - before, 6)) <= HEMOGLOBIN_CHANGE_G_DL:
            return None
        detail = f"by {abs(canonical - before):.1f} g/dL"
    elif analyte in CHANGE_FACTOR_ANALYTES:
        if before <= 0 or canonical <= 0:
            return None
        ratio = round(max(canonical / before, before / canonical), 6)
        if ratio <= CHANGE_FACTOR:
            return None
        detail = f"{ratio:.2f}-fold"
    else:
        return None
    return Implausible(
        "implausible_change",
        f"{analyte} changed {detail} in {days} days ({before:g} → {_amount(canonical, canon)}, "
        f"previous value {before_on.isoformat()}); check the value and its unit.",
    )


def previous_value(
    history: Iterable[tuple[date, str, float]], analyte: str, on: date
) -> tuple[date, float] | None:
    """The latest (date, canonical value) of `analyte` dated before `on` in a patient's
    history of (date, analyte, canonical value) (§6)."""
    earlier = [(d, v) for d, a, v in history if a == analyte and d < on]
    return max(earlier, key=lambda dv: dv[0]) if earlier else None
