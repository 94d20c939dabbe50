"""An independent statistician's check of the registry, end to end through the API.

A new `lutetia-cohort/1` document (14 patients, two sites, `H-` study IDs) is
imported through `POST /api/v1/imports/`; every expected number below was
worked out BY HAND from CLINICAL.md and CONTRACT.md and is written as a literal
with its arithmetic in a comment.  No registry code is called to compute an
expectation: only the API's answers are read.

Conventions of the hand arithmetic:

- `S` is the course start (first cycle); `d` are days after it.
- Months = days / 30.4375 (CLINICAL.md §1); `m(days)` only does that division.
- Outcomes give months to 2 decimals, the cohort report to 1, survival tables
  time to 2 and survival/bounds to 4 (CONTRACT.md examples).
- SPD = Σ long × short (SWOG, §2a); SoD = Σ long (non-nodal) + short (nodal)
  (RECIST, §2b).
- Grades follow §5; "NA" = no value in the toxicity window (`not_assessed`).
"""

from __future__ import annotations

import pytest

from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db

DAYS_PER_MONTH = 30.4375  # CLINICAL.md §1
TOXICITY_KEYS = ("hematologic", "hemoglobin", "platelets", "wbc", "neutrophils", "lymphocytes")
ALL_TOXICITY_KEYS = (*TOXICITY_KEYS, "creatinine")


def m(days: int) -> float:
    """Days as months, at the full precision the outcomes endpoint gives them."""
    return days / DAYS_PER_MONTH


def rounded(value, digits: int):
    """The API's full-precision numbers rounded as these hand derivations are written."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, digits) for v in value]
    return value


def summary_of(follow_up: dict) -> dict:
    return {k: follow_up[k] for k in ("median_months", "min_months", "max_months")}


# ------------------------------------------------------------------ document


def lab(date, analyte, value, unit, lln=None, uln=None):
    row = {"date": date, "analyte": analyte, "value": value, "unit": unit}
    if lln is not None:
        row["lln"] = lln
    if uln is not None:
        row["uln"] = uln
    return row


def target(label, long_mm, short_mm, organ="liver", node=False):
    return {
        "lesion": label,
        "organ": organ,
        "lymph_node": node,
        "target": True,
        "long_mm": long_mm,
        "short_mm": short_mm,
    }


def non_target(label, status, organ="bone"):
    return {"lesion": label, "organ": organ, "lymph_node": False, "target": False, "status": status}


def new_lesion(label, long_mm, short_mm, organ="liver", node=False):
    lesion = target(label, long_mm, short_mm, organ, node)
    return {**lesion, "target": False, "new": True}


def scan(date, *lesions, modality="CT"):
    return {"date": date, "modality": modality, "lesions": list(lesions)}


def course(phase, intended, *cycles, stop_reason="completed"):
    return {
        "phase": phase,
        "intended_activity_gbq": intended,
        "stop_reason": stop_reason,
        "cycles": [{"date": day, "activity_gbq": gbq} for day, gbq in cycles],
    }


def patient(study_id, site, sex, primary_site, *, last_follow_up=None, death_date=None, **facts):
    return {
        "study_id": study_id,
        "site": site,
        "sex": sex,
        "primary_site": primary_site,
        "diagnosis_date": "2000-01-03",
        "last_follow_up": last_follow_up,
        "death_date": death_date,
        "courses": facts.get("courses", []),
        "labs": facts.get("labs", []),
        "scans": facts.get("scans", []),
        "clinical_progressions": [{"date": day} for day in facts.get("progressions", [])],
        "adverse_events": facts.get("adverse_events", []),
    }


PATIENTS = [
    # H-01: regular course, clinical progression, salvage with SWOG PR at exactly −50 %.
    patient(
        "H-01",
        "ROT",
        "F",
        "pancreas",
        last_follow_up="2007-06-01",
        courses=[
            course(
                "regular",
                29.6,
                ("2003-01-06", 7.4),
                ("2003-03-03", 7.4),
                ("2003-04-28", 7.4),
                ("2003-06-23", 7.4),
            ),
            course("salvage", 14.8, ("2005-06-01", 7.4), ("2005-07-27", 7.35)),
        ],
        progressions=["2005-03-01"],
        labs=[
            lab("2003-02-03", "platelets", 140, "10^9/l"),
            lab("2005-05-25", "creatinine", 70, "umol/L"),
            lab("2005-06-01", "hemoglobin", 12.5, "g/dL"),
            lab("2005-07-01", "hemoglobin", 9.9, "g/dL"),
            lab("2005-07-01", "platelets", 75000, "/mm3"),
            lab("2005-07-01", "wbc", 3.0, "10^9/L"),
            lab("2005-07-01", "creatinine", 0.9, "mg/dL"),
            lab("2005-07-29", "platelets", 74000, "/mm3"),
            lab("2005-08-15", "hemoglobin", 10.0, "g/dL"),
        ],
        scans=[
            scan("2005-05-20", target("L1", 40, 30), target("L2", 20, 20)),
            scan("2005-08-01", target("L1", 30, 20), target("L2", 20, 10)),
            scan("2006-02-01", target("L1", 40, 25), target("L2", 20, 10)),
        ],
    ),
    # H-02: SWOG MR at exactly −25 % with a nodal target; non-target progression; death.
    patient(
        "H-02",
        "ROT",
        "M",
        "midgut",
        last_follow_up="2007-01-15",
        death_date="2007-01-15",
        courses=[course("salvage", 14.8, ("2006-03-06", 7.4), ("2006-05-01", 7.4))],
        labs=[
            lab("2006-03-01", "hemoglobin", 8.6, "mmol/L"),
            lab("2006-03-01", "creatinine", 80, "umol/L", uln=100),
            lab("2006-04-03", "hemoglobin", 6.2, "mmol/L"),
            lab("2006-04-03", "creatinine", 151, "µmol/L", uln=100),
            lab("2006-04-03", "neutrophils", 1.0, "10^9/L"),
            lab("2006-05-29", "hemoglobin", 4.8, "mmol/l"),
        ],
        scans=[
            scan(
                "2006-02-20",
                target("L1", 50, 40),
                target("N1", 30, 20, organ="mesentery", node=True),
                non_target("B1", "present"),
            ),
            scan(
                "2006-05-15",
                target("L1", 45, 37),
                target("N1", 28.5, 10, organ="mesentery", node=True),
                non_target("B1", "present"),
            ),
            scan(
                "2006-09-11",
                target("L1", 46, 37),
                target("N1", 28.5, 10, organ="mesentery", node=True),
                non_target("B1", "progression"),
            ),
        ],
    ),
    # H-03: SWOG PR while RECIST says CR (node short axis 8 mm); 7.4 + 7.3 reaches 14.8
    # (≥ 90 %, CLINICAL.md §1).
    patient(
        "H-03",
        "ROT",
        "F",
        "pancreas",
        last_follow_up="2008-03-03",
        courses=[course("salvage", 14.8, ("2006-09-04", 7.4), ("2006-10-30", 7.3))],
        labs=[
            lab("2006-10-02", "platelets", 49, "10^3/µL", lln=140),
            lab("2006-10-02", "wbc", 1.9, "10^3/uL"),
            lab("2006-10-02", "neutrophils", 0.99, "10^9/L"),
            lab("2006-10-02", "lymphocytes", 0.19, "10^9/L"),
            lab("2006-11-27", "hemoglobin", 119, "g/L"),
        ],
        scans=[
            scan(
                "2006-08-28",
                target("L1", 22, 18),
                target("N1", 25, 16, organ="portal", node=True),
            ),
            scan("2006-12-04", target("L1", 0, 0), target("N1", 12, 8, organ="portal", node=True)),
            scan("2007-06-04", target("L1", 0, 0), target("N1", 12, 8, organ="portal", node=True)),
        ],
        adverse_events=[{"term": "Thrombocytopenia", "grade": 3, "onset": "2006-10-02"}],
    ),
    # H-04: a small new lymph node: PD for SWOG at day 30, not for RECIST; death.
    patient(
        "H-04",
        "ROT",
        "M",
        "hindgut",
        death_date="2007-07-27",
        courses=[course("salvage", 14.8, ("2007-01-08", 7.4), stop_reason="death")],
        labs=[
            lab("2007-02-05", "hemoglobin", 99, "g/L"),
            lab("2007-03-05", "hemoglobin", 80, "g/l"),
            lab("2007-03-05", "platelets", 24000, "/mm3", lln=150000),
            lab("2007-03-05", "wbc", 2.0, "10^9/L"),
        ],
        scans=[
            scan("2006-12-20", target("L1", 60, 50)),
            scan(
                "2007-02-07",
                target("L1", 62, 50),
                new_lesion("N9", 12, 8, organ="mesentery", node=True),
            ),
            scan(
                "2007-05-08",
                target("L1", 75, 55),
                new_lesion("N9", 12, 8, organ="mesentery", node=True),
            ),
        ],
    ),
    # H-05: baseline scan 122 days before the start (too old): NE; clinical progression.
    patient(
        "H-05",
        "ROT",
        "F",
        "bronchial",
        last_follow_up="2008-10-01",
        courses=[course("salvage", 14.8, ("2007-04-02", 7.4), ("2007-06-04", 7.4))],
        progressions=["2007-08-30"],
        labs=[
            lab("2007-03-26", "creatinine", 1.0, "mg/dL", uln=1.0),
            lab("2007-04-02", "hemoglobin", 12.0, "g/dL", lln=11.0),
            lab("2007-05-02", "hemoglobin", 11.5, "g/dL", lln=11.0),
            lab("2007-05-02", "creatinine", 1.5, "mg/dL", uln=1.0),
            lab("2007-05-02", "platelets", 150, "10^9/L"),
            lab("2007-07-02", "hemoglobin", 10.9, "g/dL", lln=11.0),
        ],
        scans=[
            scan("2006-12-01", target("L1", 30, 30, organ="lung")),
            scan("2007-07-02", target("L1", 20, 20, organ="lung")),
        ],
    ),
    # H-06: regular, salvage round 1 (censored the day before round 2), re-retreatment.
    patient(
        "H-06",
        "ROT",
        "M",
        "midgut",
        last_follow_up="2006-11-20",
        death_date="2006-11-20",
        # Courses and cycles deliberately out of date order: rounds follow dates (§1).
        courses=[
            course("salvage", 14.8, ("2006-03-06", 7.4), ("2006-01-09", 7.4)),
            course("regular", 22.2, ("2002-04-01", 7.4), ("2002-02-04", 7.4), ("2002-05-27", 7.4)),
            course("salvage", 14.8, ("2004-03-01", 7.4), ("2004-04-26", 7.4)),
        ],
        progressions=["2004-01-12"],
        labs=[
            lab("2004-04-05", "platelets", 100000, "/mm3", lln=100000),
            lab("2004-04-05", "wbc", 2500, "/mm3"),
            lab("2006-02-06", "platelets", 60, "10^9/L"),
            lab("2006-02-06", "hemoglobin", 9.0, "g/dL"),
        ],
        scans=[
            scan("2004-02-16", target("L1", 40, 40)),
            scan("2004-03-31", target("L1", 38, 38)),
            scan("2004-05-31", target("L1", 38, 38)),
            scan("2005-12-27", target("L1", 40, 32)),
            scan("2006-04-10", target("L1", 28, 28)),
        ],
        adverse_events=[{"term": "Myelodysplastic syndrome", "grade": 4, "onset": "2006-06-01"}],
    ),
    # H-07: SWOG PD at exactly +25 % over nadir; RECIST +25 % but only 4 mm: not PD (later
    # +5 mm exactly: PD).
    patient(
        "H-07",
        "ROT",
        "F",
        "pancreas",
        last_follow_up="2009-02-02",
        courses=[course("salvage", 14.8, ("2007-09-03", 7.4), ("2007-10-29", 7.4))],
        labs=[
            lab("2007-09-24", "wbc", 3.4, "10^9/L", lln=3.5),
            lab("2007-09-24", "neutrophils", 1500, "/mm3"),
            lab("2007-10-22", "neutrophils", 1490, "/mm3"),
            lab("2007-10-22", "lymphocytes", 0.8, "10^9/L"),
            lab("2008-01-27", "platelets", 70, "10^9/L"),
            lab("2008-01-28", "platelets", 20, "10^9/L"),
        ],
        scans=[
            scan("2007-08-27", target("L1", 20, 20)),
            scan("2007-10-23", target("L1", 16, 15)),
            scan("2008-01-21", target("L1", 20, 15)),
            scan("2008-04-21", target("L1", 21, 15)),
        ],
    ),
    # H-08: regular PR; salvage target not evaluated, then PD on the evaluated target alone.
    patient(
        "H-08",
        "GRO",
        "M",
        "pancreas",
        last_follow_up="2005-12-04",
        death_date="2005-12-04",
        courses=[
            course(
                "regular",
                29.6,
                ("2002-09-02", 7.4),
                ("2002-10-28", 7.4),
                ("2002-12-23", 7.4),
                ("2003-02-17", 7.3),
            ),
            course("salvage", 14.8, ("2005-02-07", 7.4), ("2005-04-04", 7.4)),
        ],
        progressions=["2004-11-15"],
        labs=[
            lab("2005-01-24", "creatinine", 50, "umol/L"),
            lab("2005-03-07", "hemoglobin", 13.5, "g/dL"),
            lab("2005-03-07", "creatinine", 160, "µmol / L"),
            lab("2005-05-02", "hemoglobin", 7.95, "g/dL"),
        ],
        scans=[
            scan("2002-08-26", target("L1", 30, 30), target("L2", 20, 20)),
            scan("2003-03-17", target("L1", 21, 21), target("L2", 10, 10)),
            scan("2005-01-31", target("L1", 30, 30), target("L2", 20, 20)),
            scan("2005-04-08", target("L1", 28, 28)),
            scan("2005-07-08", target("L1", 45, 40)),
        ],
    ),
    # H-09: SWOG −24.3 % is SD; labs at last cycle + 90 days (in) and + 91 (out).
    patient(
        "H-09",
        "GRO",
        "F",
        "midgut",
        last_follow_up="2009-06-01",
        courses=[course("salvage", 14.8, ("2008-01-07", 7.4), ("2008-03-03", 7.4))],
        labs=[
            lab("2008-01-07", "platelets", 20, "10^9/L"),
            lab("2008-02-04", "platelets", 76, "10^9/L"),
            lab("2008-02-04", "hemoglobin", 7.5, "mmol/L"),
            lab("2008-04-07", "hemoglobin", 7.4, "mmol/L"),
            lab("2008-06-01", "platelets", 40, "10^9/L"),
            lab("2008-06-02", "platelets", 10, "10^9/L"),
        ],
        scans=[
            scan("2007-12-17", target("L1", 50, 50), non_target("B1", "present")),
            scan("2008-04-07", target("L1", 44, 43), non_target("B1", "absent")),
        ],
    ),
    # H-10: CR at day 35, then regrowth after a nadir of 0 (SWOG PD, RECIST PR); 1 cycle.
    patient(
        "H-10",
        "GRO",
        "M",
        "foregut_other",
        last_follow_up="2008-06-02",
        courses=[course("salvage", 14.8, ("2006-06-05", 7.4), stop_reason="toxicity")],
        labs=[
            lab("2006-05-22", "creatinine", 88.4, "umol/L"),
            lab("2006-07-03", "hemoglobin", 129, "g/L", lln=130),
            lab("2006-07-03", "wbc", 4.5, "10^9/L"),
            lab("2006-08-07", "creatinine", 1.5, "mg/dL"),
        ],
        scans=[
            scan("2006-05-29", target("L1", 25, 20), non_target("B1", "present")),
            scan("2006-07-10", target("L1", 0, 0), non_target("B1", "absent")),
            scan("2006-12-22", target("L1", 4, 3), non_target("B1", "absent")),
        ],
    ),
    # H-11: MR at day 40 does not count; clinical progression before the PD scan; a CR
    # after the first PD does not count either; death.
    patient(
        "H-11",
        "GRO",
        "F",
        "pancreas",
        last_follow_up="2007-11-10",
        death_date="2007-11-10",
        courses=[course("salvage", 14.8, ("2007-03-05", 7.4), ("2007-05-07", 7.4))],
        progressions=["2007-05-24"],
        labs=[
            lab("2007-04-02", "lymphocytes", 500, "/mm3"),
            lab("2007-04-02", "neutrophils", 0.4, "10^3/uL"),
        ],
        scans=[
            scan("2007-02-26", target("L1", 40, 40), modality="MRI"),
            scan("2007-04-14", target("L1", 34, 35), modality="MRI"),
            scan("2007-06-13", target("L1", 43, 38), modality="MRI"),
            scan("2007-08-12", target("L1", 0, 0), modality="MRI"),
        ],
    ),
    # H-12: sex unknown, no scans, no intended activity, no last follow-up.
    patient(
        "H-12",
        "GRO",
        "U",
        "hindgut",
        courses=[
            {
                "phase": "salvage",
                "cycles": [
                    {"date": "2008-02-04", "activity_gbq": 7.4},
                    {"date": "2008-03-31", "activity_gbq": 7.4},
                ],
            }
        ],
        labs=[
            lab("2008-03-03", "hemoglobin", 8.4, "mmol/L"),
            lab("2008-06-03", "creatinine", 111, "umol/L"),
        ],
    ),
    # H-13: baseline on the start date (not an older scan); MR on day 41 does not count,
    # SD on day 42 does; clinical progression on the start date is not "after" it.
    patient(
        "H-13",
        "ROT",
        "M",
        "other",
        last_follow_up="2009-03-02",
        courses=[course("salvage", 14.8, ("2008-04-28", 7.4), ("2008-03-03", 7.4))],
        progressions=["2008-03-03"],
        labs=[
            lab("2007-12-04", "creatinine", 50, "umol/L"),
            lab("2008-03-03", "platelets", 40, "10^9/L"),
            lab("2008-04-01", "creatinine", 80, "umol/L"),
            lab("2008-04-01", "hemoglobin", 9.6, "g/dL", lln=9.5),
        ],
        scans=[
            scan("2008-04-14", target("L1", 27, 20)),
            scan("2008-03-03", target("L1", 30, 20)),
            scan("2008-01-10", target("L1", 60, 40)),
            scan("2008-04-13", target("L1", 25, 18)),
        ],
    ),
    # H-14: a short regular course, salvage soon after (its labs must not count for the
    # regular course); salvage baseline exactly 120 days before; all targets gone but the
    # non-target is not listed (still present): PR, not CR; a new node of short axis 10 mm.
    patient(
        "H-14",
        "GRO",
        "F",
        "unknown_primary",
        last_follow_up="2009-05-04",
        courses=[
            course("regular", 29.6, ("2008-01-14", 7.4), ("2008-03-03", 7.4), stop_reason="other"),
            course("salvage", 14.8, ("2008-05-05", 7.4), ("2008-06-30", 7.4)),
        ],
        labs=[
            lab("2008-04-14", "platelets", 60, "10^9/L"),
            lab("2008-05-26", "hemoglobin", 6.1, "mmol/L", lln=7.0),
            lab("2008-05-26", "platelets", 50, "10^9/L"),
            lab("2008-07-28", "platelets", 25, "10^9/L"),
            lab("2008-07-28", "wbc", 0.99, "10^9/L"),
        ],
        scans=[
            scan(
                "2008-01-06",
                target("L1", 30, 20),
                target("N1", 20, 15, organ="hilum", node=True),
                non_target("B1", "present"),
            ),
            scan(
                "2008-07-07",
                target("L1", 0, 0),
                target("N1", 0, 0, organ="hilum", node=True),
            ),
            scan(
                "2008-10-06",
                target("L1", 0, 0),
                target("N1", 0, 0, organ="hilum", node=True),
                new_lesion("N7", 14, 10, organ="neck", node=True),
            ),
        ],
    ),
]

DOCUMENT = {
    "format": "lutetia-cohort/1",
    "sites": [{"code": "ROT", "name": "Rotterdam"}, {"code": "GRO", "name": "Groningen"}],
    "patients": PATIENTS,
}


# ------------------------------------------------------- per-patient outcomes


def grades(**given):
    """Worst grade per toxicity key; keys not given are None (not assessed)."""
    short = {"hem": "hematologic", "hgb": "hemoglobin", "plt": "platelets", "neu": "neutrophils"}
    short |= {"lym": "lymphocytes", "cre": "creatinine", "wbc": "wbc"}
    worst = dict.fromkeys(ALL_TOXICITY_KEYS)
    worst.update({short[key]: value for key, value in given.items()})
    return worst


def outcome(phase, rnd, start, cycles, gbq, reached, swog, recist, worst, ttp, pfs, os):
    """One course as the outcomes endpoint shows it; ttp/pfs/os are (days, event)."""
    return {
        "phase": phase,
        "round": rnd,
        "start": start,
        "cycles": cycles,
        "activity_gbq": gbq,
        "intended_activity_reached": reached,
        "best_response": {"swog": swog, "recist": recist},
        "worst_grade": worst,
        "ttp": {"months": m(ttp[0]), "event": ttp[1]},
        "pfs": {"months": m(pfs[0]), "event": pfs[1]},
        "os": {"months": m(os[0]), "event": os[1]},
    }


E, C = True, False  # event, censored

# study_id -> (lifetime GBq, [courses in date order]); ttp/pfs under SWOG (the default).
# fmt: off
EXPECTED_OUTCOMES = {
    # Regular S=2003-01-06, window to 2005-05-31: no scan ≤ 120 d before S → NE/NE.
    #   Toxicity window 2003-01-07..2003-09-21 (last cycle 06-23 + 90): platelets 140
    #   (F, default LLN 150) → G1.  Clinical progression 2005-03-01 = S + 785 d (event);
    #   OS censored at last follow-up 2007-06-01 = S + 1607 d.  29.6 = 4 × 7.4 ≥ 29.55.
    # Salvage S=2005-06-01: baseline 2005-05-20 SPD 40·30 + 20·20 = 1600, SoD 40 + 20 = 60.
    #   d61: SPD 30·20 + 20·10 = 800 → −50 % exactly → PR; SoD 50 → −16.7 % → SD.
    #   d245: SPD 40·25 + 200 = 1200 = 1.5 × nadir 800 → PD; SoD 60 = 1.2 × 50, +10 mm → PD.
    #   Labs (Hb on S is pre-treatment): Hb 9.9 g/dL → G2, 10.0 → G1; platelets
    #   75000 /mm3 = 75 → G1, 74000 = 74 → G2; wbc 3.0 → G1; creatinine 0.9 mg/dL
    #   = 79.56 µmol/L < ULN 90 (F), × baseline 70 = 1.14 → G0.
    #   14.75 GBq ≥ 0.9 × 14.8 = 13.32 → reached.  OS censored 2007-06-01 = S + 730 d.
    "H-01": (
        44.35,  # 29.6 + 14.75
        [
            outcome(
                "regular", 1, "2003-01-06", 4, 29.6, True, "NE", "NE",
                grades(hem=1, plt=1), (785, E), (785, E), (1607, C),
            ),
            outcome(
                "salvage", 1, "2005-06-01", 2, 14.75, True, "PR", "SD",
                grades(hem=2, hgb=2, plt=2, wbc=1, cre=0), (245, E), (245, E), (730, C),
            ),
        ],
    ),
    # S=2006-03-06. Baseline SPD 50·40 + 30·20 = 2600; SoD 50 + 20 (node short) = 70.
    #   d70: SPD 45·37 + 28.5·10 = 1665 + 285 = 1950 → −25 % exactly → MR;
    #        SoD 45 + 10 = 55 → −21.4 % → SD.
    #   d189: non-target B1 "progression" → PD (both).  Death S + 315 d.
    #   Hb (M, mmol/L): 6.2 → G1 (not < 6.2), 4.8 → G3 (< 4.9).  Neutrophils 1.0 → G2.
    #   Creatinine 151 with own ULN 100: 1.51 × ULN → G2; × baseline 80 = 1.89 → G2.
    "H-02": (
        14.8,
        [
            outcome(
                "salvage", 1, "2006-03-06", 2, 14.8, True, "MR", "SD",
                grades(hem=3, hgb=3, neu=2, cre=2), (189, E), (189, E), (315, E),
            )
        ],
    ),
    # S=2006-09-04. Baseline SPD 22·18 + 25·16 = 796; SoD 22 + 16 = 38.
    #   d91: L1 0, N1 12×8: SPD 96 → −87.9 % → PR; RECIST L1 0, node short 8 < 10 → CR.
    #   No progression; censored at 2008-03-03 = S + 546 d.  7.4 + 7.3 = 14.7 ≥ 13.32.
    #   Platelets 49 (own LLN 140) → G3; wbc 1.9 → G3; neutrophils 0.99 → G3;
    #   lymphocytes 0.19 → G4; Hb 119 g/L (F, LLN 120 g/L) → G1.
    "H-03": (
        14.7,
        [
            outcome(
                "salvage", 1, "2006-09-04", 2, 14.7, True, "PR", "CR",
                grades(hem=3, hgb=1, plt=3, wbc=3, neu=3, lym=4), (546, C), (546, C), (546, C),
            )
        ],
    ),
    # S=2007-01-08, one cycle.  Baseline SPD 3000, SoD 60.
    #   d30: new lesion N9 → SWOG PD (first evaluable → best PD).  RECIST: new node short
    #        8 < 10 does not count; SoD 62 → SD, but day 30 < 42 → NE for best.
    #   d120: SoD 75 = 1.25 × nadir 60, +15 mm → RECIST PD → best PD.
    #   Death 2007-07-27 = S + 200 d.  Hb 99 g/L → G2, 80 g/L → G2 (not < 80);
    #   platelets 24000 /mm3 = 24 → G4; wbc 2.0 → G2 (not < 2.0).
    "H-04": (
        7.4,
        [
            outcome(
                "salvage", 1, "2007-01-08", 1, 7.4, False, "PD", "PD",
                grades(hem=4, hgb=2, plt=4, wbc=2), (30, E), (30, E), (200, E),
            )
        ],
    ),
    # S=2007-04-02.  Scan 2006-12-01 is 122 d before S → no baseline → NE/NE.
    #   Clinical progression 2007-08-30 = S + 150 d.  Censored 2008-10-01 = S + 548 d.
    #   Hb with own LLN 11.0 g/dL: 11.5 → G0, 10.9 → G1 (12.0 on S is pre-treatment).
    #   Creatinine 1.5 mg/dL, own ULN 1.0 → 1.5 × ULN → G1; baseline 1.0 → 1.5 × (not > 1.5).
    #   Platelets 150 = LLN → G0.
    "H-05": (
        14.8,
        [
            outcome(
                "salvage", 1, "2007-04-02", 2, 14.8, True, "NE", "NE",
                grades(hem=1, hgb=1, plt=0, cre=1), (150, E), (150, E), (548, C),
            )
        ],
    ),
    # Regular S=2002-02-04 (22.2 of 22.2): no baseline → NE; clinical progression
    #   2004-01-12 = S + 707 d; death 2006-11-20 = S + 1750 d; no labs in its window.
    # Salvage 1 S=2004-03-01, window to 2006-01-08: baseline 2004-02-16 SPD 1600, SoD 40;
    #   d30 SPD 1444 (−9.75 %) SD but < 42 d; d91 1444 SD; 2005-12-27 SPD 1280 (−20 %,
    #   1280 < 1.25 × 1444) SD.  RECIST 38, 38, 40 (< 1.2 × 38) → SD.  No progression →
    #   TTP and PFS censored the day before salvage 2: 2006-01-08 = S + 678 d; OS to
    #   death 2006-11-20 = S + 994 d.  Platelets 100000 /mm3 with own LLN 100000 → G0;
    #   wbc 2500 /mm3 = 2.5 → G2.
    # Salvage 2 S=2006-01-09: baseline 2005-12-27 SPD 40·32 = 1280, SoD 40.  d91: SPD
    #   28·28 = 784 → −38.75 % → MR; SoD 28 = 0.70 × 40 → PR.  Death S + 315 d without
    #   progression: TTP censored, PFS event.  Platelets 60 → G2; Hb 9.0 g/dL → G2.
    "H-06": (
        51.8,  # 22.2 + 14.8 + 14.8
        [
            outcome(
                "regular", 1, "2002-02-04", 3, 22.2, True, "NE", "NE",
                grades(), (707, E), (707, E), (1750, E),
            ),
            outcome(
                "salvage", 1, "2004-03-01", 2, 14.8, True, "SD", "SD",
                grades(hem=2, plt=0, wbc=2), (678, C), (678, C), (994, E),
            ),
            outcome(
                "salvage", 2, "2006-01-09", 2, 14.8, True, "MR", "PR",
                grades(hem=2, hgb=2, plt=2), (315, C), (315, E), (315, E),
            ),
        ],
    ),
    # S=2007-09-03.  Baseline SPD 400, SoD 20.
    #   d50: SPD 16·15 = 240 → −40 % → MR; SoD 16 → −20 % → SD.
    #   d140: SPD 20·15 = 300 = 1.25 × nadir 240 → PD; SoD 20 = 1.25 × 16 but +4 mm < 5
    #         → not PD, 0 % vs baseline → SD.
    #   wbc 3.4, own LLN 3.5 → G1; neutrophils 1500 /mm3 = 1.5 → G1, 1490 → G2;
    #   lymphocytes 0.8 → G1; platelets 70 on last cycle + 90 d (2008-01-27) → G2;
    #   platelets 20 on + 91 d is outside the window.
    #   d231: SoD 21 = 1.31 × nadir 16 and +5 mm exactly → RECIST PD (TTP 231 d).
    "H-07": (
        14.8,
        [
            outcome(
                "salvage", 1, "2007-09-03", 2, 14.8, True, "MR", "SD",
                grades(hem=2, plt=2, wbc=1, neu=2, lym=1), (140, E), (140, E), (518, C),
            )
        ],
    ),
    # Regular S=2002-09-02: baseline 2002-08-26 SPD 1300, SoD 50; 2003-03-17 SPD 441 + 100
    #   = 541 (−58.4 %) → PR, SoD 31 (−38 %) → PR.  Progression: clinical 2004-11-15 (S +
    #   805 d) before the PD scan 2005-01-31.  Death 2005-12-04 = S + 1189 d.  29.5 < 29.55.
    # Salvage S=2005-02-07: baseline 2005-01-31 SPD 1300, SoD 50.  d60: L2 not listed,
    #   L1 784 not PD → NE.  d151: L2 not listed, L1 45·40 = 1800 ≥ 1.25 × 1300 → SWOG PD
    #   (first evaluable); RECIST L1 45 < 50 → NE → best NE, no progression: TTP censored
    #   at death (300 d), PFS event at death.
    #   Hb 13.5 g/dL (M) → G0, 7.95 → G3; creatinine 160 µmol/L: 1.45 × ULN 110 → G1,
    #   but 3.2 × baseline 50 → G3.
    "H-08": (
        44.3,  # 29.5 + 14.8
        [
            outcome(
                "regular", 1, "2002-09-02", 4, 29.5, True, "PR", "PR",  # 29.5 ≥ 0.9 × 29.6
                grades(), (805, E), (805, E), (1189, E),
            ),
            outcome(
                "salvage", 1, "2005-02-07", 2, 14.8, True, "PD", "NE",
                grades(hem=3, hgb=3, cre=3), (151, E), (151, E), (300, E),
            ),
        ],
    ),
    # S=2008-01-07.  Baseline SPD 2500, SoD 50; d91 SPD 44·43 = 1892 → −24.3 % → SD;
    #   SoD 44 → SD.  Censored 2009-06-01 = S + 511 d.
    #   Platelets 20 on S: pre-treatment; 76 → G1; 40 on last cycle + 90 d → G3; 10 on
    #   + 91 d: outside.  Hb 7.5 mmol/L = F LLN → G0; 7.4 → G1.
    "H-09": (
        14.8,
        [
            outcome(
                "salvage", 1, "2008-01-07", 2, 14.8, True, "SD", "SD",
                grades(hem=3, hgb=1, plt=3), (511, C), (511, C), (511, C),
            )
        ],
    ),
    # S=2006-06-05, one cycle of the intended 14.8.  d35: L1 0, B1 absent → CR (both; the
    #   42-day rule is for SD/MR only).  d200: SPD 12 after a nadir of 0 → SWOG PD; SoD 4
    #   − 0 < 5 mm → RECIST not PD (4 ≤ 0.7 × 25 → PR): RECIST TTP censored 728 d.
    #   Hb 129 g/L, own LLN 130 → G1; wbc 4.5 → G0; creatinine 1.5 mg/dL = 132.6 µmol/L
    #   (1.21 × ULN 110) → G1; × baseline 88.4 µmol/L (= 1.0 mg/dL) = 1.5, not > 1.5.
    "H-10": (
        7.4,
        [
            outcome(
                "salvage", 1, "2006-06-05", 1, 7.4, False, "CR", "CR",
                grades(hem=1, hgb=1, wbc=0, cre=1), (200, E), (200, E), (728, C),
            )
        ],
    ),
    # S=2007-03-05.  Baseline SPD 1600, SoD 40.  d40: SPD 1190 (−25.6 %) MR, SoD 34 SD:
    #   both before day 42 → NE.  d100: SPD 1634 = 1.37 × 1190, SoD 43 = 1.26 × 34 (+9 mm)
    #   → PD both, the first evaluable → best PD.  Progression = clinical 2007-05-24
    #   (S + 80 d) before the scan.  d160 CR comes after the first PD: ignored.  Death S + 250 d.
    #   Lymphocytes 500 /mm3 = 0.5 → G2 (not < 0.5); neutrophils 0.4 → G4.
    "H-11": (
        14.8,
        [
            outcome(
                "salvage", 1, "2007-03-05", 2, 14.8, True, "PD", "PD",
                grades(hem=4, neu=4, lym=2), (80, E), (80, E), (250, E),
            )
        ],
    ),
    # S=2008-02-04, no scans → NE; no intended activity → not reached (null).  No last
    #   follow-up: censored at the latest fact, the lab of 2008-06-03 = S + 120 d.
    #   Hb 8.4 mmol/L, sex U → LLN 8.5 → G1; creatinine 111 > ULN 110 → G1.
    "H-12": (
        14.8,
        [
            outcome(
                "salvage", 1, "2008-02-04", 2, 14.8, None, "NE", "NE",
                grades(hem=1, hgb=1, cre=1), (120, C), (120, C), (120, C),
            )
        ],
    ),
    # S=2008-03-03 (cycles given out of order).  Baseline = the scan ON S (SPD 30·20 = 600,
    #   SoD 30), not 2008-01-10.  d41: SPD 25·18 = 450 (−25 %) MR, SoD 25 SD: < 42 d → NE.
    #   d42: SPD 27·20 = 540 (−10 %, 540 < 1.25 × 450) → SD, counts; SoD 27 → SD.
    #   The clinical progression on S is not after S → none: censored 2009-03-02 (364 d).
    #   Creatinine 80 ≤ ULN 110 but 1.6 × baseline 50 (dated S − 90 d, still baseline)
    #   → G2.  Hb 9.6 g/dL with own LLN 9.5 → inside the range → G0.  Platelets on S:
    #   pre-treatment.
    "H-13": (
        14.8,
        [
            outcome(
                "salvage", 1, "2008-03-03", 2, 14.8, True, "SD", "SD",
                grades(hem=0, hgb=0, cre=2), (364, C), (364, C), (364, C),
            )
        ],
    ),
    # Regular S=2008-01-14 (14.8 of 29.6): baseline 2008-01-06 but no follow-up scan in its
    #   window (to 2008-05-04) → NE.  No progression → censored the day before salvage:
    #   2008-05-04 = S + 111 d (TTP, PFS); OS censored 2009-05-04 = S + 476 d.  Toxicity
    #   window 2008-01-15..2008-05-04 (last cycle + 90 = 06-01, cut by the course window):
    #   platelets 60 → G2; the salvage labs of 05-26 do not count.
    # Salvage S=2008-05-05; baseline 2008-01-06 = S − 120 d: SPD 600 + 300 = 900, SoD 30 + 15 = 45.
    #   d63: all targets 0 but B1 not listed → still present: SWOG not CR, −100 % → PR;
    #   RECIST target CR with a non-target present → PR.
    #   d154: new node N7 short 10 mm → PD under both (RECIST: ≥ 10 mm counts).
    #   Censored 2009-05-04 = S + 364 d.  Hb 6.1 mmol/L (own LLN 7.0) → G2; platelets
    #   50 → G2 (not < 50), 25 → G3 (not < 25); wbc 0.99 → G4.
    "H-14": (
        29.6,
        [
            outcome(
                "regular", 1, "2008-01-14", 2, 14.8, False, "NE", "NE",
                grades(hem=2, plt=2), (111, C), (111, C), (476, C),
            ),
            outcome(
                "salvage", 1, "2008-05-05", 2, 14.8, True, "PR", "PR",
                grades(hem=4, hgb=2, plt=3, wbc=4), (154, E), (154, E), (364, C),
            )
        ],
    ),
}
# fmt: on

# TTP/PFS under RECIST where they differ from SWOG: study_id -> [(ttp, pfs) per course].
EXPECTED_RECIST_ENDPOINTS = {
    "H-04": [((120, E), (120, E))],  # RECIST PD at d120 (SWOG: d30)
    "H-07": [((231, E), (231, E))],  # RECIST PD only at d231 (+5 mm exactly)
    "H-08": [((805, E), (805, E)), ((300, C), (300, E))],  # salvage: censored at death
    "H-10": [((728, C), (728, C))],  # no RECIST PD
}


# ------------------------------------------------------------------- fixtures


@pytest.fixture
def adm_client(admin_user):
    return client_for(admin_user)


@pytest.fixture
def imported(adm_client, django_capture_on_commit_callbacks) -> dict[str, int]:
    """Import the document as an admin (eager Celery) and map study_id -> patient id."""
    with django_capture_on_commit_callbacks(execute=True):
        response = adm_client.post("/api/v1/imports/", DOCUMENT, format="json")
    assert response.status_code == 202, response.content
    job = adm_client.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert job["status"] == "done", job
    assert (job["created"], job["errors"]) == (14, [])
    ids = {}
    for study_id in EXPECTED_OUTCOMES:
        found = adm_client.get("/api/v1/patients/", {"study_id": study_id}).json()
        assert found["count"] == 1, study_id
        ids[study_id] = found["results"][0]["id"]
    return ids


def report(client, **params) -> dict:
    response = client.get("/api/v1/reports/cohort/", params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["stale_patients"] == 0
    return body


def survival(client, **params) -> dict:
    """The analysis, with times and medians to 2 decimals and S, bounds, chi² and p to 4:
    the precision these hand derivations are written to (the API itself does not round;
    tests/api/test_full_precision.py checks that)."""
    response = client.get("/api/v1/analyses/survival/", params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["stale_patients"] == 0
    for group in body["groups"]:
        group["median"] = rounded(group["median"], 2)
        group["median_ci95"] = rounded(group["median_ci95"], 2)
        for row in group["table"]:
            row["time"] = rounded(row["time"], 2)
            for key in ("survival", "ci_lower", "ci_upper"):
                row[key] = rounded(row[key], 4)
    if body["logrank"]:
        body["logrank"]["chi2"] = rounded(body["logrank"]["chi2"], 4)
        body["logrank"]["p"] = rounded(body["logrank"]["p"], 4)
    return body


def tox(g0, g1, g2, g3, g4, na):
    return {"0": g0, "1": g1, "2": g2, "3": g3, "4": g4, "not_assessed": na}


def responses(cr, pr, mr, sd, pd, ne):
    return {"CR": cr, "PR": pr, "MR": mr, "SD": sd, "PD": pd, "NE": ne}


# ---------------------------------------------------------- per-patient tests


@pytest.mark.parametrize("study_id", sorted(EXPECTED_OUTCOMES))
def test_patient_outcomes(imported, adm_client, study_id):
    lifetime, expected = EXPECTED_OUTCOMES[study_id]
    body = adm_client.get(f"/api/v1/patients/{imported[study_id]}/outcomes/").json()
    assert body["study_id"] == study_id and body["stale"] is False
    assert body["cumulative_activity_gbq"] == pytest.approx(lifetime, abs=1e-9)
    got = [{key: course[key] for key in expected[0]} for course in body["courses"]]
    for course_got in got:
        course_got["worst_grade"] = {k: course_got["worst_grade"][k] for k in ALL_TOXICITY_KEYS}
    assert got == expected


@pytest.mark.parametrize("study_id", sorted(EXPECTED_RECIST_ENDPOINTS))
def test_patient_endpoints_under_recist(imported, adm_client, study_id):
    body = adm_client.get(
        f"/api/v1/patients/{imported[study_id]}/outcomes/", {"criteria": "recist"}
    ).json()
    got = [
        ((c["ttp"]["months"], c["ttp"]["event"]), (c["pfs"]["months"], c["pfs"]["event"]))
        for c in body["courses"]
    ]
    expected = [
        ((m(ttp[0]), ttp[1]), (m(pfs[0]), pfs[1]))
        for ttp, pfs in EXPECTED_RECIST_ENDPOINTS[study_id]
    ]
    assert got == expected


# ------------------------------------------------------------- cohort report

# Salvage round 1, SWOG, 14 patients (H-06's first salvage course).
#   Best: CR 10; PR 01 03 14; MR 02 07; SD 06 09 13; PD 04 08 11; NE 05 12.
#   Worst grades (hem hgb plt wbc neu lym cre), "-" = not assessed:
#     H-01 2 2 2 1 - - 0 | H-02 3 3 - - 2 - 2 | H-03 3 1 3 3 3 4 - | H-04 4 2 4 2 - - -
#     H-05 1 1 0 - - - 1 | H-06 2 - 0 2 - - - | H-07 2 - 2 1 2 1 - | H-08 3 3 - - - - 3
#     H-09 3 1 3 - - - - | H-10 1 1 - 0 - - 1 | H-11 4 - - - 4 2 - | H-12 1 1 - - - - 1
#     H-13 0 0 - - - - 2 | H-14 4 2 3 4 - - -
SALVAGE_TOXICITY = {
    "hematologic": tox(1, 3, 3, 4, 3, 0),  # 0: 13; 1: 05 10 12; 2: 01 06 07; 3: 02 03 08 09
    "hemoglobin": tox(1, 5, 3, 2, 0, 3),  # 0: 13; 1: 03 05 09 10 12; 2: 01 04 14; 3: 02 08
    "platelets": tox(2, 0, 2, 3, 1, 6),  # 0: 05 06; 2: 01 07; 3: 03 09 14; 4: 04
    "wbc": tox(1, 2, 2, 1, 1, 7),  # 0: 10; 1: 01 07; 2: 04 06; 3: 03; 4: 14
    "neutrophils": tox(0, 0, 2, 1, 1, 10),  # 2: 02 07; 3: 03; 4: 11
    "lymphocytes": tox(0, 1, 1, 0, 1, 11),  # 1: 07; 2: 11; 4: 03
    "creatinine": tox(1, 3, 2, 1, 0, 7),  # 0: 01; 1: 05 10 12; 2: 02 13; 3: 08
}


def test_salvage_report_swog(imported, adm_client):
    body = report(adm_client, phase="salvage")
    assert (body["phase"], body["criteria"], body["n_patients"]) == ("salvage", "swog", 14)
    assert body["best_response"] == responses(1, 3, 2, 3, 3, 2)
    assert body["toxicity"] == SALVAGE_TOXICITY
    # TTP days (E event, C censored): 30E 80E 120C 140E 150E 151E 154E 189E 200E 245E
    # 364C 511C 546C 678C.  S: 13/14, 12/14 = .8571, ·10/11 = .7792, ·9/10 = .7013,
    # ·8/9 = .6234, ·7/8 = .5455, ·6/7 = .4675 at 189 d → median 189 d = 6.21 → 6.2.
    # Log-log lower curve .5394 at 80 d, .4590 at 140 d → 4.60 → 4.6; upper never
    # ≤ 0.5 (.5590 last).
    assert rounded(body["ttp"], 1) == {
        "n": 14,
        "events": 9,
        "median_months": 6.2,
        "ci95": [4.6, None],
    }
    # Follow-up days: 120 200 250 300 315 364 364 511 518 546 548 728 730 994 → median
    # (364 + 511) / 2 = 437.5 d = 14.37 → 14.4; min 120 d = 3.94; max 994 d = 32.66.
    assert rounded(summary_of(body["follow_up"]), 1) == {
        "median_months": 14.4,
        "min_months": 3.9,
        "max_months": 32.7,
    }
    # Activity: 7.4 7.4 14.7 14.75 and 10 × 14.8 → median 14.8.
    assert rounded(body["cumulative_activity_gbq"], 2) == {"median": 14.8, "min": 7.4, "max": 14.8}
    # Reached (≥ 90 %): all but H-04 and H-10 (7.4 of 14.8), H-12 (no intended) → 11.
    assert body["intended_activity_reached"] == 11
    assert body["toxicity_window_days"] == 90


def test_salvage_report_recist(imported, adm_client):
    body = report(adm_client, phase="salvage", criteria="recist")
    assert (body["criteria"], body["n_patients"]) == ("recist", 14)
    # CR 03 10; PR 14; SD 01 02 06 07 09 13; PD 04 11; NE 05 08 12; MR is always 0.
    assert body["best_response"] == responses(2, 1, 0, 6, 2, 3)
    # TTP under RECIST: 80E 120E 120C 150E 154E 189E 231E 245E 300C 364C 511C 546C 678C
    # 728C.  S: 13/14; at 120 d the censored H-12 is still at risk (n 13, d 1): ·12/13 =
    # .8571; ·10/11 = .7792; ·9/10 = .7013; ·8/9 = .6234; ·7/8 = .5455; ·6/7 = .4675 at
    # 245 d → 8.05 → 8.0.  Lower curve .5394 at 120 d, .4590 at 150 d → 4.93 → 4.9.
    assert rounded(body["ttp"], 1) == {
        "n": 14,
        "events": 7,
        "median_months": 8.0,
        "ci95": [4.9, None],
    }
    assert body["toxicity"] == SALVAGE_TOXICITY  # toxicity does not depend on the criteria


def test_report_site_filter(imported, adm_client):
    body = report(adm_client, phase="salvage", site="GRO")
    # H-08 PD, H-09 SD, H-10 CR, H-11 PD, H-12 NE, H-14 PR.
    assert body["n_patients"] == 6
    assert body["best_response"] == responses(1, 1, 0, 1, 2, 1)
    # TTP 80E 120C 151E 154E 200E 511C: S 5/6, 5/6, ·3/4 = .625, ·2/3 = .4167 at 154 d
    # → 5.06 → 5.1.  Lower curve .2731 at 80 d → 2.63 → 2.6.
    assert rounded(body["ttp"], 1) == {
        "n": 6,
        "events": 4,
        "median_months": 5.1,
        "ci95": [2.6, None],
    }
    # Follow-up 120 250 300 364 511 728 d → median 332 d = 10.91; min 3.94; max 23.92.
    assert rounded(summary_of(body["follow_up"]), 1) == {
        "median_months": 10.9,
        "min_months": 3.9,
        "max_months": 23.9,
    }
    assert body["intended_activity_reached"] == 4  # H-08, H-09, H-11, H-14
    # hematologic: 08 3, 09 3, 10 1, 11 4, 12 1, 14 4.
    assert body["toxicity"]["hematologic"] == tox(0, 2, 0, 2, 2, 0)
    both = report(adm_client, phase="salvage", site="ROT,GRO")
    assert both["n_patients"] == 14


def test_report_primary_site_filter(imported, adm_client):
    body = report(adm_client, phase="salvage", primary_site="pancreas,midgut")
    # H-01 PR, H-02 MR, H-03 PR, H-06 SD, H-07 MR, H-08 PD, H-09 SD, H-11 PD.
    assert body["n_patients"] == 8
    assert body["best_response"] == responses(0, 2, 2, 2, 2, 0)
    # TTP 80E 140E 151E 189E 245E 511C 546C 678C: S 7/8, 6/8, 5/8, 4/8 = 0.5 exactly
    # from 189 d to the next event at 245 d → median (189 + 245) / 2 = 217 d = 7.13 → 7.1.
    # Lower curve .387 at 80 d → 2.6; upper never ≤ 0.5 (.6744 last).
    assert rounded(body["ttp"], 1) == {
        "n": 8,
        "events": 5,
        "median_months": 7.1,
        "ci95": [2.6, None],
    }
    narrower = report(adm_client, phase="salvage", primary_site="pancreas", site="ROT")
    # H-01 PR, H-03 PR, H-07 MR.
    assert narrower["best_response"] == responses(0, 2, 1, 0, 0, 0)


def test_report_disease_control(imported, adm_client):
    body = report(adm_client, phase="salvage", disease_control="true")
    # SWOG CR/PR/MR/SD: H-01 02 03 06 07 09 10 13 14.
    assert body["n_patients"] == 9
    assert body["best_response"] == responses(1, 3, 2, 3, 0, 0)
    # TTP 140E 154E 189E 200E 245E 364C 511C 546C 678C: S 8/9, 7/9, 6/9, 5/9, 4/9 = .4444
    # at 245 d → 8.05; lower curve .4330 at 140 d → 4.60.
    assert rounded(body["ttp"], 1) == {
        "n": 9,
        "events": 5,
        "median_months": 8.0,
        "ci95": [4.6, None],
    }
    recist = report(adm_client, phase="salvage", disease_control="true", criteria="recist")
    # RECIST CR/PR/SD: H-01 02 03 06 07 09 10 13 14 (the same nine).
    assert recist["best_response"] == responses(2, 1, 0, 6, 0, 0)
    # Their RECIST TTP: 154E 189E 231E 245E 364C 511C 546C 678C 728C → S 8/9, 7/9, 6/9,
    # 5/9 = .5556, then censored → median null; lower curve .4330 at 154 d → 5.06.
    assert rounded(recist["ttp"], 1) == {
        "n": 9,
        "events": 4,
        "median_months": None,
        "ci95": [5.1, None],
    }
    others = report(adm_client, phase="salvage", disease_control="false")
    assert others["best_response"] == responses(0, 0, 0, 0, 3, 2)  # 04 08 11 | 05 12


def test_report_toxicity_window_30_days(imported, adm_client):
    body = report(adm_client, phase="salvage", toxicity_window_days="30")
    assert body["toxicity_window_days"] == 30
    # Window = (S, last cycle + 30 d].  Labs that drop out: H-04 (one cycle 01-08 → to
    # 02-07) loses 03-05 (Hb 80 G2, plt G4, wbc G2) → hem 2, hgb 2, plt/wbc -;
    # H-07 (to 2007-11-28) loses platelets 70 → plt -, hem 2 (neutrophils);
    # H-09 (to 2008-04-02) keeps plt 76 G1 and Hb 7.5 G0 → hem 1, hgb 0, plt 1;
    # H-10 (to 2006-07-05) loses creatinine 08-07 → cre -;
    # H-12 (to 2008-04-30) loses creatinine 06-03 → cre -.  Others unchanged
    # (H-13 to 2008-05-28, H-14 to 2008-07-30 keep all their labs).
    assert body["toxicity"] == {
        "hematologic": tox(1, 4, 4, 3, 2, 0),  # 0: 13; 1: 05 09 10 12; 2: 01 04 06 07; 4: 11 14
        "hemoglobin": tox(2, 4, 3, 2, 0, 3),  # 0: 09 13; 1: 03 05 10 12; 2: 01 04 14; 3: 02 08
        "platelets": tox(2, 1, 1, 2, 0, 8),  # 0: 05 06; 1: 09; 2: 01; 3: 03 14
        "wbc": tox(1, 2, 1, 1, 1, 8),  # 0: 10; 1: 01 07; 2: 06; 3: 03; 4: 14
        "neutrophils": tox(0, 0, 2, 1, 1, 10),
        "lymphocytes": tox(0, 1, 1, 0, 1, 11),
        "creatinine": tox(1, 1, 2, 1, 0, 9),  # 0: 01; 1: 05; 2: 02 13; 3: 08
    }
    # Everything else is the 90-day report's.
    assert body["best_response"] == responses(1, 3, 2, 3, 3, 2)
    assert round(body["ttp"]["median_months"], 1) == 6.2


def test_regular_report(imported, adm_client):
    body = report(adm_client, phase="regular")
    # H-01 NE, H-06 NE, H-08 PR, H-14 NE.
    assert body["n_patients"] == 4
    assert body["best_response"] == responses(0, 1, 0, 0, 0, 3)
    # TTP 111C 707E 785E 805E: S 1, 2/3, 1/3 at 785 d → 25.79 → 25.8; lower curve .0541
    # at 707 d → 23.23; upper .7741 at 785 d, undefined at 805 d (S = 0) → null.
    assert rounded(body["ttp"], 1) == {
        "n": 4,
        "events": 3,
        "median_months": 25.8,
        "ci95": [23.2, None],
    }
    # Follow-up: H-14 476 d, H-08 1189 d, H-01 1607 d, H-06 1750 d → median (1189 + 1607)
    # / 2 = 1398 d = 45.93; min 15.64; max 57.49.
    assert rounded(summary_of(body["follow_up"]), 1) == {
        "median_months": 45.9,
        "min_months": 15.6,
        "max_months": 57.5,
    }
    # Activity 14.8, 22.2, 29.5, 29.6 → median 25.85; reached (≥ 90 %): H-01 (29.6),
    # H-06 (22.2), H-08 (29.5 of 29.6).
    assert rounded(body["cumulative_activity_gbq"], 2) == {
        "median": 25.85,
        "min": 14.8,
        "max": 29.6,
    }
    assert body["intended_activity_reached"] == 3
    # In regular toxicity windows: H-01 platelets 140 → G1; H-14 platelets 60 → G2.
    assert body["toxicity"]["hematologic"] == tox(0, 1, 1, 0, 0, 2)
    assert body["toxicity"]["platelets"] == tox(0, 1, 1, 0, 0, 2)
    assert body["toxicity"]["hemoglobin"] == tox(0, 0, 0, 0, 0, 4)


def test_report_round_2(imported, adm_client):
    body = report(adm_client, phase="salvage", round="2")
    # H-06's re-retreatment only: MR (SWOG), censored at death after 315 d (10.35 months).
    assert body["n_patients"] == 1
    assert body["best_response"] == responses(0, 0, 1, 0, 0, 0)
    assert rounded(body["ttp"], 1) == {
        "n": 1,
        "events": 0,
        "median_months": None,
        "ci95": [None, None],
    }
    assert rounded(summary_of(body["follow_up"]), 1) == {
        "median_months": 10.3,
        "min_months": 10.3,
        "max_months": 10.3,
    }
    assert rounded(body["cumulative_activity_gbq"], 2) == {"median": 14.8, "min": 14.8, "max": 14.8}
    assert body["intended_activity_reached"] == 1
    assert body["toxicity"]["hematologic"] == tox(0, 0, 1, 0, 0, 0)
    recist = report(adm_client, phase="salvage", round="2", criteria="recist")
    assert recist["best_response"] == responses(0, 1, 0, 0, 0, 0)


# ------------------------------------------------------------- Kaplan–Meier


def rows(table):
    return [
        (r["time"], r["n_risk"], r["n_event"], r["n_censor"], r["survival"], r["ci_lower"],
         r["ci_upper"])
        for r in table
    ]  # fmt: skip


def test_ttp_by_site(imported, adm_client):
    body = survival(adm_client, endpoint="ttp", phase="salvage", strata="site")
    assert (body["endpoint"], body["conf_type"], body["time_unit"]) == ("ttp", "log-log", "months")
    assert [g["label"] for g in body["groups"]] == ["GRO", "ROT"]
    groups = {g["label"]: g for g in body["groups"]}
    # ROT: 30E 140E 150E 189E 245E 364C 546C 678C (n = 8).  S = 7/8, 6/8, 5/8, 4/8, 3/8.
    # Greenwood V at 30 d = 1/(8·7) = .017857; log-log: k = 1.959964·√V / log S
    # = .26191 / −.13353 = −1.9614 → lower .875^e^1.9614 = .875^7.108 = .3870, upper
    # .875^e^−1.9614 = .875^.1407 = .9814.  Later rows: V += 1/(7·6), 1/(6·5), 1/(5·4), …
    rot = groups["ROT"]
    assert (rot["n"], rot["events"]) == (8, 5)
    # S = 0.5 exactly from 189 d until the next event at 245 d → (189 + 245) / 2 = 217 d.
    assert rot["median"] == 7.13
    assert rot["median_ci95"] == [0.99, None]  # lower curve .3870 at 30 d; upper ≥ .6744
    assert rows(rot["table"]) == [
        (0.99, 8, 1, 0, 0.875, 0.387, 0.9814),  # 30 d
        (4.60, 7, 1, 0, 0.75, 0.3148, 0.9309),  # 140 d
        (4.93, 6, 1, 0, 0.625, 0.2293, 0.8607),  # 150 d
        (6.21, 5, 1, 0, 0.5, 0.152, 0.7749),  # 189 d
        (8.05, 4, 1, 0, 0.375, 0.087, 0.6744),  # 245 d
        (11.96, 3, 0, 1, 0.375, 0.087, 0.6744),  # 364 d
        (17.94, 2, 0, 1, 0.375, 0.087, 0.6744),  # 546 d
        (22.28, 1, 0, 1, 0.375, 0.087, 0.6744),  # 678 d
    ]
    # GRO: 80E 120C 151E 154E 200E 511C (n = 6).  S = 5/6, 5/6, ·3/4, ·2/3, ·1/2.
    gro = groups["GRO"]
    assert (gro["n"], gro["events"], gro["median"]) == (6, 4, 5.06)  # 154 d, S .4167
    assert gro["median_ci95"] == [2.63, None]
    assert rows(gro["table"]) == [
        (2.63, 6, 1, 0, 0.8333, 0.2731, 0.9747),  # 80 d
        (3.94, 5, 0, 1, 0.8333, 0.2731, 0.9747),  # 120 d
        (4.96, 4, 1, 0, 0.625, 0.1419, 0.8931),  # 151 d
        (5.06, 3, 1, 0, 0.4167, 0.056, 0.7665),  # 154 d
        (6.57, 2, 1, 0, 0.2083, 0.0087, 0.5951),  # 200 d
        (16.79, 1, 0, 1, 0.2083, 0.0087, 0.5951),  # 511 d
    ]
    # Log-rank, GRO as the first group: event times 30 80 140 150 151 154 189 200 245 with
    # (n, n_GRO) = (14,6) (13,6) (11,4) (10,4) (9,4) (8,3) (7,2) (6,2) (5,1), one event each:
    # E_GRO = 6/14 + 6/13 + 4/11 + 4/10 + 4/9 + 3/8 + 2/7 + 2/6 + 1/5 = 3.29224, O_GRO = 4;
    # V = Σ p(1 − p) with p = n_GRO/n = 2.03242 → chi² = 0.70776² / 2.03242 = 0.2465,
    # p = P(χ²₁ > 0.2465) = 0.6196.
    assert body["logrank"] == {"chi2": 0.2465, "df": 1, "p": 0.6196}


def test_os_by_site(imported, adm_client):
    body = survival(adm_client, endpoint="os", phase="salvage", strata="site")
    groups = {g["label"]: g for g in body["groups"]}
    # ROT: 200E 315E 364C 518C 546C 548C 730C 994E: S 7/8, 6/8, …, 0 at 994 d → median
    # 994 d = 32.66 (first S < 0.5); lower curve .3870 at 200 d → 6.57.  S = 0: no bounds.
    rot = groups["ROT"]
    assert (rot["n"], rot["events"], rot["median"]) == (8, 3, 32.66)
    assert rot["median_ci95"] == [6.57, None]
    assert rows(rot["table"])[-1] == (32.66, 1, 1, 0, 0.0, None, None)
    # GRO: 120C 250E 300E 364C 511C 728C: S 1 (log-log bounds undefined at S = 1), 4/5,
    # 4/5 · 3/4 = .6 → median never reached.  Lower curve .2038 at 250 d → 8.21.
    gro = groups["GRO"]
    assert (gro["n"], gro["events"], gro["median"]) == (6, 2, None)
    assert gro["median_ci95"] == [8.21, None]
    assert rows(gro["table"]) == [
        (3.94, 6, 0, 1, 1.0, None, None),
        (8.21, 5, 1, 0, 0.8, 0.2038, 0.9692),
        (9.86, 4, 1, 0, 0.6, 0.1257, 0.8818),
        (11.96, 3, 0, 1, 0.6, 0.1257, 0.8818),
        (16.79, 2, 0, 1, 0.6, 0.1257, 0.8818),
        (23.92, 1, 0, 1, 0.6, 0.1257, 0.8818),
    ]
    # Log-rank: event times 200 250 300 315 994 with (n, n_GRO) (13,5) (12,5) (11,4)
    # (10,3) (1,0): E_GRO = 5/13 + 5/12 + 4/11 + 3/10 + 0 = 1.46492, O_GRO = 2;
    # V = .23669 + .24306 + .23140 + .21 + 0 = .92115 → chi² = .53508² / .92115 = 0.3108,
    # p = 0.5772.
    assert body["logrank"] == {"chi2": 0.3108, "df": 1, "p": 0.5772}


def test_os_all_plain(imported, adm_client):
    body = survival(adm_client, endpoint="os", phase="salvage", conf_type="plain")
    (group,) = body["groups"]
    assert group["label"] == "all" and body["logrank"] is None
    # 120C 200E 250E 300E 315E 364C 364C 511C 518C 546C 548C 728C 730C 994E (14, 5 events).
    # At 200 d: S = 12/13 = .9231, V = 1/(13·12) = .00641, half-width 1.959964 · .9231
    # · .08006 = .14485 → [.7782, 1.0679 → clipped to 1].
    assert (group["n"], group["events"], group["median"]) == (14, 5, 32.66)
    assert group["median_ci95"] == [10.35, None]  # plain lower .4414 at 315 d
    assert rows(group["table"])[:6] == [
        (3.94, 14, 0, 1, 1.0, 1.0, 1.0),  # V = 0: S ± 0
        (6.57, 13, 1, 0, 0.9231, 0.7782, 1.0),
        (8.21, 12, 1, 0, 0.8462, 0.65, 1.0),
        (9.86, 11, 1, 0, 0.7692, 0.5402, 0.9983),
        (10.35, 10, 1, 0, 0.6923, 0.4414, 0.9432),
        (11.96, 9, 0, 2, 0.6923, 0.4414, 0.9432),  # two censored at 364 d
    ]
    assert rows(group["table"])[-1] == (32.66, 1, 1, 0, 0.0, None, None)


def test_ttp_recist_table_keeps_a_tied_censoring_at_risk(imported, adm_client):
    body = survival(adm_client, endpoint="ttp", phase="salvage", criteria="recist")
    (group,) = body["groups"]
    # 80E; at 120 d H-04's RECIST PD and H-12's censoring: n 13, d 1, c 1, S = 13/14 ·
    # 12/13 = .8571; the next row has n 11.  Median 245 d = 8.05 (S .4675).
    assert rows(group["table"])[:3] == [
        (2.63, 14, 1, 0, 0.9286, 0.5908, 0.9896),
        (3.94, 13, 1, 1, 0.8571, 0.5394, 0.9622),
        (4.93, 11, 1, 0, 0.7792, 0.459, 0.9232),
    ]
    assert (group["n"], group["events"], group["median"]) == (14, 7, 8.05)
    assert group["median_ci95"] == [4.93, None]
