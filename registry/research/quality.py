"""The cohort-level data-quality list research staff see (CLINICAL.md §8).

The findings are the ones recomputation stored for each patient
(`PatientState.quality_findings`, the list the clinician sees on the patient
page); this reads them for the cohort's patients in one query and counts them
by kind, in the order of the most frequent.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from registry.clinical.quality import FINDING_LABELS
from registry.models import PatientState
from registry.research.cohort import Cohort


@dataclass(frozen=True)
class FindingRow:
    patient_id: int
    study_id: str
    site: str
    code: str
    label: str
    message: str


def cohort_findings(cohort: Cohort, code: str = "") -> tuple[list[tuple], list[FindingRow]]:
    """([(code, label, count)], rows) of the cohort's patients; rows of one `code` if given."""
    states = (
        PatientState.objects.filter(patient__in=cohort.queryset.values("patient_id"))
        .select_related("patient__site")
        .only("quality_findings", "patient__study_id", "patient__site__code")
        .order_by("patient__study_id")
    )
    counts: Counter[str] = Counter()
    rows: list[FindingRow] = []
    for state in states:
        for finding in state.quality_findings or []:
            counts[finding["code"]] += 1
            if code and finding["code"] != code:
                continue
            rows.append(
                FindingRow(
                    state.patient_id,
                    state.patient.study_id,
                    state.patient.site.code,
                    finding["code"],
                    FINDING_LABELS.get(finding["code"], finding["code"]),
                    finding["message"],
                )
            )
    summary = [(c, FINDING_LABELS.get(c, c), n) for c, n in counts.most_common()]
    return summary, rows
