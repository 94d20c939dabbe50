"""`python manage.py fix_study_ids [--apply]`

Lists the study IDs that use characters the interchange schema does not allow
(letters, digits, `_` and `-` only, at most 32) with the ID each would become;
`--apply` renames them, each change audited with its reason like a correction.
Migration 0004 stops and points here when such IDs exist.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandParser

from registry.models import Patient
from registry.models.patients import STUDY_ID_PATTERN
from registry.records.facts import save_fact

ALLOWED = re.compile(STUDY_ID_PATTERN)
REASON = "Study ID limited to letters, digits, '_' and '-' (manage.py fix_study_ids)."


def proposed_id(study_id: str, taken: set[str], pk: int) -> str:
    """`study_id` with each disallowed run of characters made one '-', unique among `taken`."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", study_id).strip("-")[:32] or f"P-{pk}"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        suffix = f"-{n}"
        candidate = base[: 32 - len(suffix)] + suffix
    return candidate


class Command(BaseCommand):
    help = "Find (and with --apply rename) study IDs with characters the schema does not allow."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--apply", action="store_true", help="rename them (audited)")

    def handle(self, *args, apply: bool, **options) -> None:
        taken = set(Patient.objects.values_list("study_id", flat=True))
        bad = [p for p in Patient.objects.order_by("pk") if not ALLOWED.match(p.study_id)]
        if not bad:
            self.stdout.write("Every study ID is fine.")
            return
        for patient in bad:
            new = proposed_id(patient.study_id, taken, patient.pk)
            taken.add(new)
            line = f"patient {patient.pk}: {patient.study_id!r} -> {new!r}"
            if not apply:
                self.stdout.write(line)
                continue
            patient.study_id = new
            try:
                save_fact(patient, reason=REASON)
            except ValidationError as error:
                self.stderr.write(f"{line}: not renamed ({'; '.join(error.messages)})")
            else:
                self.stdout.write(f"{line}: renamed")
        if not apply:
            self.stdout.write(f"{len(bad)} to rename; run again with --apply to rename them.")
