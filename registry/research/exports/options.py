"""An export request, read and checked once: filter, coverage, level, format and tables.

The export page, the direct downloads and the background job read the same
`ExportOptions`, so a job is refused exactly as the page would refuse it —
and checked again with the creator's rights when the worker runs it.
Errors name their parameter (`coverage`, `deid`, `format`, `tables`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from registry.access import may_export_pseudonymised
from registry.research.exports.scope import Coverage, ExportScope, Level
from registry.research.exports.tables import TABLES
from registry.research.filters import ResearchFilter, parse_filter


@dataclass(frozen=True)
class Format:
    label: str
    suffix: str
    stat: tuple[str, ...] = ()


FORMATS = {
    "xlsx": Format("XLSX workbook (README, dictionary and a sheet per table)", ".xlsx"),
    "csv": Format("ZIP: CSV tables, dictionary, README and an R loader (load.R)", ".zip"),
    "sav": Format("ZIP: as CSV, plus SPSS .sav files with value labels", ".zip", ("sav",)),
    "dta": Format("ZIP: as CSV, plus Stata .dta files with value labels", ".zip", ("dta",)),
}
OPTION_KEYS = frozenset({"coverage", "deid", "format", "tables"})


@dataclass(frozen=True)
class ExportOptions:
    user: Any
    filter: ResearchFilter
    coverage: str = Coverage.COHORT
    level: str = Level.SHIFTED
    format: str = "xlsx"
    tables: tuple[str, ...] = ()

    def scope(self, created_at: dt.datetime | None = None) -> ExportScope:
        extra = {"created_at": created_at} if created_at else {}
        return ExportScope(self.user, self.filter, self.coverage, self.level, **extra)

    def job_params(self) -> dict[str, Any]:
        return {
            "filter": self.filter.as_params(),
            "coverage": self.coverage,
            "deid": self.level,
            "format": self.format,
            "tables": list(self.tables),
        }


def levels_for(user) -> list[tuple[str, str]]:
    """The de-identification levels this user may choose, the default first."""
    allowed = [
        (Level.SHIFTED.value, Level.SHIFTED.label),
        (Level.RELATIVE.value, Level.RELATIVE.label),
    ]
    if may_export_pseudonymised(user):
        allowed.append((Level.PSEUDONYMISED.value, Level.PSEUDONYMISED.label))
    return allowed


def _one(params: Mapping[str, Any], key: str, default: str) -> str:
    getlist = getattr(params, "getlist", None)
    values = getlist(key) if getlist else [params[key]] if key in params else []
    values = [str(v).strip() for v in values if str(v).strip()]
    return values[-1] if values else default


def export_options(
    user, filter_params: Mapping[str, Any], params: Mapping[str, Any] | None = None
) -> ExportOptions:
    """Read an export request; ValidationError names every bad parameter at once."""
    params = filter_params if params is None else params
    errors: dict[str, list[str]] = {}
    try:
        rf = parse_filter(filter_params, extra_allowed=OPTION_KEYS | EXTRA_PAGE_KEYS)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        rf = parse_filter({})
    coverage = _one(params, "coverage", Coverage.COHORT)
    if coverage not in Coverage.values:
        errors["coverage"] = [f"Must be one of: {', '.join(Coverage.values)}."]
    level = _one(params, "deid", Level.SHIFTED)
    if level not in Level.values:
        errors["deid"] = [f"Must be one of: {', '.join(Level.values)}."]
    elif level == Level.PSEUDONYMISED and not may_export_pseudonymised(user):
        errors["deid"] = [
            "Pseudonymised exports (exact dates) need an admin's permission: "
            "choose dates shifted or relative."
        ]
    fmt = _one(params, "format", "xlsx")
    if fmt not in FORMATS:
        errors["format"] = [f"Must be one of: {', '.join(FORMATS)}."]
    getlist = getattr(params, "getlist", None)
    raw = getlist("tables") if getlist else params.get("tables") or []
    names = tuple(str(n) for n in raw if str(n).strip())
    unknown = [n for n in names if n not in TABLES]
    if unknown:
        errors["tables"] = [f"Unknown table {', '.join(unknown)[:80]}."]
    if errors:
        raise ValidationError(errors)
    return ExportOptions(user, rf, coverage, level, fmt, names)


# Parameters of the research pages that an export link may carry along.
EXTRA_PAGE_KEYS = frozenset(
    {"drill", "page", "progression_curve", "cox", "cox_ties", "cox_reference"}
)
