"""Table 1's rows from the `lutetia-cohort/2` record, and the late-toxicity table.

Like `tables`, only formatting: each count is a `Cell` with a drill-down to
its patients (`registry.research.drill`), counted as `report` counts it.
"""

from __future__ import annotations

from typing import Any

from registry.models import (
    AdverseEventCategory,
    FunctionalSyndrome,
    LiverLoad,
    PriorTreatmentType,
    UptakeModality,
    WhoGrade,
)
from registry.models.treatment import METASTASIS_SITES
from registry.research.views.cells import Cell, Links, Row, Section, median_range

METASTASIS_WORDS = {
    "liver": "Liver",
    "bone": "Bone",
    "lymph_node": "Lymph nodes",
    "peritoneal": "Peritoneum",
    "lung": "Lung",
    "other": "Elsewhere",
}


def _counted(
    rows: list[Row],
    k: Links,
    title: str,
    key: str,
    counts: dict,
    labels,
    drill: str,
    total: int | None = None,
) -> None:
    """A heading row and one indented count per label that occurs (not recorded last), as
    a paper's Table 1 lists them; a heading with no count at all is left out."""
    present = [(c, label) for c, label in [*labels, ("unknown", "not recorded")] if counts.get(c)]
    if not present:
        return
    rows.append(Row(title, []))
    for code, label in present:
        value = counts[code]
        cell = k.count(f"{key}.{code}", value, f"{drill}:{code}", total)
        rows.append(Row(label, [cell], True))


def record_rows(ch: dict[str, Any], k: Links) -> list[Row]:
    """Grade, syndrome, ECOG, Karnofsky, uptake, metastases, prior treatments, own fields."""
    rows: list[Row] = []
    scores = [(str(n), str(n)) for n in range(5)]
    _counted(rows, k, "WHO grade", "who_grade", ch["who_grade"], WhoGrade.choices, "who_grade")
    _counted(
        rows,
        k,
        "Hormone syndrome",
        "functional_syndrome",
        ch["functional_syndrome"],
        FunctionalSyndrome.choices,
        "functional_syndrome",
    )
    _counted(rows, k, "ECOG performance status at course start", "ecog", ch["ecog"], scores,
             "ecog")  # fmt: skip
    kps = ch["karnofsky"]
    rows.append(
        Row(
            f"Karnofsky, % (known in {kps['n']})",
            [Cell("karnofsky", median_range(kps, 0), k.link())],
        )
    )
    _counted(rows, k, "Uptake (Krenning score)", "krenning_score", ch["krenning_score"], scores,
             "krenning_score")  # fmt: skip
    _counted(rows, k, "Uptake scored on", "uptake_modality", ch["uptake_modality"],
             UptakeModality.choices, "uptake_modality")  # fmt: skip
    rows.append(Row("Metastases at course start", []))
    for site in METASTASIS_SITES:
        counts = ch["metastases"][site]
        if not (counts["yes"] or counts["no"]):
            continue  # never recorded: nothing to say
        label = f"{METASTASIS_WORDS[site]} (no {counts['no']}, not recorded {counts['unknown']})"
        cell = k.count(f"metastases.{site}.yes", counts["yes"], f"met_{site}:yes")
        rows.append(Row(label, [cell], True))
    # Of the patients with liver metastases, as the heading says.
    _counted(rows, k, "Liver tumour load (% of patients with liver metastases)", "liver_load",
             ch["liver_load"], LiverLoad.choices, "liver_load",
             ch["metastases"]["liver"]["yes"])  # fmt: skip
    rows.append(Row("Prior treatments", []))
    for code, label in PriorTreatmentType.choices:
        if value := ch["prior_treatments"][code]:
            rows.append(Row(label, [k.count(f"prior.{code}", value, f"prior:{code}")], True))
    for field in ch["custom"]:
        labels = list(field["labels"].items())
        _counted(rows, k, field["label"], f"custom.{field['code']}", field["counts"], labels,
                 f"custom.{field['code']}")  # fmt: skip
    return rows


def late_toxicity_section(r: dict[str, Any], k: Links) -> Section:
    """Late toxicity by category: the paper's "no kidney failure or MDS"."""
    late = r["api"]["late_toxicity"]
    section = Section(
        "Table 3b. Late toxicity, patients",
        ["", "Patients"],
        note="Adverse events recorded with a late-toxicity category, onset on or after the "
        "start of the reported course; a patient counts once per category.",
    )
    section.rows.append(Row("Any late toxicity", [k.count("late.any", late["any"], "late:any")]))
    for code, label in AdverseEventCategory.choices:
        value = late["by_category"][code]
        section.rows.append(Row(label, [k.count(f"late.{code}", value, f"late:{code}")], True))
    return section
