"""`python manage.py recompute [--all | --patient STUDY_ID] [--stale]`

For operators after a change of rules or settings (e.g. the toxicity window):
recomputes in this process, synchronously, with a plain-text progress line.
Patients go in batches of LUTETIA_RECOMPUTE_BATCH_SIZE, as the workers take
them: one read per kind of fact and one write per derived table for each batch.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from registry.derive.planner import analyze
from registry.derive.recompute import chunks, recompute_patients
from registry.models import CourseOutcome, Patient, PatientState, TimePointResponse

# Rewriting this many patients' derived rows refreshes the planner's statistics of them.
ANALYZE_AFTER_PATIENTS = 500


class Command(BaseCommand):
    help = "Recompute derived results (response, toxicity, endpoints) from the facts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="every patient")
        parser.add_argument(
            "--patient",
            action="append",
            default=[],
            metavar="STUDY_ID",
            help="this patient (repeatable)",
        )
        parser.add_argument(
            "--stale", action="store_true", help="only patients whose results are stale"
        )

    def handle(self, *args, all: bool, patient: list[str], stale: bool, **options) -> None:
        if not (all or patient or stale):
            raise CommandError("Say which patients: --all, --patient STUDY_ID or --stale.")
        if all and patient:
            raise CommandError("--all and --patient exclude each other.")
        patients = Patient.objects.order_by("pk")
        if patient:
            found = dict(patients.filter(study_id__in=patient).values_list("study_id", "pk"))
            unknown = [s for s in patient if s not in found]
            if unknown:
                raise CommandError(f"Unknown study ID(s): {', '.join(unknown)}")
            patients = patients.filter(pk__in=found.values())
        if stale:
            patients = patients.filter(Q(state__stale=True) | Q(state__isnull=True))
        ids = list(patients.values_list("pk", flat=True).distinct())
        self.run(ids)

    def run(self, ids: list[int]) -> None:
        total, counts, failed = len(ids), {"done": 0, "superseded": 0, "missing": 0}, []
        started = time.monotonic()
        n = 0
        for batch in chunks(ids, max(1, settings.LUTETIA_RECOMPUTE_BATCH_SIZE)):
            try:
                results = recompute_patients(batch, force=True)
            except Exception as exc:  # reading the batch failed
                results = dict.fromkeys(batch, exc)
            for patient_id, status in results.items():
                if isinstance(status, Exception):
                    failed.append((patient_id, status))
                else:
                    counts[status] = counts.get(status, 0) + 1
            n += len(batch)
            self.progress(n, total, counts["done"], len(failed))
        if counts["done"] >= ANALYZE_AFTER_PATIENTS:
            analyze(CourseOutcome, TimePointResponse, PatientState)
        elapsed = time.monotonic() - started
        self.stdout.write("")
        self.stdout.write(
            f"Recomputed {counts['done']} of {total} patient(s) in {elapsed:.1f} s"
            f" ({counts['superseded']} changed meanwhile and are queued again,"
            f" {counts['missing']} deleted, {len(failed)} failed)."
        )
        if failed:
            for patient_id, exc in failed[:20]:
                self.stderr.write(f"patient {patient_id}: {type(exc).__name__}: {exc}")
            raise CommandError(f"{len(failed)} patient(s) failed; they stay stale.")

    def progress(self, n: int, total: int, done: int, failed: int) -> None:
        width = 30
        filled = width * n // total if total else width
        bar = "#" * filled + "-" * (width - filled)
        self.stdout.write(f"\r[{bar}] {n}/{total} ({done} done, {failed} failed)", ending="")
        self.stdout.flush()
