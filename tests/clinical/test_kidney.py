"""CKD-EPI 2021 and Cockcroft–Gault (CLINICAL.md §6)."""

from __future__ import annotations

from datetime import date

import pytest

from registry.clinical.kidney import age_years, ckd_epi_2021, cockcroft_gault


def test_ckd_epi_2021() -> None:
    # Scr 1.0 mg/dL (88.4 µmol/L), 60 years: 142 × (1/0.9)^-0.302 × 0.9938^60 for a man.
    male = 142 * (1 / 0.9) ** -1.2 * 0.9938**60
    assert ckd_epi_2021(88.4, 60, "M") == pytest.approx(male)
    assert ckd_epi_2021(88.4, 60, "M") == pytest.approx(86.1, abs=0.1)
    female = 142 * (1 / 0.7) ** -1.2 * 0.9938**60 * 1.012
    assert ckd_epi_2021(88.4, 60, "F") == pytest.approx(female)
    assert ckd_epi_2021(88.4, 60, "F") == pytest.approx(64.5, abs=0.1)
    low = 142 * (0.6 / 0.7) ** -0.241 * 0.9938**50 * 1.012
    assert ckd_epi_2021(0.6 * 88.4, 50, "F") == pytest.approx(low)
    assert ckd_epi_2021(88.4, 60, None) == ckd_epi_2021(88.4, 60, "M")


def test_cockcroft_gault() -> None:
    assert cockcroft_gault(88.4, 60, 72, "M") == pytest.approx(80.0)
    assert cockcroft_gault(88.4, 60, 72, "F") == pytest.approx(68.0)
    with pytest.raises(ValueError):
        cockcroft_gault(0, 60, 72, "M")


def test_age_years() -> None:
    assert age_years(date(1950, 6, 15), date(2010, 6, 14)) == 59
    assert age_years(date(1950, 6, 15), date(2010, 6, 15)) == 60
