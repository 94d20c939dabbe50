"""The report page's tables: numbers laid out like the seed paper, each linked to its patients.

`paper_report` computes; this module only formats and names the cells.  Every
number is a `Cell` with a stable key (the template writes it as
`data-cell`) and a drill-down condition, so the tests can read every number
back from the page and each one opens the list of patients behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse
from django.utils.http import urlencode

from ...models import PrimarySite, ResponseCode, Sex, StopReason
from ...services import cohorts
from ...services.research_report import OWN_STRATA

NOT_REACHED = "NR"
MISSING = "—"
TOXICITY_LABELS = {
    "hematologic": "Hematologic (any)",
    "hemoglobin": "Hemoglobin",
    "platelets": "Platelets",
    "wbc": "White blood cells",
    "neutrophils": "Neutrophils",
    "lymphocytes": "Lymphocytes",
    "creatinine": "Creatinine",
}


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


def percent(count: int, total: int) -> str:
    return f"({round(100 * count / total)}%)" if total else ""


def build_sections(r: dict[str, Any], query: str) -> list[Section]:
    """The report's tables, in the paper's order."""
    base = reverse("research_patients") + "?" + query

    def link(drill: str = "") -> str:
        return base + ("&" + urlencode({"drill": drill}) if drill else "")

    n = r["characteristics"]["n"]

    def count(key: str, value: int, drill: str, total: int | None = None) -> Cell:
        return Cell(key, str(value), link(drill), percent(value, n if total is None else total))

    ch = r["characteristics"]
    chars = Section("Table 1. Patient characteristics", ["", "n (%) or median (range)"])
    chars.rows.append(Row("Patients", [Cell("n", str(n), link())]))
    chars.rows.append(Row("Sex", []))
    for code, label in Sex.choices:
        chars.rows.append(Row(label, [count(f"sex.{code}", ch["sex"][code], f"sex:{code}")], True))
    chars.rows.append(
        Row(
            "Age at course start, years", [Cell("age", median_range(ch["age"], 0), link("has:age"))]
        )
    )
    chars.rows.append(Row("Primary tumour", []))
    for code, label in PrimarySite.choices:
        value = ch["primary_site"][code]
        if value:
            chars.rows.append(
                Row(label, [count(f"primary_site.{code}", value, f"primary_site:{code}")], True)
            )
    chars.rows.append(
        Row(
            f"Ki-67 index, % (known in {ch['ki67']['n']})",
            [Cell("ki67", median_range(ch["ki67"]), link("has:ki67"))],
        )
    )
    chars.rows.append(
        Row(
            "Cumulative activity before this course, GBq",
            [Cell("prior_activity", median_range(ch["prior_activity_gbq"]), link())],
        )
    )
    reg = ch["ttp_regular"]
    chars.rows.append(
        Row(
            f"TTP after regular therapy, months (known in {reg['n']})",
            [Cell("ttp_regular", median_range(reg), link("has:ttp_regular"))],
        )
    )
    cutoff = f"{reg['cutoff']:g}"
    chars.rows.append(
        Row(
            f"short (progression < {cutoff} months)",
            [count("ttp_regular.short", reg["short"], "ttp_regular:short")],
            True,
        )
    )
    chars.rows.append(
        Row(
            f"long (≥ {cutoff} months)",
            [count("ttp_regular.long", reg["long"], "ttp_regular:long")],
            True,
        )
    )

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
                    count(f"response.{c}.{code}", r["best_response"][c][code], f"best_{c}:{code}")
                    for c in crits
                ],
            )
        )

    tox = Section(
        "Table 3. Worst toxicity grade (CTCAE v5.0), patients",
        ["", *[f"Grade {g}" for g in cohorts.GRADE_KEYS], "Not assessed"],
        note=f"Labs up to {r['api']['toxicity_window_days']} days after the last cycle.",
    )
    for key in cohorts.TOXICITY_KEYS:
        counts = r["toxicity"][key]
        tox.rows.append(
            Row(
                TOXICITY_LABELS[key],
                [
                    count(f"toxicity.{key}.{g}", counts[g], f"grade_{key}:{g}")
                    for g in cohorts.GRADE_KEYS
                ]
                + [count(f"toxicity.{key}.na", counts["not_assessed"], f"grade_{key}:na")],
            )
        )

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
                    Cell(f"{ep}.n", str(e["n"]), link()),
                    Cell(f"{ep}.events", str(e["events"]), link(f"event_{ep}:1")),
                    Cell(f"{ep}.median", median_ci(e["median"], e["ci95"]), link()),
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
                    link(),
                ),
            ],
        )
    )

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
            p = sub["p"]
            cells = [
                Cell(
                    f"sub.{strata}.{g['label']}.n",
                    str(g["n"]),
                    link(f"{drills[strata]}:{g['label']}"),
                ),
                Cell(
                    f"sub.{strata}.{g['label']}.events",
                    str(g["events"]),
                    link(f"{drills[strata]}:{g['label']},event_ttp:1"),
                ),
                Cell(f"sub.{strata}.{g['label']}.median", median_ci(g["median"], g["ci95"])),
            ]
            if i == 0:
                cells.append(Cell(f"sub.{strata}.p", MISSING if p is None else f"{p:.3f}"))
            subs.rows.append(Row(label, cells, True))

    act = r["activity"]
    activity = Section("Table 6. Activity given in this course", ["", "n (%) or median (range)"])
    activity.rows += [
        Row(
            "Activity in the course, GBq",
            [Cell("activity.course", median_range(act["course_gbq"], 2), link())],
        ),
        Row(
            "Intended activity reached",
            [count("activity.reached", act["reached"], "intended:reached")],
        ),
        Row("Below intended activity", [count("activity.below", act["below"], "intended:below")]),
    ]
    for code, label in [*StopReason.choices, ("none", "No stop reason recorded")]:
        value = act["below_by_reason"][code]
        if value:
            activity.rows.append(
                Row(
                    label,
                    [count(f"activity.below.{code}", value, f"stop_reason:{code}", act["below"])],
                    True,
                )
            )
    activity.rows.append(
        Row(
            "No intended activity recorded",
            [count("activity.no_intended", act["no_intended"], "intended:none")],
        )
    )
    return [chars, response, tox, ends, subs, activity]
