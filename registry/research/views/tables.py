"""The report page's tables: numbers laid out like the seed paper, each linked to its patients.

`paper_report` computes; this module only formats and names the cells.  Every
number is a `Cell` with a stable key (the template writes it as
`data-cell`) and a drill-down condition, so the tests can read every number
back from the page and each one opens the list of patients behind it.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from registry.derive.outcomes import GRADE_KEYS, TOXICITY_KEYS
from registry.models import PrimarySite, ResponseCode, Sex, StopReason
from registry.research.filters import OWN_STRATA
from registry.research.views.cells import (
    MISSING,
    Cell,
    Links,
    Row,
    Section,
    median_ci,
    median_range,
    rate_ci,
)
from registry.research.views.record_tables import late_toxicity_section, record_rows

TOXICITY_LABELS = {
    "hematologic": "Hematologic (any)",
    "hemoglobin": "Hemoglobin",
    "platelets": "Platelets",
    "wbc": "White blood cells",
    "neutrophils": "Neutrophils",
    "lymphocytes": "Lymphocytes",
    "creatinine": "Creatinine",
}


def build_sections(r: dict[str, Any], query: str) -> list[Section]:
    """The report's tables, in the paper's order."""
    k = Links(reverse("research_patients") + "?" + query, r["characteristics"]["n"])
    return [
        build(r, k)
        for build in (
            _characteristics,
            _response,
            _toxicity,
            late_toxicity_section,
            _endpoints,
            _subgroups,
            _activity,
        )
    ]


def _characteristics(r: dict[str, Any], k: Links) -> Section:
    """Table 1: the patients of the cohort."""
    ch, n = r["characteristics"], k.n
    chars = Section("Table 1. Patient characteristics", ["", "n (%) or median (range)"])
    chars.rows.append(Row("Patients", [Cell("n", str(n), k.link())]))
    chars.rows.append(Row("Sex", []))
    for code, label in Sex.choices:
        chars.rows.append(
            Row(label, [k.count(f"sex.{code}", ch["sex"][code], f"sex:{code}")], True)
        )
    chars.rows.append(
        Row(
            "Age at course start, years",
            [Cell("age", median_range(ch["age"], 0), k.link("has:age"))],
        )
    )
    chars.rows.append(Row("Primary tumour", []))
    for code, label in PrimarySite.choices:
        value = ch["primary_site"][code]
        if value:
            chars.rows.append(
                Row(label, [k.count(f"primary_site.{code}", value, f"primary_site:{code}")], True)
            )
    chars.rows.append(
        Row(
            f"Ki-67 index, % (known in {ch['ki67']['n']})",
            [Cell("ki67", median_range(ch["ki67"]), k.link("has:ki67"))],
        )
    )
    chars.rows.append(
        Row(
            "Cumulative activity before this course, GBq",
            [Cell("prior_activity", median_range(ch["prior_activity_gbq"]), k.link())],
        )
    )
    reg = ch["ttp_regular"]
    chars.rows.append(
        Row(
            f"TTP after regular therapy, months, Kaplan–Meier median (95% CI) "
            f"(known in {reg['n']}, {reg['events']} progressed)",
            [
                Cell(
                    "ttp_regular",
                    median_ci(reg["median_months"], reg["ci95"]),
                    k.link("has:ttp_regular"),
                )
            ],
        )
    )
    cutoff = f"{reg['cutoff_months']:g}"
    for group, label in (
        ("short", f"short (progression < {cutoff} months)"),
        ("long", f"long (≥ {cutoff} months)"),
        ("unclassified", f"unclassified (censored before {cutoff} months)"),
        ("unknown", "no TTP after regular therapy recorded"),
    ):
        chars.rows.append(
            Row(
                label,
                [k.count(f"ttp_regular.{group}", reg["groups"][group], f"ttp_regular:{group}")],
                True,
            )
        )
    chars.rows += record_rows(ch, k)
    return chars


def _response(r: dict[str, Any], k: Links) -> Section:
    """Table 2: best overall response under both criteria."""
    crits = [r["criteria"], r["other_criteria"]]
    response = Section(
        "Table 2. Best overall response",
        [""] + [c.upper() for c in crits],
        note="MR (minor response, −25 % to −50 %) is counted separately; RECIST has no MR.",
    )
    for code, label in ResponseCode.choices:
        response.rows.append(
            Row(
                f"{label} ({code})",
                [
                    k.count(f"response.{c}.{code}", r["best_response"][c][code], f"best_{c}:{code}")
                    for c in crits
                ],
            )
        )
    for key, label in (
        ("objective", "Objective response (CR + PR), % (95% CI)"),
        ("disease_control", "Disease control (CR + PR + MR + SD), % (95% CI)"),
    ):
        rates = r["response_rates"]
        response.rows.append(
            Row(label, [Cell(f"rate.{c}.{key}", rate_ci(rates[c][key])) for c in crits])
        )
    response.note += " Rates with exact (Clopper–Pearson) 95% confidence intervals."
    return response


def _toxicity(r: dict[str, Any], k: Links) -> Section:
    """Table 3: worst CTCAE grade per analyte."""
    tox = Section(
        "Table 3. Worst toxicity grade (CTCAE v5.0), patients",
        ["", *[f"Grade {g}" for g in GRADE_KEYS], "Not assessed"],
        note=f"Labs up to {r['api']['toxicity_window_days']} days after the last cycle.",
    )
    for key in TOXICITY_KEYS:
        counts = r["toxicity"][key]
        tox.rows.append(
            Row(
                TOXICITY_LABELS[key],
                [k.count(f"toxicity.{key}.{g}", counts[g], f"grade_{key}:{g}") for g in GRADE_KEYS]
                + [k.count(f"toxicity.{key}.na", counts["not_assessed"], f"grade_{key}:na")],
            )
        )
    return tox


def _endpoints(r: dict[str, Any], k: Links) -> Section:
    """Table 4: TTP, PFS, OS and follow-up."""
    ends = Section(
        "Table 4. Time to progression and survival, months",
        ["", "Patients", "Events", "Median (95% CI)"],
        note=f"Kaplan–Meier; {r['filter'].cohort.conf_type} confidence intervals; "
        f"NR = not reached; progression by {r['criteria'].upper()}.",
    )
    for ep, label in (
        ("ttp", "Time to progression"),
        ("pfs", "Progression-free survival"),
        ("os", "Overall survival"),
    ):
        e = r["endpoints"][ep]
        ends.rows.append(
            Row(
                label,
                [
                    Cell(f"{ep}.n", str(e["n"]), k.link()),
                    Cell(f"{ep}.events", str(e["events"]), k.link(f"event_{ep}:1")),
                    Cell(f"{ep}.median", median_ci(e["median"], e["ci95"]), k.link()),
                ],
            )
        )
    fu = r["follow_up"]
    ends.rows.append(
        Row(
            "Follow-up, median (range)",
            [
                Cell("", ""),
                Cell("", ""),
                Cell(
                    "follow_up",
                    median_range(
                        {
                            "median": fu["median_months"],
                            "min": fu["min_months"],
                            "max": fu["max_months"],
                        }
                    ),
                    k.link(),
                ),
            ],
        )
    )
    reverse = fu["reverse_km"]
    ends.rows.append(
        Row(
            "Follow-up, reverse Kaplan–Meier median (95% CI)",
            [
                Cell("", ""),
                Cell("", ""),
                Cell("follow_up.reverse_km", median_ci(reverse["median_months"], reverse["ci95"])),
            ],
        )
    )
    return ends


def _subgroups(r: dict[str, Any], k: Links) -> Section:
    """Table 5: TTP by the seed paper's subgroups."""
    subs = Section(
        "Table 5. Time to progression by subgroup, months",
        ["", "Patients", "Events", "Median (95% CI)", "Log-rank p"],
    )
    drills = {"pancreas": "primary_group", "ttp_regular": "ttp_regular"}
    for strata, title in OWN_STRATA.items():
        sub = r["subgroups"][strata]
        subs.rows.append(Row(title, []))
        for i, g in enumerate(sub["groups"]):
            label = g["label"]
            if strata == "ttp_regular":
                label = f"{label} TTP after regular therapy"
            elif g["label"] == "unknown":
                label = "no value recorded"
            p = sub["p"]
            cells = [
                Cell(
                    f"sub.{strata}.{g['label']}.n",
                    str(g["n"]),
                    k.link(f"{drills[strata]}:{g['label']}"),
                ),
                Cell(
                    f"sub.{strata}.{g['label']}.events",
                    str(g["events"]),
                    k.link(f"{drills[strata]}:{g['label']},event_ttp:1"),
                ),
                Cell(f"sub.{strata}.{g['label']}.median", median_ci(g["median"], g["ci95"])),
            ]
            if i == 0:
                cells.append(Cell(f"sub.{strata}.p", MISSING if p is None else f"{p:.3f}"))
            subs.rows.append(Row(label, cells, True))
    return subs


def _activity(r: dict[str, Any], k: Links) -> Section:
    """Table 6: activity given, and why it fell short."""
    act = r["activity"]
    activity = Section("Table 6. Activity given in this course", ["", "n (%) or median (range)"])
    activity.rows += [
        Row(
            "Activity in the course, GBq",
            [Cell("activity.course", median_range(act["course_gbq"], 2), k.link())],
        ),
        Row(
            "Intended activity reached",
            [k.count("activity.reached", act["reached"], "intended:reached")],
        ),
        Row("Below intended activity", [k.count("activity.below", act["below"], "intended:below")]),
    ]
    for code, label in [*StopReason.choices, ("none", "No stop reason recorded")]:
        value = act["below_by_reason"][code]
        if value:
            activity.rows.append(
                Row(
                    label,
                    [k.count(f"activity.below.{code}", value, f"stop_reason:{code}", act["below"])],
                    True,
                )
            )
    activity.rows.append(
        Row(
            "No intended activity recorded",
            [k.count("activity.no_intended", act["no_intended"], "intended:none")],
        )
    )
    return activity
