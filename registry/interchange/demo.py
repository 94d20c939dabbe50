"""A synthetic but clinically shaped PRRT cohort, for development, demos and benchmarks.

Each patient gets a regular course (4 × 7.4 GBq, a few stopped early for
toxicity); after a progression most get a salvage course (2 × 7.4 GBq) and
some a second one. Blood counts are weekly for eight weeks after every cycle
with a nadir around weeks 4–6 (deep for a minority, so CTCAE grades 3–4
occur); scans every 3–6 months carry 1–4 target lesions that shrink, stay or
grow, with new lesions at some progressions; some patients die.

The record of `lutetia-cohort/2` is filled in too: WHO grade (from Ki-67),
hormone syndrome, prior treatments, performance status, uptake score and
metastases per course, kidney protection and reasons for reduced activities
per cycle, late-toxicity categories, causes of death, and two custom fields
(`FIELDS`: the ENETS stage and the course's SUVmax on ⁶⁸Ga-PET). They are
drawn from a second random stream, so the version 1 facts of a seed (and the
numbers computed from them) are what they were before version 2.

The generator writes a `lutetia-cohort/2` document and imports it through
`import_document`, the one write path of the import. All dates lie before a
fixed data cut-off, so a seed gives the same cohort on any day.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from registry.interchange.documents import import_document
from registry.interchange.schema import FORMAT

DATA_CUTOFF = dt.date(2024, 6, 30)
DEFAULT_SITES = ("ROT", "GRO")
SITE_NAMES = {"ROT": "Rotterdam (demo)", "GRO": "Groningen (demo)"}

PRIMARY_SITES = (
    ("pancreas", 30),
    ("midgut", 38),
    ("foregut_other", 8),
    ("bronchial", 7),
    ("hindgut", 5),
    ("unknown_primary", 10),
    ("other", 2),
)
ORGANS = ("liver", "liver", "liver", "pancreas", "lymph node", "lung", "peritoneum")
MMOL_PER_G_DL = 1 / 1.611  # hemoglobin, CLINICAL.md §6


FIELDS = [
    {
        "code": "enets_stage",
        "level": "patient",
        "type": "choice",
        "label": "ENETS TNM stage at diagnosis",
        "choices": [
            {"code": "I", "label": "Stage I"},
            {"code": "II", "label": "Stage II"},
            {"code": "III", "label": "Stage III"},
            {"code": "IV", "label": "Stage IV"},
        ],
        "identifying": False,
    },
    {
        "code": "suv_max",
        "level": "course",
        "type": "number",
        "label": "Highest SUVmax on 68Ga-PET before the course",
        "unit": "SUV",
        "minimum": 0,
        "maximum": 300,
        "identifying": False,
    },
]


def _days(n: float) -> dt.timedelta:
    return dt.timedelta(days=round(n))


@dataclass
class _Lesion:
    label: str
    organ: str
    lymph_node: bool
    target: bool
    long_mm: float
    short_mm: float
    new: bool = False


@dataclass
class _Patient:
    """The generator's working state for one patient; `doc` is what gets exported."""

    rng: random.Random
    doc: dict[str, Any]
    hb_unit: str
    lesions: list[_Lesion] = field(default_factory=list)
    level: float = 1.0  # tumour size (sum of products) relative to the first baseline
    base_counts: dict[str, float] = field(default_factory=dict)
    next_label: int = 1
    last_lab: dt.date = dt.date.min


def build_demo_document(
    patients: int, *, seed: int, sites: tuple[str, ...] | list[str] = DEFAULT_SITES
) -> dict[str, Any]:
    """A deterministic `lutetia-cohort/2` document of `patients` synthetic patients."""
    rng = random.Random(seed)
    codes = list(sites) or list(DEFAULT_SITES)
    # Dutch centres report hemoglobin in mmol/L; the others here in g/dL.
    hb_units = {code: ("mmol/L" if i % 2 == 0 else "g/dL") for i, code in enumerate(codes)}
    weights = [3 if i == 0 else 2 for i in range(len(codes))]
    doc_patients = []
    for n in range(1, patients + 1):
        code = rng.choices(codes, weights)[0]
        doc_patients.append(_patient(random.Random(rng.getrandbits(64)), n, code, hb_units[code]))
    return {
        "format": FORMAT,
        "sites": [{"code": code, "name": SITE_NAMES.get(code, code)} for code in codes],
        "fields": FIELDS,
        "patients": doc_patients,
    }


def create_demo_cohort(
    patients: int,
    *,
    seed: int,
    sites: tuple[str, ...] | list[str] = DEFAULT_SITES,
    by=None,
    progress: Callable[[float], None] | None = None,
):
    """Build the demo document and import it (without re-validating what we generated)."""
    doc = build_demo_document(patients, seed=seed, sites=sites)
    return import_document(doc, by=by, progress=progress, validate=False)


# --- one patient ---------------------------------------------------------------


def _patient(rng: random.Random, n: int, site: str, hb_unit: str) -> dict[str, Any]:
    sex = rng.choice("FM")
    diagnosis = dt.date(1997, 1, 1) + _days(rng.uniform(0, 7300))
    birth = diagnosis - _days(rng.uniform(35, 80) * 365.25)
    doc: dict[str, Any] = {
        "study_id": f"{site}-{n:05d}",
        "site": site,
        "name": f"Demo Patient {n:05d}",
        "hospital_number": f"{rng.randrange(10**6, 10**7)}",
        "sex": sex,
        "birth_date": birth.isoformat(),
        "primary_site": rng.choices(*zip(*PRIMARY_SITES, strict=True))[0],
        "diagnosis_date": diagnosis.isoformat(),
        "ki67_percent": rng.choice([None, round(rng.uniform(1, 20))]),
        "last_follow_up": None,
        "death_date": None,
        "courses": [],
        "labs": [],
        "scans": [],
        "clinical_progressions": [],
        "adverse_events": [],
    }
    p = _Patient(rng=rng, doc=doc, hb_unit=hb_unit)
    p.base_counts = {
        "hemoglobin": rng.uniform(11.5, 15.5) if sex == "M" else rng.uniform(11.0, 14.5),
        "platelets": rng.uniform(160, 380),
        "wbc": rng.uniform(4.2, 9.5),
        "creatinine": rng.uniform(55, 100) if sex == "F" else rng.uniform(65, 115),
    }
    for i in range(rng.randint(1, 4)):
        organ = rng.choice(ORGANS)
        node = organ == "lymph node"
        long_mm = rng.uniform(15, 70)
        p.lesions.append(
            _Lesion(f"L{i + 1}", organ, node, True, long_mm, long_mm * rng.uniform(0.6, 0.9))
        )
    for i in range(rng.choice([0, 0, 1, 1, 2])):
        p.lesions.append(_Lesion(f"NT{i + 1}", rng.choice(("bone", "liver")), False, False, 0, 0))

    # Treatment, one course after another, until death, the cut-off, or no more salvage.
    start = diagnosis + _days(rng.uniform(60, 900))
    death: dt.date | None = None
    phases = [("regular", 27.0), ("salvage", 17.0), ("salvage", 12.0)]
    last = start
    for k, (phase, ttp_median) in enumerate(phases):
        if start > DATA_CUTOFF - _days(120):
            break
        progression = _course(p, phase, start, ttp_median, first=k == 0)
        last = max(last, progression or DATA_CUTOFF)
        if progression is None or progression > DATA_CUTOFF:
            break
        # After a progression: most go on to salvage therapy; the others are followed up.
        if k == len(phases) - 1 or rng.random() > (0.8 if k == 0 else 0.3):
            if rng.random() < 0.6:
                death = progression + _days(rng.uniform(90, 900))
            break
        start = max(progression + _days(rng.uniform(30, 180)), p.last_lab + _days(7))
        if rng.random() < 0.05:  # died before the planned salvage course
            death = start - _days(rng.uniform(5, 25))
            break
    if death is None and rng.random() < 0.08:
        death = last + _days(rng.uniform(60, 600))

    last_fact = max(_all_dates(doc), default=diagnosis)
    if death is not None and not last_fact < death <= DATA_CUTOFF:
        death = None
    _adverse_events(p, death or DATA_CUTOFF)
    last_fact = max(_all_dates(doc), default=diagnosis)
    if death is not None:
        doc["death_date"] = death.isoformat()
        doc["last_follow_up"] = death.isoformat()
    else:
        follow_up = max(last_fact, DATA_CUTOFF - _days(rng.uniform(0, 400)))
        doc["last_follow_up"] = min(follow_up, DATA_CUTOFF).isoformat()
    _record(random.Random(rng.getrandbits(64)), doc, diagnosis)
    return doc


# --- the rest of the record (lutetia-cohort/2) ------------------------------------

SYNDROMES = {
    "midgut": (("carcinoid", 45), ("none", 55)),
    "pancreas": (
        ("none", 80),
        ("insulinoma", 5),
        ("gastrinoma", 7),
        ("glucagonoma", 4),
        ("vipoma", 4),
    ),
}
KARNOFSKY_BY_ECOG = {0: (100, 90), 1: (80, 70), 2: (60, 50)}


def _pick(rng: random.Random, weighted) -> Any:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


def _grade(rng: random.Random, ki67: float | None) -> str | None:
    if ki67 is None:
        return rng.choice([None, "G1", "G2"])
    return "G1" if ki67 < 3 else "G2" if ki67 <= 20 else "G3"


def _record(rng: random.Random, doc: dict[str, Any], diagnosis: dt.date) -> None:
    """Grade, syndrome, prior treatments, per-course state, cycle and event details."""
    doc["who_grade"] = _grade(rng, doc["ki67_percent"])
    doc["functional_syndrome"] = _pick(
        rng, SYNDROMES.get(doc["primary_site"], (("none", 90), ("other", 10)))
    )
    if doc["death_date"]:
        doc["cause_of_death"] = _pick(rng, (("disease", 80), ("other", 15), ("unknown", 5)))
    doc["custom"] = {"enets_stage": _pick(rng, (("IV", 80), ("III", 15), ("II", 5)))}
    first = min(
        (dt.date.fromisoformat(c["date"]) for course in doc["courses"] for c in course["cycles"]),
        default=diagnosis + _days(400),
    )
    doc["prior_treatments"] = _prior_treatments(rng, doc["primary_site"], diagnosis, first)
    for course in doc["courses"]:
        ecog = _pick(rng, ((0, 5), (1, 4), (2, 1)))
        start = dt.date.fromisoformat(course["cycles"][0]["date"])
        modality = "PET" if start.year >= 2012 or rng.random() < 0.2 else "SRS"
        liver = rng.random() < 0.85
        course.update(
            ecog=ecog,
            karnofsky=rng.choice(KARNOFSKY_BY_ECOG[ecog]),
            krenning_score=_pick(rng, ((2, 1), (3, 5), (4, 3))),
            uptake_modality=modality,
            metastases={
                "liver": liver,
                "liver_load": _pick(rng, (("lt25", 5), ("25to50", 3), ("gt50", 2)))
                if liver
                else None,
                "bone": rng.random() < 0.25,
                "lymph_node": rng.random() < 0.5,
                "peritoneal": rng.random() < 0.1,
                "lung": rng.random() < 0.05,
                "other": None,
            },
            custom={"suv_max": round(rng.uniform(8, 80), 1)} if modality == "PET" else {},
        )
        for cycle in course["cycles"]:
            cycle["amino_acids"] = rng.random() < 0.98
            if cycle["activity_gbq"] < 7.0:
                cycle["reduced_reason"] = _pick(
                    rng, (("toxicity", 5), ("renal", 3), ("body_weight", 1))
                )
    until = dt.date.fromisoformat(doc["last_follow_up"])
    for event in doc["adverse_events"]:
        onset = dt.date.fromisoformat(event["onset"])
        if event["term"] == "Nausea":
            resolved = onset + _days(rng.uniform(1, 5))
            event.update(category=None, serious=False, attribution="probable")
            event["resolved"] = resolved.isoformat() if resolved <= until else None
        else:
            event.update(category="mds", serious=True, attribution="possible", resolved=None)


def _prior_treatments(
    rng: random.Random, primary: str, diagnosis: dt.date, first_cycle: dt.date
) -> list[dict[str, Any]]:
    """Surgery, analogues and (for pancreatic tumours) chemotherapy before PRRT."""
    span = max((first_cycle - diagnosis).days, 2)
    out = []
    if rng.random() < 0.5:
        when = diagnosis + _days(min(30, span // 2))
        out.append({"type": "surgery", "start": when.isoformat(), "end": when.isoformat()})
    if rng.random() < 0.7:
        start = diagnosis + _days(span * rng.uniform(0.05, 0.5))
        end = start + _days((first_cycle - start).days * rng.uniform(0.5, 1.0))
        out.append(
            {
                "type": "somatostatin_analogue",
                "start": start.isoformat(),
                "end": min(end, first_cycle).isoformat(),
            }
        )
    if primary == "pancreas" and rng.random() < 0.3:
        start = diagnosis + _days(span * rng.uniform(0.3, 0.7))
        out.append(
            {
                "type": "chemotherapy",
                "start": start.isoformat(),
                "end": None,
                "note": "streptozocin / 5-FU",
            }
        )
    if rng.random() < 0.05:
        out.append({"type": "everolimus", "start": None, "end": None})
    return out


def _all_dates(doc: dict[str, Any]) -> list[dt.date]:
    dates = [c["date"] for course in doc["courses"] for c in course["cycles"]]
    dates += [lab["date"] for lab in doc["labs"]] + [s["date"] for s in doc["scans"]]
    dates += [cp["date"] for cp in doc["clinical_progressions"]]
    dates += [ae["onset"] for ae in doc["adverse_events"]]
    return [dt.date.fromisoformat(d) for d in dates]


def _course(
    p: _Patient, phase: str, start: dt.date, ttp_median: float, *, first: bool
) -> dt.date | None:
    """Add one course with its labs and scans; the progression date (may lie past the cut-off)."""
    rng, doc = p.rng, p.doc
    planned = 4 if phase == "regular" else 2
    stop_reason = "completed"
    if phase == "regular" and rng.random() < 0.07:
        planned, stop_reason = 3, "toxicity"
    elif phase == "salvage" and rng.random() < 0.05:
        planned, stop_reason = 1, rng.choice(["patient_choice", "progression", "other"])

    # Marrow sensitivity of this course: most patients mild, a minority deep (grade 3–4).
    deep = rng.random() < (0.08 if phase == "regular" else 0.15)
    depth = rng.uniform(0.7, 0.93) if deep else rng.betavariate(2, 4) * 0.85
    # Tumour behaviour: the change in size at its best, and the time to progression.
    r = rng.choice([-0.65, -0.4, -0.3, -0.1, 0.0, 0.05]) + rng.uniform(-0.1, 0.1)
    early_pd = r > 0.1
    ttp_months = rng.uniform(2.5, 5) if early_pd else ttp_median * math.exp(rng.gauss(0, 0.55))
    progression = start + _days(ttp_months * 30.4375)

    # A baseline scan unless the last one (often the progression scan) is recent enough (§2).
    last_scan = dt.date.fromisoformat(doc["scans"][-1]["date"]) if doc["scans"] else None
    if first or last_scan is None or (start - last_scan).days > 120:
        _scan(p, start - _days(rng.uniform(7, 60) if first else rng.uniform(7, 28)))
    start_level = p.level

    cycles = []
    day = start
    for i in range(planned):
        if day > DATA_CUTOFF or day >= progression:
            break
        activity = 7.4 if rng.random() > 0.1 else rng.choice([7.3, 7.5, 5.6, 3.7])
        cycles.append({"date": day.isoformat(), "activity_gbq": activity})
        gap = rng.uniform(42, 70)
        next_day = day + _days(gap)
        _blood_counts(p, day, next_day if i < planned - 1 else None, depth, phase)
        day = next_day
    if not cycles:
        return None
    doc["courses"].append(
        {
            "phase": phase,
            "intended_activity_gbq": 29.6 if phase == "regular" else 14.8,
            "stop_reason": stop_reason,
            "cycles": cycles,
        }
    )

    # Follow-up scans every 3–6 months, the first 6–10 weeks after the last cycle.
    last_cycle = dt.date.fromisoformat(cycles[-1]["date"])
    when = last_cycle + _days(rng.uniform(42, 70))
    while when < progression and when <= DATA_CUTOFF:
        months_in = (when - start).days / 120
        p.level = start_level * (1 + r * min(1.0, months_in))
        _scan(p, when)
        when += _days(rng.uniform(90, 180))
    if progression <= DATA_CUTOFF:
        p.level = max(p.level, start_level * (1 + min(r, 0))) * 1.4
        if rng.random() < 0.75:
            _scan(p, progression, new_lesion=rng.random() < 0.5)
        if rng.random() < 0.35 or not doc["scans"]:
            note = rng.choice(["rising CgA", "new pain", "weight loss, flushing", None])
            doc["clinical_progressions"].append({"date": progression.isoformat(), "note": note})
    return progression


def _scan(p: _Patient, when: dt.date, *, new_lesion: bool = False) -> None:
    rng = p.rng
    if new_lesion:
        p.lesions.append(
            _Lesion(f"N{p.next_label}", rng.choice(ORGANS[:3]), False, False, 0, 0, new=True)
        )
        p.next_label += 1
    scale = math.sqrt(max(p.level, 0.0))
    lesions = []
    for lesion in p.lesions:
        if lesion.target:
            grow = scale * rng.uniform(0.95, 1.05)
            lesions.append(
                {
                    "lesion": lesion.label,
                    "organ": lesion.organ,
                    "lymph_node": lesion.lymph_node,
                    "target": True,
                    "long_mm": round(min(lesion.long_mm * grow, 900), 1),
                    "short_mm": round(min(lesion.short_mm * grow, 900), 1),
                }
            )
        else:
            status = "present" if p.level > 0.3 else "absent"
            if lesion.new:
                lesion.new = False  # new on this scan only; present on later ones
                status = "present"
                entry = {"lesion": lesion.label, "organ": lesion.organ, "target": False}
                lesions.append({**entry, "new": True, "status": status})
                continue
            if p.level > 1.3 and rng.random() < 0.3:
                status = "progression"
            lesions.append(
                {"lesion": lesion.label, "organ": lesion.organ, "target": False, "status": status}
            )
    modality = rng.choices(["CT", "MRI", "CT"], [6, 2, 1])[0]
    p.doc["scans"].append({"date": when.isoformat(), "modality": modality, "lesions": lesions})


def _blood_counts(
    p: _Patient, cycle: dt.date, next_cycle: dt.date | None, depth: float, phase: str
) -> None:
    """The pre-cycle panel and weekly counts for 8 weeks (until the next cycle)."""
    rng, labs = p.rng, p.doc["labs"]
    base = p.base_counts
    nadir_week = rng.uniform(4, 6)
    for week in range(9):
        day = cycle + _days(7 * week)
        if day > DATA_CUTOFF or (next_cycle is not None and week > 0 and day >= next_cycle):
            break
        p.last_lab = max(p.last_lab, day)
        dip = depth * math.exp(-((week - nadir_week) ** 2) / 4.5) if week else 0.0
        noise = rng.uniform(0.95, 1.05)
        iso = day.isoformat()
        hb = base["hemoglobin"] * (1 - dip * 0.25) * noise
        if p.hb_unit == "mmol/L":
            labs.append(_lab(iso, "hemoglobin", round(hb * MMOL_PER_G_DL, 1), "mmol/L"))
        else:
            labs.append(_lab(iso, "hemoglobin", round(hb, 1), "g/dL"))
        labs.append(_lab(iso, "platelets", round(base["platelets"] * (1 - dip) * noise), "10^9/L"))
        labs.append(_lab(iso, "wbc", round(base["wbc"] * (1 - dip * 0.8) * noise, 1), "10^9/L"))
        if week in (0, 4, 8):
            creatinine = base["creatinine"] * noise
            labs.append(_lab(iso, "creatinine", round(creatinine), "umol/L"))
    # Marrow and kidneys carry a little of every course into the next.
    base["platelets"] *= rng.uniform(0.85, 1.0)
    base["creatinine"] *= rng.uniform(1.0, 1.08 if phase == "salvage" else 1.04)


def _lab(date: str, analyte: str, value: float, unit: str) -> dict[str, Any]:
    return {"date": date, "analyte": analyte, "value": value, "unit": unit}


def _adverse_events(p: _Patient, until: dt.date) -> None:
    """Occasional manually recorded events: nausea after a cycle, rarely MDS years later."""
    rng, events = p.rng, p.doc["adverse_events"]
    cycles = [c["date"] for course in p.doc["courses"] for c in course["cycles"]]
    if not cycles:
        return
    if rng.random() < 0.15:
        onset = dt.date.fromisoformat(rng.choice(cycles)) + _days(1)
        if onset <= until:
            grade = rng.choice([1, 1, 2])
            events.append({"term": "Nausea", "grade": grade, "onset": onset.isoformat()})
    if rng.random() < 0.03:
        onset = dt.date.fromisoformat(cycles[-1]) + _days(rng.uniform(300, 1500))
        if onset <= until:
            term = "Myelodysplastic syndrome"
            events.append({"term": term, "grade": 4, "onset": onset.isoformat()})
