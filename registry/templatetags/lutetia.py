"""Display helpers for the templates: the API and reports carry full precision,
pages round here."""

from __future__ import annotations

import datetime as dt
import re

from django import template
from django.conf import settings
from django.utils import dateformat, timezone

from registry.clinical import quality, vocabularies

register = template.Library()


@register.filter
def pvalue(p: float | None) -> str:
    """A p-value as papers print it: 3 decimals, "< 0.001" below that, "—" if undefined."""
    if p is None:
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


@register.filter
def months(value: float | None, digits: int = 1) -> str:
    """Months to `digits` decimals, "NR" (not reached) for None."""
    return "NR" if value is None else f"{value:.{int(digits)}f}"


@register.filter
def ratio(value: float | None) -> str:
    """A hazard ratio to 2 decimals."""
    return "—" if value is None else f"{value:.2f}"


def _coded_unless(coder):
    def apply(value, show_as_typed: bool):
        """What was typed for those who see identifiers; the coded value for research."""
        return value if show_as_typed else coder(value)

    return apply


# `{{ e.term|term_for:show_identifiers }}`: free text research roles read coded (finding 8).
register.filter("term_for", _coded_unless(vocabularies.coded_term))
register.filter("organ_for", _coded_unless(vocabularies.coded_organ))
register.filter("lesion_for", _coded_unless(vocabularies.coded_lesion_label))


@register.filter
def lockout_minutes(duration) -> int:
    """A lockout's cool-off (a timedelta) in whole minutes, at least 1."""
    return max(1, round(duration.total_seconds() / 60))


@register.filter
def finding_label(code: str) -> str:
    """A data-quality finding's words; an unknown code is shown as it is."""
    return quality.FINDING_LABELS.get(code, code)


ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


@register.filter
def day(value) -> str:
    """A date as the pages show it (settings.DATE_FORMAT, default dd/mm/yyyy); "" for None."""
    if value in (None, ""):
        return ""
    return dateformat.format(value, settings.DATE_FORMAT)


@register.filter
def moment(value) -> str:
    """A date and time in the server's time zone (settings.DATETIME_FORMAT)."""
    if value in (None, ""):
        return ""
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return dateformat.format(value, settings.DATETIME_FORMAT)


@register.filter
def dates(text) -> str:
    """Stored text (findings, reasons) with its ISO dates shown as the pages show dates."""
    if not text:
        return text

    def shown(match: re.Match) -> str:
        try:
            return day(dt.date(*(int(g) for g in match.groups())))
        except ValueError:
            return match.group(0)

    return ISO_DATE.sub(shown, str(text))


@register.simple_tag
def custom_items(record, definitions, show_identifiers) -> list[tuple[str, str]]:
    """A record's custom values as (label, shown value); identifying ones only for
    those who may see identifiers."""
    from registry.records.custom_display import custom_items as items

    return items(
        getattr(record, "custom", None), definitions or {}, show_identifiers=bool(show_identifiers)
    )


@register.filter
def metastasis_sites(course) -> str:
    """ "liver (25–50 %), bone" — the sites marked yes; "none" if all are no; "" if unknown."""
    from registry.models.treatment import METASTASIS_SITES

    words = {"lymph_node": "lymph nodes", "peritoneal": "peritoneum", "other": "elsewhere"}
    found, known = [], False
    for site in METASTASIS_SITES:
        value = getattr(course, f"{site}_metastases")
        known = known or value is not None
        if value:
            word = words.get(site, site)
            if site == "liver" and course.liver_load:
                word += f" ({course.get_liver_load_display()})"
            found.append(word)
    return ", ".join(found) if found else ("none" if known else "")
