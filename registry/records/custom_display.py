"""Custom values as the pages show them: labels, units, choice labels, yes/no — and
hidden from research roles when the field is identifying (handled like a name)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import dateformat

from registry.models.custom import Definition, FieldType

HIDDEN = "(hidden)"


def display_value(d: Definition | None, value: Any) -> str:
    if value is None:
        return "—"
    if d is None:
        return str(value)
    if d.type == FieldType.BOOLEAN:
        return "Yes" if value else "No"
    if d.type == FieldType.CHOICE:
        return d.choice_label(value)
    if d.type == FieldType.DATE:
        try:
            return dateformat.format(dt.date.fromisoformat(value), settings.DATE_FORMAT)
        except (TypeError, ValueError):
            return str(value)
    if d.type in (FieldType.NUMBER, FieldType.INTEGER):
        number = f"{value:g}" if isinstance(value, float) else str(value)
        return f"{number} {d.unit}" if d.unit else number
    return str(value)


def custom_items(
    values: dict | None, definitions: dict[str, Definition], *, show_identifiers: bool
) -> list[tuple[str, str]]:
    """(label, shown value) for each stored value; identifying ones left out for research."""
    items = []
    ordered = sorted(
        (values or {}).items(),
        key=lambda kv: (definitions[kv[0]].position, kv[0]) if kv[0] in definitions else (0, kv[0]),
    )
    for code, value in ordered:
        d = definitions.get(code)
        if (d is None or d.identifying) and not show_identifiers:
            continue
        label = d.label if d else code
        if d and d.retired:
            label += " (retired)"
        items.append((label, display_value(d, value)))
    return items


def custom_changes(
    before: dict | None, after: dict | None, definitions: dict[str, Definition], *, show_identifiers
) -> list[tuple[str, Any, Any]]:
    """A change of `custom` as one change per field, identifying ones hidden for research."""
    before, after = before or {}, after or {}
    changes = []
    for code in sorted(set(before) | set(after)):
        old, new = before.get(code), after.get(code)
        if old == new:
            continue
        d = definitions.get(code)
        label = d.label if d else code
        if (d is None or d.identifying) and not show_identifiers:
            changes.append((label, HIDDEN, HIDDEN))
        else:
            changes.append((label, display_value(d, old), display_value(d, new)))
    return changes
