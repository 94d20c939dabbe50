"""Cox regression of a cohort's endpoint on its predictors (CONTRACT.md "Cox regression").

`cox_analysis(cohort, covariates=…)` takes each course's covariates at the
course start (CLINICAL.md §4b) from the cohort's rows, leaves out the
patients missing any of them (`excluded_missing`), builds the model matrix
as R's formula would and fits it with `registry.clinical.cox`. With
`univariable=True` each covariate is also fitted alone, on the patients that
have it, the way papers print "univariable" beside "multivariable".

`COVARIATES` is the one list of what may enter a model: its kind (number,
boolean, category), its label and how it is read from a row. A new predictor
is one entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from registry.clinical import cox
from registry.derive.outcomes import endpoint_columns
from registry.models import CourseOutcome
from registry.research import record_filters
from registry.research.cohort import Cohort, age_at, birth_date

MAX_COVARIATES = 12


@dataclass(frozen=True)
class Covariate:
    name: str
    label: str
    kind: str  # cox.NUMBER | cox.BOOLEAN | cox.CATEGORY
    value: Callable[[CourseOutcome, Cohort], Any]


def _regular_months(row: CourseOutcome, cohort: Cohort) -> float | None:
    value = cohort.regular_ttp.get(row.patient_id)
    return None if value is None else value[0]


COVARIATES: dict[str, Covariate] = {
    c.name: c
    for c in (
        Covariate(
            "age",
            "Age at course start, years",
            cox.NUMBER,
            lambda r, _: age_at(birth_date(r), r.start),
        ),
        Covariate("sex", "Sex", cox.CATEGORY, lambda r, _: r.patient.sex or None),
        Covariate(
            "primary_site", "Primary tumour", cox.CATEGORY, lambda r, _: r.patient.primary_site
        ),
        Covariate(
            "ki67_percent", "Ki-67 index, %", cox.NUMBER, lambda r, _: r.patient.ki67_percent
        ),
        Covariate(
            "ttp_regular_months", "TTP after regular therapy, months", cox.NUMBER, _regular_months
        ),
        Covariate(
            "prior_activity_gbq",
            "Activity before this course, GBq",
            cox.NUMBER,
            lambda r, _: r.cumulative_activity_before_gbq,
        ),
        Covariate(
            "activity_gbq", "Activity in this course, GBq", cox.NUMBER, lambda r, _: r.activity_gbq
        ),
        # The lutetia-cohort/2 record; course-level values are those at the course start.
        Covariate("who_grade", "WHO grade", cox.CATEGORY, lambda r, _: r.patient.who_grade or None),
        Covariate(
            "functional_syndrome",
            "Hormone syndrome",
            cox.CATEGORY,
            lambda r, _: r.patient.functional_syndrome or None,
        ),
        Covariate("ecog", "ECOG performance status", cox.NUMBER, lambda r, _: r.course.ecog),
        Covariate("karnofsky", "Karnofsky, %", cox.NUMBER, lambda r, _: r.course.karnofsky),
        Covariate(
            "krenning_score",
            "Uptake (Krenning score)",
            cox.NUMBER,
            lambda r, _: r.course.krenning_score,
        ),
        Covariate(
            "liver_metastases",
            "Liver metastases",
            cox.BOOLEAN,
            lambda r, _: r.course.liver_metastases,
        ),
        Covariate(
            "bone_metastases", "Bone metastases", cox.BOOLEAN, lambda r, _: r.course.bone_metastases
        ),
    )
}
CUSTOM_KINDS = {"number": cox.NUMBER, "integer": cox.NUMBER, "boolean": cox.BOOLEAN,
                "choice": cox.CATEGORY}  # fmt: skip


def covariates() -> dict[str, Covariate]:
    """What may enter a model: COVARIATES and `custom.CODE` for each number, integer,
    boolean or choice custom field of patients or courses (not identifying)."""
    found = dict(COVARIATES)
    for d in record_filters.custom_choices(record_filters.MODELLED):
        owner = "patient" if d.level == "patient" else "course"

        def value(r, _, owner=owner, code=d.code):
            return (getattr(r, owner).custom or {}).get(code)

        name = record_filters.CUSTOM_PREFIX + d.code
        label = f"{d.label}, {d.unit}" if d.unit else d.label
        found[name] = Covariate(name, label, CUSTOM_KINDS[d.type], value)
    return found


def parse_cox_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """`covariates` (required, comma-separated), `ties`, `reference=cov:level,…`;
    a ValidationError naming the parameter for anything wrong."""
    errors: dict[str, list[str]] = {}
    raw = str(params.get("covariates") or "").replace("\x00", "")
    names = list(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    available = covariates()
    unknown = [n for n in names if n not in available]
    if not names:
        errors["covariates"] = [f"Choose one or more of: {', '.join(available)}."]
    elif unknown:
        errors["covariates"] = [
            f"Unknown covariate {', '.join(u[:40] for u in unknown)}; "
            f"known: {', '.join(available)}."
        ]
    elif len(names) > MAX_COVARIATES:
        errors["covariates"] = [f"At most {MAX_COVARIATES} covariates."]
    ties = str(params.get("ties") or "efron").strip()
    if ties not in cox.TIES:
        errors["ties"] = [f"'{ties[:40]}' is not one of: {', '.join(cox.TIES)}."]
    references: dict[str, str] = {}
    for part in str(params.get("reference") or "").replace("\x00", "").split(","):
        if not part.strip():
            continue
        name, _, level = part.strip().partition(":")
        covariate = available.get(name)
        if covariate is None or covariate.kind != cox.CATEGORY or not level:
            errors["reference"] = [
                "Give category:level pairs, e.g. sex:F; categories: "
                + ", ".join(n for n, c in available.items() if c.kind == cox.CATEGORY)
                + "."
            ]
            break
        references[name] = level
    if errors:
        raise ValidationError(errors)
    return {"covariates": names, "ties": ties, "references": references}


def cox_analysis(
    cohort: Cohort,
    *,
    covariates: Sequence[str],
    ties: str = "efron",
    references: Mapping[str, str] | None = None,
    endpoint: str | None = None,
    univariable: bool = False,
) -> dict[str, Any]:
    """The Cox model of CONTRACT.md; a ValidationError (`covariates`/`reference`) when it
    cannot be fitted (no events, a constant covariate, collinear terms)."""
    endpoint = endpoint or cohort.selection.endpoint
    result = _fit(cohort, covariates, ties, references or {}, endpoint)
    if univariable:
        result["univariable"] = [
            _fit(cohort, [name], ties, references or {}, endpoint, quiet=True)
            for name in covariates
        ]
    return {
        "endpoint": endpoint,
        "phase": cohort.selection.phase,
        "criteria": cohort.criteria,
        **result,
        "stale_patients": cohort.stale_patients,
    }


def _fit(
    cohort: Cohort,
    names: Sequence[str],
    ties: str,
    references: Mapping[str, str],
    endpoint: str,
    *,
    quiet: bool = False,
) -> dict[str, Any]:
    months_column, event_column = endpoint_columns(endpoint, cohort.criteria)
    available = covariates()
    times, events, columns = [], [], {name: [] for name in names}
    with_time = 0
    for row in cohort.rows:
        months = getattr(row, months_column)
        if months is None:
            continue
        with_time += 1
        values = [available[name].value(row, cohort) for name in names]
        if any(v is None or v == "" for v in values):
            continue
        times.append(float(months))
        events.append(bool(getattr(row, event_column)))
        for name, value in zip(names, values, strict=True):
            columns[name].append(value)
    kinds = {name: available[name].kind for name in names}
    base = {
        "ties": ties,
        "covariates": list(names),
        "n": len(times),
        "events": sum(events),
        "excluded_missing": with_time - len(times),
    }
    try:
        if not times:
            raise cox.DesignError("No patient of the cohort has a time and every covariate chosen.")
        matrix, terms = cox.design(columns, kinds, references)
        fit = cox.cox_fit(times, events, matrix, terms, ties=ties)
    except cox.DesignError as exc:
        if quiet:
            return {**base, "terms": [], "error": str(exc)}
        field = "reference" if exc.covariate in references else "covariates"
        raise ValidationError({field: [str(exc)]}) from exc
    return {
        **base,
        "terms": [
            {
                "term": t.term,
                "covariate": t.covariate,
                "level": t.level,
                "reference": t.reference,
                "coef": t.coef,
                "se": t.se,
                "hr": t.hr,
                "ci95": list(t.ci95),
                "z": t.z,
                "p": t.p,
            }
            for t in fit.terms
        ],
        "tests": {
            name: {"chi2": test.chi2, "df": test.df, "p": test.p}
            for name, test in (
                ("likelihood_ratio", fit.likelihood_ratio),
                ("wald", fit.wald),
                ("score", fit.score),
            )
        },
        "concordance": {"c": fit.concordance, "se": fit.concordance_se},
    }
