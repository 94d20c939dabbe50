"""Who may import what: a clinician imports only patients of their own sites.

`scope_errors(user, document)` names every place a document reaches beyond the
user's sites, with its JSON path. The API runs it when a job is posted (quick
feedback), and `documents.import_document(…, by=user, check_scope=True)` runs
it again **inside the write transaction**, with the matched patients locked: a
patient that another site created, or that moved out of reach, while the job
waited in the queue makes the import fail and write nothing (a queued job can
never take over another site's patient).

One refusal message whether the study ID belongs to another site or to
nobody the user may write, so an import error never tells a clinician that a
study ID exists elsewhere.
"""

from __future__ import annotations

from typing import Any

from registry.access import may_write_clinical, sees_all_sites, visible_patients, visible_sites
from registry.models import Patient

REFUSED = "You may not import or change the patient with this study ID."


def scope_errors(
    user, document: Any, *, lock: bool = False, start: int = 0
) -> dict[str, list[str]]:
    """Path-named errors for every site and patient of `document` beyond `user`'s reach.

    Admins may import anything; a malformed document is left to the import's
    own checks. `lock` takes row locks on the matched patients (inside the
    import's transaction) so none can move while the import writes. `start`: the
    index of the document's first patient in the whole document (an import checks
    a batch of patients at a time).
    """
    if sees_all_sites(user) or not isinstance(document, dict):
        return {}
    if not may_write_clinical(user):
        return {"$": ["Your role may not import patients."]}
    own = set(visible_sites(user).values_list("code", flat=True))
    errors: dict[str, list[str]] = {}
    sites = document.get("sites")
    for i, site in enumerate(sites if isinstance(sites, list) else []):
        code = site.get("code") if isinstance(site, dict) else None
        if isinstance(code, str) and code not in own:
            errors[f"sites[{i}].code"] = [f"You may not import into site {code}."]
    patients = document.get("patients")
    study_ids: dict[str, int] = {}
    for i, patient in enumerate(patients if isinstance(patients, list) else [], start):
        if not isinstance(patient, dict):
            continue
        code = patient.get("site")
        if isinstance(code, str) and code not in own:
            errors[f"patients[{i}].site"] = [f"You may not import patients of site {code}."]
        if isinstance(patient.get("study_id"), str):
            study_ids[patient["study_id"]] = i
    if study_ids:
        matched = Patient.objects.filter(study_id__in=list(study_ids))
        if lock:
            matched = matched.select_for_update(of=("self",))
        reachable = set(visible_patients(user).values_list("pk", flat=True).filter(
            study_id__in=list(study_ids)
        ))  # fmt: skip
        for pk, study_id in matched.values_list("pk", "study_id"):
            if pk not in reachable:
                errors[f"patients[{study_ids[study_id]}].study_id"] = [REFUSED]
    return errors
