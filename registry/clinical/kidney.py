"""Kidney function: CKD-EPI 2021 eGFR and Cockcroft–Gault clearance (CLINICAL.md §6).

**Decision**: sex "U"/None uses the male constants, as the default reference
ranges of CLINICAL.md §5 do for "M and unknown".
"""

from __future__ import annotations

from datetime import date

CREATININE_UMOL_PER_MG_DL = 88.4


def age_years(birth_date: date, on: date) -> float:
    """Age in completed years at `on` (CLINICAL.md §6)."""
    years = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
    return float(years)


def ckd_epi_2021(creatinine_umol_l: float, age: float, sex: str | None) -> float:
    """eGFR in mL/min/1.73m² by the race-free CKD-EPI 2021 equation (CLINICAL.md §6).

    142 × min(Scr/κ, 1)^α × max(Scr/κ, 1)^−1.200 × 0.9938^age × 1.012 if
    female; Scr in mg/dL, κ 0.7 (F) / 0.9 (M), α −0.241 (F) / −0.302 (M).
    """
    if creatinine_umol_l <= 0:
        raise ValueError("creatinine must be positive")
    female = sex == "F"
    scr = creatinine_umol_l / CREATININE_UMOL_PER_MG_DL
    kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
    ratio = scr / kappa
    egfr = 142.0 * min(ratio, 1.0) ** alpha * max(ratio, 1.0) ** -1.200 * 0.9938**age
    return egfr * 1.012 if female else egfr


def cockcroft_gault(
    creatinine_umol_l: float, age: float, weight_kg: float, sex: str | None
) -> float:
    """Creatinine clearance in mL/min by Cockcroft–Gault (CLINICAL.md §6).

    (140 − age) × weight / (72 × Scr[mg/dL]), × 0.85 if female.
    """
    if creatinine_umol_l <= 0:
        raise ValueError("creatinine must be positive")
    scr = creatinine_umol_l / CREATININE_UMOL_PER_MG_DL
    clearance = (140.0 - age) * weight_kg / (72.0 * scr)
    return clearance * 0.85 if sex == "F" else clearance
