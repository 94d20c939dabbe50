"""`python manage.py demo_cohort --patients N --seed S [--if-empty] [--sites ROT,GRO]`."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from registry.interchange.demo import DEFAULT_SITES, create_demo_cohort
from registry.models import Patient


class Command(BaseCommand):
    help = "Add a synthetic, deterministic PRRT cohort (for development and demos)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--patients", type=int, default=60, help="number of patients")
        parser.add_argument("--seed", type=int, default=1, help="same seed, same cohort")
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing if the registry has patients"
        )
        parser.add_argument(
            "--sites",
            default=",".join(DEFAULT_SITES),
            help="comma-separated site codes (created if missing); default %(default)s",
        )

    def handle(self, *args, patients: int, seed: int, if_empty: bool, sites: str, **options):
        if patients < 0:
            raise CommandError("--patients must be 0 or more.")
        codes = [code.strip() for code in sites.split(",") if code.strip()]
        if not codes:
            raise CommandError("--sites needs at least one site code.")
        if if_empty and Patient.objects.exists():
            self.stdout.write("The registry already has patients; no demo cohort added.")
            return
        started = time.perf_counter()
        result = create_demo_cohort(patients, seed=seed, sites=codes)
        if result.errors:
            # The generator and the import disagree: a bug, so show exactly what.
            lines = "\n".join(str(error) for error in result.errors[:20])
            raise CommandError(f"The demo cohort did not import:\n{lines}")
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"Demo cohort (seed {seed}): {result.created} patients created, "
            f"{result.updated} updated, {result.unchanged} unchanged in {seconds:.1f} s."
        )
