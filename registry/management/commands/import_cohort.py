"""`python manage.py import_cohort FILE.json` (or `-` for standard input)."""

from __future__ import annotations

import shutil
import sys
import tempfile

from django.core.management.base import BaseCommand, CommandError, CommandParser

from registry.interchange.documents import import_file


class Command(BaseCommand):
    help = "Import a lutetia-cohort/1 or /2 document: all or nothing, patients matched on study_id."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the JSON document, or - for standard input")

    def handle(self, *args, file: str, **options) -> None:
        if file == "-":
            # Spooled to a file: the import streams it, and may read it twice (importing).
            with tempfile.NamedTemporaryFile(suffix=".json") as spool:
                source = getattr(sys.stdin, "buffer", None)
                if source is None:  # a text stream (call_command's stdin)
                    spool.write(sys.stdin.read().encode())
                else:
                    shutil.copyfileobj(source, spool)
                spool.flush()
                self._import(spool.name, "standard input")
        else:
            self._import(file, file)

    def _import(self, path: str, name: str) -> None:
        try:
            result = import_file(path)  # streamed: memory does not grow with the file
        except OSError as exc:
            raise CommandError(f"Cannot read {name}: {exc.strerror or exc}") from exc
        if result.errors:
            for error in result.errors:
                self.stderr.write(f"{error.path}: {error.message}")
            raise CommandError(
                f"Nothing imported: {len(result.errors)} error(s) in {name}.", returncode=1
            )
        self.stdout.write(
            f"Imported {name}: {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged."
        )
