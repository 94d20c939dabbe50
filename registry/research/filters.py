"""What a cohort is: THE filter of the API and the research pages.

`CohortFilter.from_params` reads the filters of CONTRACT.md ("Cohort report",
"Survival analysis") from query parameters. The research pages add a few of
their own — the course start between two dates and the seed paper's subgroup
"short vs long time to progression after regular therapy" — and two strata
(that subgroup, and pancreatic vs other primaries): `ResearchFilter` carries
them and `ResearchFilter.selected` expresses them as a `Q` on the same
selection, so a page and the API agree by construction. `parse_filter` reads
a ResearchFilter from a page's GET parameters.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from registry.clinical import survival
from registry.derive.outcomes import ENDPOINTS, endpoint_columns
from registry.models import CourseOutcome, Criteria, Phase, PrimarySite, ResponseCode
from registry.research import record_filters

DISEASE_CONTROL: tuple[str, ...] = ("CR", "PR", "MR", "SD")
RESPONSE_KEYS: tuple[str, ...] = tuple(ResponseCode.values)  # CR PR MR SD PD NE
# What a survival analysis may be stratified by: patient fields (the label is
# the value as stored), the best response under the chosen criteria, and the
# seed paper's subgroups (TTP after regular therapy; pancreatic vs other).
STRATA: tuple[str, ...] = (
    "primary_site",
    "sex",
    "site",
    "best_response",
    "ttp_regular",
    "pancreas",
    *record_filters.RECORD_STRATA,
)
FILTER_PARAMS: frozenset[str] = frozenset(
    {
        "phase",
        "round",
        "primary_site",
        "site",
        "disease_control",
        "criteria",
        "toxicity_window_days",
        "conf_type",
        "ttp_regular_cutoff_months",
        # the lutetia-cohort/2 record (registry.research.record_filters), and custom.CODE
        "who_grade",
        "ecog",
        "krenning_score",
        "liver_metastases",
    }
)
SURVIVAL_PARAMS: frozenset[str] = FILTER_PARAMS | {"endpoint", "strata", "times", "rmst_tau"}
ANALYSIS_PARAMS = SURVIVAL_PARAMS  # the name callers used before Cox and incidence
INCIDENCE_PARAMS: frozenset[str] = FILTER_PARAMS | {"endpoint", "strata", "times"}
COX_PARAMS: frozenset[str] = FILTER_PARAMS | {"endpoint", "covariates", "ties", "reference"}
# DRF's URL format override; harmless, so never reported as unknown.
IGNORED_PARAMS: frozenset[str] = frozenset({"format"})
MAX_TOXICITY_WINDOW_DAYS = 3650
MAX_ROUND = 100
MAX_TIMES = 50
MAX_MONTHS = 1200.0
# The seed paper's split of TTP after regular therapy. **Decision**: 36 months by
# default; pages and the API (`ttp_regular_cutoff_months`) may change it.
DEFAULT_TTP_REGULAR_CUTOFF = 36.0

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class _Params:
    """Reads query parameters one by one, collecting an error per parameter."""

    def __init__(self, params: Mapping[str, Any]):
        self.params = params
        self.errors: dict[str, list[str]] = {}
        self.values: dict[str, Any] = {}

    def single(self, name: str) -> str | None:
        raw = self.params.get(name)
        if raw is None:
            return None
        raw = str(raw).strip()
        if "\x00" in raw:
            # PostgreSQL refuses NUL in text: a 400 here, not a 500 at the query.
            self.errors[name] = ["Null characters are not allowed."]
            return None
        return raw or None

    def choice(self, name: str, options: Iterable[str]) -> None:
        if (raw := self.single(name)) is None:
            return
        options = tuple(options)
        if raw not in options:
            self.errors[name] = [f"'{raw[:40]}' is not one of: {', '.join(options)}."]
        else:
            self.values[name] = raw

    def integer(self, name: str, low: int, high: int) -> None:
        if (raw := self.single(name)) is None:
            return
        try:
            number = int(raw)
        except ValueError:
            self.errors[name] = [f"'{raw[:40]}' is not a whole number."]
            return
        if not low <= number <= high:
            self.errors[name] = [f"Must be between {low} and {high}."]
        else:
            self.values[name] = number

    def months(self, name: str, key: str, *, many: bool = False, low: float = 0.0) -> None:
        """A number of months (or a comma-separated list of them), finite, in range."""
        if (raw := self.single(name)) is None:
            return
        parts = [part.strip() for part in raw.split(",")] if many else [raw]
        try:
            numbers = [float(part) for part in parts]
        except ValueError:
            self.errors[name] = [
                "Must be a number of months" + (" or a list of them." if many else ".")
            ]
            return
        if not all(low <= x <= MAX_MONTHS for x in numbers):  # also refuses nan and inf
            self.errors[name] = [f"Must be between {low:g} and {MAX_MONTHS:g} months."]
        elif many and len(numbers) > MAX_TIMES:
            self.errors[name] = [f"At most {MAX_TIMES} times."]
        else:
            self.values[key] = tuple(sorted(set(numbers))) if many else numbers[0]

    def codes(self, name: str, known: Sequence[str] | None = None, what: str = "") -> None:
        if (raw := self.single(name)) is None:
            return
        codes = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
        bad = [c for c in codes if known is not None and c not in known]
        if bad:
            self.errors[name] = [f"Unknown {what} {', '.join(bad)}; known: {', '.join(known)}."]
        else:
            self.values[name] = codes

    def flag(self, name: str) -> None:
        if (raw := self.single(name)) is None:
            return
        if raw.lower() in _TRUE:
            self.values[name] = True
        elif raw.lower() in _FALSE:
            self.values[name] = False
        else:
            self.errors[name] = ["Must be true or false."]


@dataclass(frozen=True, slots=True)
class CohortFilter:
    """Which courses a cohort report or analysis is about (CONTRACT.md).

    `phase` defaults to `salvage`, the registry's first purpose; `round` 1 is
    each patient's first course of that phase. `toxicity_window_days` None
    means the setting the derived rows were computed with. `times` and
    `rmst_tau` (months) ask a survival analysis for fixed-time rows and the
    restricted mean.
    """

    phase: str = Phase.SALVAGE
    round: int = 1
    primary_site: tuple[str, ...] = ()
    site: tuple[str, ...] = ()
    disease_control: bool | None = None
    criteria: str = Criteria.SWOG
    toxicity_window_days: int | None = None
    conf_type: str = "log-log"
    endpoint: str = "ttp"
    strata: str | None = None
    ttp_regular_cutoff: float = DEFAULT_TTP_REGULAR_CUTOFF
    times: tuple[float, ...] = ()
    rmst_tau: float | None = None
    who_grade: tuple[str, ...] = ()
    ecog: tuple[int, ...] = ()
    krenning_score: tuple[int, ...] = ()
    liver_metastases: bool | None = None
    custom: tuple[tuple[str, tuple[Any, ...]], ...] = ()  # (code, values) of custom.CODE
    # A narrowing added in code by a caller, never parsed from parameters: the
    # research pages' course-date and TTP-after-regular filters
    # (ResearchFilter below) go through the same selector.
    extra: Q | None = None

    @classmethod
    def from_params(
        cls,
        params: Mapping[str, Any],
        *,
        analysis: bool = False,
        allowed: frozenset[str] | None = None,
    ) -> CohortFilter:
        """Parse query parameters; every problem is a ValidationError naming its parameter.

        `allowed` names the parameters the caller reads (`analysis` is
        SURVIVAL_PARAMS); parameters it reads itself (a Cox model's
        covariates) are left to it. Unknown parameters are refused, so a
        misspelt filter never silently widens a cohort.
        """
        allowed = allowed or (SURVIVAL_PARAMS if analysis else FILTER_PARAMS)
        p = _Params(params)
        custom = {k for k in params if str(k).startswith(record_filters.CUSTOM_PREFIX)}
        for name in sorted(set(params) - allowed - IGNORED_PARAMS - custom):
            p.errors[name] = [f"Unknown parameter. Known: {', '.join(sorted(allowed))}."]
        p.choice("phase", Phase.values)
        p.choice("criteria", Criteria.values)
        p.choice("conf_type", survival.CONF_TYPES)
        p.integer("round", 1, MAX_ROUND)
        p.integer("toxicity_window_days", 0, MAX_TOXICITY_WINDOW_DAYS)
        p.months("ttp_regular_cutoff_months", "ttp_regular_cutoff", low=0.001)
        if "endpoint" in allowed:
            p.choice("endpoint", ENDPOINTS)
        if "strata" in allowed and (raw := p.single("strata")) is not None:
            if raw in STRATA or record_filters.is_stratum(raw):
                p.values["strata"] = raw
            else:
                custom_strata = [f"custom.{d.code}" for d in record_filters.custom_choices()]
                p.errors["strata"] = [
                    f"'{raw[:40]}' is not one of: {', '.join([*STRATA, *custom_strata])}."
                ]
        if "times" in allowed:
            p.months("times", "times", many=True)
        if "rmst_tau" in allowed:
            p.months("rmst_tau", "rmst_tau", low=0.001)
        p.codes("primary_site", PrimarySite.values, "primary site")
        p.codes("site")
        p.flag("disease_control")
        record_filters.parse(p, params)
        if p.errors:
            raise ValidationError(p.errors)
        return cls(**p.values)

    @property
    def window_days(self) -> int:
        if self.toxicity_window_days is not None:
            return self.toxicity_window_days
        return settings.LUTETIA_TOXICITY_WINDOW_DAYS

    def as_params(self) -> dict[str, str]:
        """The filter as query parameters (for links and saved cohorts)."""
        params = {
            "phase": self.phase,
            "round": str(self.round),
            "criteria": self.criteria,
            "conf_type": self.conf_type,
            "toxicity_window_days": str(self.window_days),
        }
        if self.primary_site:
            params["primary_site"] = ",".join(self.primary_site)
        if self.site:
            params["site"] = ",".join(self.site)
        if self.disease_control is not None:
            params["disease_control"] = "true" if self.disease_control else "false"
        return params | record_filters.as_params(self)


RESEARCH_PARAMS = frozenset(
    {"start_from", "start_to", "ttp_regular", "ttp_regular_cutoff", "verified"}
)
OWN_STRATA = {
    "ttp_regular": "TTP after regular therapy (short / long)",
    "pancreas": "Pancreatic vs other primary",
}
# The paper's order of each own stratum's groups.
# Every group of the seed paper's own strata, in the paper's order, shown even when
# empty so none is lost (CLINICAL.md §3); a patient with no value is "unknown".
OWN_STRATA_GROUPS = {
    "ttp_regular": ("short", "long", "unclassified"),
    "pancreas": ("pancreas", "other"),
}
UNKNOWN = "unknown"
STRATA_CHOICES = {
    "": "none",
    "primary_site": "Primary site",
    "sex": "Sex",
    "site": "Treatment site",
    **OWN_STRATA,
}


def strata_choices() -> dict[str, str]:
    """Every stratum the research pages offer: ours, then the record's and custom fields."""
    return {**STRATA_CHOICES, **record_filters.strata_choices()}


ENDPOINT_LABELS = {
    "ttp": "Time to progression",
    "pfs": "Progression-free survival",
    "os": "Overall survival",
}
TTP_REGULAR_LABELS = {
    "short": "short",
    "long": "long",
    "unclassified": "unclassified (censored before the cut-off)",
}


@dataclass(frozen=True)
class ResearchFilter:
    """THE cohort filter plus the research pages' own narrowing and strata."""

    cohort: CohortFilter
    start_from: dt.date | None = None
    start_to: dt.date | None = None
    ttp_regular: str | None = None  # "short" | "long" | "unclassified"
    ttp_regular_cutoff: float = DEFAULT_TTP_REGULAR_CUTOFF
    strata: str | None = None  # any of STRATA_CHOICES
    verified_only: bool = False  # only courses a monitor verified (and so locked)

    @property
    def selected(self) -> CohortFilter:
        """The CohortFilter the shared selector runs with (research narrowing included,
        on top of any narrowing the cohort filter already carries)."""
        q = self.cohort.extra if self.cohort.extra is not None else Q()
        if self.start_from:
            q &= Q(start__gte=self.start_from)
        if self.start_to:
            q &= Q(start__lte=self.start_to)
        if self.ttp_regular:
            q &= Q(patient_id__in=ttp_regular_patients(self.ttp_regular, self))
        if self.verified_only:
            q &= Q(course__record_status="verified")
        strata = (
            self.strata
            if self.strata in STRATA or (self.strata and record_filters.is_stratum(self.strata))
            else None
        )
        return dataclasses.replace(
            self.cohort, extra=q or None, strata=strata, ttp_regular_cutoff=self.ttp_regular_cutoff
        )

    def as_params(self) -> dict[str, str]:
        """Everything that defines the cohort, as query parameters (bookmarks, links)."""
        params = self.cohort.as_params()
        params["endpoint"] = self.cohort.endpoint
        if self.strata:
            params["strata"] = self.strata
        if self.start_from:
            params["start_from"] = self.start_from.isoformat()
        if self.start_to:
            params["start_to"] = self.start_to.isoformat()
        if self.ttp_regular:
            params["ttp_regular"] = self.ttp_regular
        params["ttp_regular_cutoff"] = f"{self.ttp_regular_cutoff:g}"
        if self.verified_only:
            params["verified"] = "true"
        return params


def parse_filter(params: Mapping[str, Any], *, extra_allowed: frozenset[str] = frozenset()):
    """Read a ResearchFilter from GET parameters; errors name their parameter.

    Multi-valued parameters (a multi-select of primary sites) are joined with
    commas, the spelling `CohortFilter.from_params` reads. Blank values are
    "not set", as an untouched form field sends them.
    """
    getlist = getattr(params, "getlist", lambda k: [params[k]])
    flat = {}
    for key in params:
        values = [str(v).strip() for v in getlist(key) if str(v).strip()]
        if values:
            flat[key] = ",".join(values)
    errors: dict[str, list[str]] = {}
    own = {k: flat.pop(k) for k in list(flat) if k in RESEARCH_PARAMS}
    for k in extra_allowed:
        flat.pop(k, None)
    strata = flat.pop("strata", None)
    choices = strata_choices()
    if strata is not None and strata not in choices:
        errors["strata"] = [f"'{strata}' is not one of: {', '.join(k for k in choices if k)}."]
    if strata in STRATA or (strata and record_filters.is_stratum(strata)):
        flat["strata"] = strata
    try:
        cohort = CohortFilter.from_params(flat, analysis=True)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        cohort = CohortFilter()

    values: dict[str, Any] = {}
    for name in ("start_from", "start_to"):
        if name in own:
            try:
                values[name] = dt.date.fromisoformat(own[name])
            except ValueError:
                errors[name] = [f"'{own[name][:40]}' is not a date (YYYY-MM-DD)."]
    if (raw := own.get("verified")) is not None:
        if raw not in ("true", "false"):
            errors["verified"] = ["Must be true or false."]
        else:
            values["verified_only"] = raw == "true"
    if (raw := own.get("ttp_regular")) is not None:
        if raw not in TTP_REGULAR_LABELS:
            errors["ttp_regular"] = ["Must be short, long or unclassified."]
        else:
            values["ttp_regular"] = raw
    if (raw := own.get("ttp_regular_cutoff")) is not None:
        try:
            cutoff = float(raw)
            if not 0 < cutoff <= 600:
                raise ValueError
            values["ttp_regular_cutoff"] = cutoff
        except ValueError:
            errors["ttp_regular_cutoff"] = ["Must be a number of months between 0 and 600."]
    if (
        values.get("start_from")
        and values.get("start_to")
        and values["start_from"] > values["start_to"]
    ):
        errors["start_to"] = ["Must not be before start_from."]
    if errors:
        raise ValidationError(errors)
    return ResearchFilter(cohort=cohort, strata=strata or None, **values)


# ---------------------------------------------------------------- TTP after regular


def regular_ttp_columns(criteria: str) -> tuple[str, str]:
    return endpoint_columns("ttp", criteria)


def ttp_regular_patients(group: str, rf: ResearchFilter) -> QuerySet:
    """Patients whose first regular course gave a short, long or unclassified TTP (§3).

    `short`: a progression before the cut-off; `long`: a TTP (event or
    censored) of at least the cut-off; `unclassified`: censored before it.
    """
    months, event = regular_ttp_columns(rf.cohort.criteria)
    regular = CourseOutcome.objects.filter(phase=Phase.REGULAR, round=1)
    if group == "short":
        regular = regular.filter(**{f"{months}__lt": rf.ttp_regular_cutoff, event: True})
    elif group == "unclassified":
        regular = regular.filter(**{f"{months}__lt": rf.ttp_regular_cutoff, event: False})
    else:
        regular = regular.filter(**{f"{months}__gte": rf.ttp_regular_cutoff})
    return regular.values("patient_id")


def ttp_regular_group(value: tuple[float, bool] | None, cutoff: float) -> str | None:
    """short, long or unclassified for a (months, event) TTP after regular therapy; None
    for a patient without one (reported as `unknown`)."""
    if value is None:
        return None
    months, event = value
    if months >= cutoff:
        return "long"
    return "short" if event else "unclassified"
