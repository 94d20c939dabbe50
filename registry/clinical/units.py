"""Lab units: accepted spellings, conversion to canonical units, plausibility.

CLINICAL.md §6.  Every lab is stored as entered and in its analyte's canonical
unit; this module is the one table of units and factors.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

ANALYTES: tuple[str, ...] = (
    "hemoglobin",
    "platelets",
    "wbc",
    "neutrophils",
    "lymphocytes",
    "creatinine",
    "bilirubin",
    "alt",
    "ast",
    "alp",
    "egfr",
    "chromogranin_a",
    "nse",
    "u_5hiaa",
)

COUNT_ANALYTES: tuple[str, ...] = ("platelets", "wbc", "neutrophils", "lymphocytes")

CANONICAL_UNIT: dict[str, str] = {
    "hemoglobin": "g/dL",
    "platelets": "10^9/L",
    "wbc": "10^9/L",
    "neutrophils": "10^9/L",
    "lymphocytes": "10^9/L",
    "creatinine": "umol/L",
    "bilirubin": "umol/L",
    "alt": "U/L",
    "ast": "U/L",
    "alp": "U/L",
    "egfr": "mL/min/1.73m2",
    "chromogranin_a": "ug/L",
    "nse": "ug/L",
    "u_5hiaa": "umol/24h",  # urine 5-HIAA per 24 h
}

_COUNT_UNITS: dict[str, float] = {"10^9/L": 1.0, "10^3/uL": 1.0, "/mm3": 1.0 / 1000.0}

# analyte -> {unit as spelled in CLINICAL.md: factor}; canonical = value × factor.
# The canonical unit comes first, so `accepted_units` lists it first.
UNIT_FACTORS: dict[str, dict[str, float]] = {
    "hemoglobin": {"g/dL": 1.0, "g/L": 0.1, "mmol/L": 1.611},
    "platelets": _COUNT_UNITS,
    "wbc": _COUNT_UNITS,
    "neutrophils": _COUNT_UNITS,
    "lymphocytes": _COUNT_UNITS,
    "creatinine": {"umol/L": 1.0, "mg/dL": 88.4},
    "bilirubin": {"umol/L": 1.0, "mg/dL": 17.1},
    "alt": {"U/L": 1.0},
    "ast": {"U/L": 1.0},
    "alp": {"U/L": 1.0},
    "egfr": {"mL/min/1.73m2": 1.0},
    "chromogranin_a": {"ug/L": 1.0, "ng/mL": 1.0},
    "nse": {"ug/L": 1.0, "ng/mL": 1.0},
    "u_5hiaa": {"umol/24h": 1.0, "mg/24h": 5.23},
}

# Upper limits of a living patient, in the canonical unit (CLINICAL.md §6).
# **Decision**: neutrophils and lymphocytes share the wbc limit (a differential
# count cannot exceed the total count); other analytes have only the
# "no negative value" rule.
PLAUSIBLE_MAX: dict[str, float] = {
    "hemoglobin": 25.0,
    "platelets": 5000.0,
    "wbc": 1000.0,
    "neutrophils": 1000.0,
    "lymphocytes": 1000.0,
    "creatinine": 5000.0,
}


class UnitError(ValueError):
    """An analyte or unit that CLINICAL.md §6 does not accept."""


class PlausibilityError(ValueError):
    """A value no living patient can have (CLINICAL.md §6)."""


@dataclass(frozen=True, slots=True)
class Measurement:
    """A lab value as entered and in its canonical unit (CLINICAL.md §6)."""

    analyte: str
    value: float
    unit: str  # canonical spelling of the unit as entered
    canonical_value: float
    canonical_unit: str


def _key(unit: str) -> str:
    return "".join(unit.split()).replace("µ", "u").replace("μ", "u").casefold()


_LOOKUP: dict[str, dict[str, str]] = {
    analyte: {_key(spelling): spelling for spelling in units}
    for analyte, units in UNIT_FACTORS.items()
}


def _check_analyte(analyte: str) -> None:
    if analyte not in UNIT_FACTORS:
        raise UnitError(f"Unknown analyte {analyte!r}; known analytes: {', '.join(ANALYTES)}.")


def accepted_units(analyte: str) -> list[str]:
    """Units accepted for `analyte`, canonical first (CLINICAL.md §6)."""
    _check_analyte(analyte)
    return list(UNIT_FACTORS[analyte])


@lru_cache(maxsize=4096)
def normalize_unit(analyte: str, unit: str) -> str:
    """The table's spelling of `unit` for `analyte` (CLINICAL.md §6).

    `µ`/`μ` and `u` are the same; whitespace and case are ignored
    ("10^9/l", "µmol / L" are accepted).  Any other spelling raises
    `UnitError` listing the accepted units.  Cached: grading a cohort asks for
    the same few spellings millions of times (an exception is never cached).
    """
    _check_analyte(analyte)
    spelling = _LOOKUP[analyte].get(_key(unit or ""))
    if spelling is None:
        raise UnitError(
            f"Unit {unit!r} is not accepted for {analyte}; "
            f"accepted units: {', '.join(accepted_units(analyte))}."
        )
    return spelling


@lru_cache(maxsize=4096)
def factor(analyte: str, unit: str) -> float:
    """Multiplier from `unit` to the canonical unit of `analyte` (CLINICAL.md §6); cached
    as `normalize_unit` is (an error is never cached)."""
    return UNIT_FACTORS[analyte][normalize_unit(analyte, unit)]


def to_canonical(analyte: str, value: float, unit: str) -> float:
    """`value` in `unit` converted to the analyte's canonical unit (CLINICAL.md §6)."""
    f = factor(analyte, unit)
    return float(value) if f == 1.0 else float(value) * f


def from_canonical(analyte: str, canonical_value: float, unit: str) -> float:
    """A canonical value converted into `unit` (CLINICAL.md §6)."""
    f = factor(analyte, unit)
    return float(canonical_value) if f == 1.0 else float(canonical_value) / f


def check_plausible(analyte: str, canonical_value: float) -> None:
    """Raise `PlausibilityError` naming the limit for an impossible value (CLINICAL.md §6)."""
    _check_analyte(analyte)
    unit = CANONICAL_UNIT[analyte]
    if canonical_value != canonical_value:  # NaN
        raise PlausibilityError(f"{analyte}: value is not a number.")
    if canonical_value < 0:
        raise PlausibilityError(f"{analyte}: a negative value is not possible (limit 0 {unit}).")
    limit = PLAUSIBLE_MAX.get(analyte)
    if limit is not None and canonical_value > limit:
        raise PlausibilityError(
            f"{analyte}: {canonical_value:g} {unit} is above the plausible maximum "
            f"of {limit:g} {unit}."
        )


def measure(analyte: str, value: float, unit: str) -> Measurement:
    """Validate and convert one entered lab value (CLINICAL.md §6).

    Raises `UnitError` or `PlausibilityError`; the Django side calls this at
    the edge (forms, serializers, import).
    """
    spelling = normalize_unit(analyte, unit)
    canonical = to_canonical(analyte, value, spelling)
    check_plausible(analyte, canonical)
    return Measurement(analyte, float(value), spelling, canonical, CANONICAL_UNIT[analyte])
