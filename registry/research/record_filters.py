"""The cohort filters, strata and Cox covariates that come from the `lutetia-cohort/2` record.

- Filters: `who_grade`, `ecog`, `krenning_score`, `liver_metastases`, and
  `custom.CODE` for a choice or boolean custom field of the patient or course
  level (`custom.enets_stage=III,IV`, `custom.tumour_board=true`).
- Strata: `who_grade`, `ecog`, `krenning_score` and `custom.CODE` (same kinds).
- Cox covariates: the record's predictors and `custom.CODE` for a number,
  integer, boolean or choice field.

**Decisions**: course-level values (ECOG, Krenning, metastases, course custom
fields) are those of the reported course — the state at its start. Cycle-
and scan-level custom fields describe many records per course, so they are
neither filters nor strata nor covariates. A field marked identifying is
never one either (research roles never see its values). A retired field
still filters, stratifies and enters models: its values are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db import connection
from django.db.models import Q

from registry.models import WhoGrade
from registry.models.custom import Definition, FieldType, stored_definitions

CUSTOM_PREFIX = "custom."
RECORD_STRATA = ("who_grade", "ecog", "krenning_score")
STRATA_LABELS = {
    "who_grade": "WHO grade",
    "ecog": "ECOG performance status",
    "krenning_score": "Uptake (Krenning score)",
}
LEVELS = ("patient", "course")
FILTERABLE = (FieldType.CHOICE, FieldType.BOOLEAN)
MODELLED = (FieldType.NUMBER, FieldType.INTEGER, FieldType.BOOLEAN, FieldType.CHOICE)
SCORES = tuple(str(n) for n in range(5))


def usable(d: Definition | None, kinds) -> bool:
    return d is not None and d.level in LEVELS and d.type in kinds and not d.identifying


def custom_definition(name: str, kinds=FILTERABLE) -> Definition | None:
    """The definition behind `custom.CODE` if it may be used so, else None."""
    if not name.startswith(CUSTOM_PREFIX):
        return None
    d = stored_definitions().get(name[len(CUSTOM_PREFIX) :])
    return d if usable(d, kinds) else None


def custom_choices(kinds=FILTERABLE) -> list[Definition]:
    return sorted(
        (d for d in stored_definitions().values() if usable(d, kinds)),
        key=lambda d: (d.level, d.position, d.code),
    )


def parse(p, params: Mapping[str, Any]) -> None:
    """Read the record filters into `p` (`filters._Params`): values or named errors."""
    p.codes("who_grade", WhoGrade.values, "WHO grade")
    p.codes("ecog", SCORES, "ECOG score")
    p.codes("krenning_score", SCORES, "Krenning score")
    p.flag("liver_metastases")
    custom = []
    for name in sorted(k for k in params if str(k).startswith(CUSTOM_PREFIX)):
        d = custom_definition(name)
        if d is None:
            known = ", ".join(CUSTOM_PREFIX + x.code for x in custom_choices()) or "none"
            p.errors[name] = [
                f"Not a choice or yes/no custom field of patients or courses; known: {known}."
            ]
            continue
        if d.type == FieldType.BOOLEAN:
            p.flag(name)
            if name in p.values:
                custom.append((d.code, (p.values.pop(name),)))
        else:
            p.codes(name, d.choice_codes, d.label)
            if name in p.values:
                custom.append((d.code, p.values.pop(name)))
    for name in ("ecog", "krenning_score"):
        if name in p.values:
            p.values[name] = tuple(int(v) for v in p.values[name])
    if custom:
        p.values["custom"] = tuple(custom)


def patient_q(cohort, prefix: str = "") -> Q:
    """The record filters that concern the patient (`prefix` "patient__" from course rows)."""
    q = Q()
    if cohort.who_grade:
        q &= Q(**{f"{prefix}who_grade__in": cohort.who_grade})
    for code, values in cohort.custom:
        d = stored_definitions().get(code)
        if d is not None and d.level == "patient":
            q &= _custom_in(f"{prefix}custom", code, values)
    return q


def course_q(cohort) -> Q:
    """The record filters that concern the reported course (on `CourseOutcome` rows)."""
    q = Q()
    if cohort.ecog:
        q &= Q(course__ecog__in=cohort.ecog)
    if cohort.krenning_score:
        q &= Q(course__krenning_score__in=cohort.krenning_score)
    if cohort.liver_metastases is not None:
        q &= Q(course__liver_metastases=cohort.liver_metastases)
    for code, values in cohort.custom:
        d = stored_definitions().get(code)
        if d is not None and d.level == "course":
            q &= _custom_in("course__custom", code, values)
    return q


def _custom_in(column: str, code: str, values) -> Q:
    """Any of the values under `code`: `custom @> {code: v}` on PostgreSQL (the GIN index
    serves it), a key lookup elsewhere (SQLite has no JSON containment)."""
    q = Q()
    for value in values:
        if connection.vendor == "postgresql":
            q |= Q(**{f"{column}__contains": {code: value}})
        else:
            q |= Q(**{f"{column}__{code}": value})
    return q


def as_params(cohort) -> dict[str, str]:
    params = {}
    for name in ("who_grade", "ecog", "krenning_score"):
        if values := getattr(cohort, name):
            params[name] = ",".join(map(str, values))
    if cohort.liver_metastases is not None:
        params["liver_metastases"] = "true" if cohort.liver_metastases else "false"
    for code, values in cohort.custom:
        params[CUSTOM_PREFIX + code] = ",".join(
            ("true" if v else "false") if isinstance(v, bool) else str(v) for v in values
        )
    return params


def is_stratum(name: str) -> bool:
    return name in RECORD_STRATA or custom_definition(name) is not None


def strata_choices() -> dict[str, str]:
    """The record's strata for the pages' select, custom fields last."""
    choices = dict(STRATA_LABELS)
    for d in custom_choices():
        choices[CUSTOM_PREFIX + d.code] = d.label
    return choices


def _stored_label(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def labeller(strata: str) -> Callable[[Any], str | None]:
    """A row's group label under a record stratum, the value as stored (None: unknown)."""
    if strata == "who_grade":
        return lambda row: row.patient.who_grade or None
    if strata in ("ecog", "krenning_score"):
        return lambda row: _stored_label(getattr(row.course, strata))
    d = custom_definition(strata)
    if d is None:
        raise ValueError(f"unknown stratum {strata!r}")
    owner = (lambda row: row.patient) if d.level == "patient" else (lambda row: row.course)
    return lambda row: _stored_label((owner(row).custom or {}).get(d.code))


def filter_controls(cohort) -> list[dict[str, Any]]:
    """The filter form's controls for the record: name, label, options, chosen, multiple."""
    yes_no = [("true", "yes"), ("false", "no")]
    chosen = {name: {str(v) for v in getattr(cohort, name)} for name in RECORD_STRATA}
    controls = [
        {"name": "who_grade", "label": "WHO grade", "options": WhoGrade.choices},
        {"name": "ecog", "label": "ECOG", "options": [(s, s) for s in SCORES]},
        {"name": "krenning_score", "label": "Krenning score", "options": [(s, s) for s in SCORES]},
    ]
    for control in controls:
        control |= {"chosen": chosen[control["name"]], "multiple": True}
    liver = cohort.liver_metastases
    controls.append(
        {
            "name": "liver_metastases",
            "label": "Liver metastases",
            "options": yes_no,
            "chosen": set() if liver is None else {"true" if liver else "false"},
            "multiple": False,
        }
    )
    values = dict(cohort.custom)
    for d in custom_choices():
        given = {_stored_label(v) for v in values.get(d.code, ())}
        boolean = d.type == FieldType.BOOLEAN
        controls.append(
            {
                "name": CUSTOM_PREFIX + d.code,
                "label": d.label,
                "options": yes_no if boolean else list(d.choices),
                "chosen": given,
                "multiple": not boolean,
            }
        )
    return controls
