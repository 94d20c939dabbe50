"""`python manage.py export_cohort [--deidentified] [--site CODE …] [-o FILE]`."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from registry.interchange.documents import export_document
from registry.models import Patient, Site


class Command(BaseCommand):
    help = "Write patients as a lutetia-cohort/2 document (standard output unless -o)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--deidentified",
            action="store_true",
            help="leave out name, hospital number and birth date (null)",
        )
        parser.add_argument(
            "--site", action="append", default=[], metavar="CODE", help="only this site's patients"
        )
        parser.add_argument("-o", "--output", metavar="FILE", help="write here instead")

    def handle(self, *args, deidentified: bool, site: list[str], output: str | None, **options):
        patients = Patient.objects.all()
        if site:
            unknown = set(site) - set(
                Site.objects.filter(code__in=site).values_list("code", flat=True)
            )
            if unknown:
                raise CommandError(f"Unknown site code(s): {', '.join(sorted(unknown))}.")
            patients = patients.filter(site__code__in=site)
        text = json.dumps(export_document(patients, deidentified=deidentified), indent=1)
        if output and output != "-":
            try:
                with open(output, "w", encoding="utf-8") as handle:
                    handle.write(text + "\n")
            except OSError as exc:
                raise CommandError(f"Cannot write {output}: {exc.strerror or exc}") from exc
            self.stderr.write(f"Wrote {output}.")
        else:
            self.stdout.write(text)
