"""Accepted units, conversion and plausibility (CLINICAL.md §6)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.clinical import units
from registry.clinical.units import (
    ANALYTES,
    CANONICAL_UNIT,
    PlausibilityError,
    UnitError,
    accepted_units,
    check_plausible,
    from_canonical,
    measure,
    normalize_unit,
    to_canonical,
)


@pytest.mark.parametrize(
    ("analyte", "unit", "spelling"),
    [
        ("platelets", "10^9/l", "10^9/L"),
        ("platelets", " 10^3 / µL ", "10^3/uL"),
        ("wbc", "10^3/μl", "10^3/uL"),
        ("neutrophils", "/MM3", "/mm3"),
        ("creatinine", "µmol/L", "umol/L"),
        ("creatinine", "MG/DL", "mg/dL"),
        ("hemoglobin", "mmol/l", "mmol/L"),
        ("chromogranin_a", "ng/ml", "ng/mL"),
        ("egfr", "ml/min/1.73 m2", "mL/min/1.73m2"),
    ],
)
def test_normalize_unit(analyte: str, unit: str, spelling: str) -> None:
    assert normalize_unit(analyte, unit) == spelling


def test_every_analyte_has_its_canonical_unit_first() -> None:
    for analyte in ANALYTES:
        assert accepted_units(analyte)[0] == CANONICAL_UNIT[analyte]


def test_unit_error_lists_accepted_units() -> None:
    with pytest.raises(UnitError) as err:
        normalize_unit("hemoglobin", "mg/dL")
    assert "g/dL, g/L, mmol/L" in str(err.value)
    assert isinstance(err.value, ValueError)
    with pytest.raises(UnitError):
        normalize_unit("alt", "ukat/L")
    with pytest.raises(UnitError, match="Unknown analyte"):
        accepted_units("sodium")


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "canonical"),
    [
        ("hemoglobin", 120, "g/L", 12.0),
        ("hemoglobin", 7.5, "mmol/L", 7.5 * 1.611),
        ("platelets", 150000, "/mm3", 150.0),
        ("wbc", 4.2, "10^3/uL", 4.2),
        ("creatinine", 1.0, "mg/dL", 88.4),
        ("bilirubin", 1.0, "mg/dL", 17.1),
        ("chromogranin_a", 90, "ng/mL", 90.0),
        ("alt", 30, "U/L", 30.0),
    ],
)
def test_to_canonical(analyte: str, value: float, unit: str, canonical: float) -> None:
    assert to_canonical(analyte, value, unit) == pytest.approx(canonical)
    assert from_canonical(analyte, canonical, unit) == pytest.approx(value)


@given(
    st.sampled_from(ANALYTES).flatmap(
        lambda a: st.tuples(st.just(a), st.sampled_from(accepted_units(a)))
    ),
    st.floats(0, 1e4),
)
def test_round_trip(analyte_unit, value) -> None:
    analyte, unit = analyte_unit
    back = from_canonical(analyte, to_canonical(analyte, value, unit), unit)
    assert back == pytest.approx(value, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(
    ("analyte", "ok", "bad"),
    [
        ("hemoglobin", 25.0, 25.01),
        ("platelets", 5000, 5000.1),
        ("wbc", 1000, 1000.1),
        ("creatinine", 5000, 5000.1),
    ],
)
def test_plausibility_limits(analyte: str, ok: float, bad: float) -> None:
    check_plausible(analyte, ok)
    with pytest.raises(PlausibilityError) as err:
        check_plausible(analyte, bad)
    assert f"{units.PLAUSIBLE_MAX[analyte]:g}" in str(err.value)


def test_negative_and_nan_rejected() -> None:
    check_plausible("alt", 0)
    with pytest.raises(PlausibilityError, match="negative"):
        check_plausible("alt", -0.1)
    with pytest.raises(PlausibilityError):
        check_plausible("alt", float("nan"))


def test_measure() -> None:
    m = measure("hemoglobin", 7.9, "mmol/l")
    assert (m.unit, m.canonical_unit) == ("mmol/L", "g/dL")
    assert m.canonical_value == pytest.approx(7.9 * 1.611)
    with pytest.raises(PlausibilityError):
        measure("hemoglobin", 260, "g/L")
