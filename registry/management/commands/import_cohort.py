"""`python manage.py import_cohort FILE.json` (or `-` for standard input)."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from registry.interchange.documents import import_document


class Command(BaseCommand):
    help = "Import a lutetia-cohort/1 or /2 document: all or nothing, patients matched on study_id."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the JSON document, or - for standard input")

    def handle(self, *args, file: str, **options) -> None:
        try:
            if file == "-":
                doc = json.load(sys.stdin)
            else:
                with open(file, encoding="utf-8") as handle:
                    doc = json.load(handle)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CommandError(f"{file} is not valid JSON: {exc}") from exc

        result = import_document(doc, consume=True)  # parsed for this import alone
        if result.errors:
            for error in result.errors:
                self.stderr.write(f"{error.path}: {error.message}")
            raise CommandError(
                f"Nothing imported: {len(result.errors)} error(s) in {file}.", returncode=1
            )
        self.stdout.write(
            f"Imported {file}: {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged."
        )
