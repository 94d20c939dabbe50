"""`python manage.py create_user NAME --role clinician|research|admin --site CODE [--site …]`."""

from __future__ import annotations

import getpass
import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from registry.models import Role
from registry.records.users import save_staff_user


class Command(BaseCommand):
    help = (
        "Create or update a user with a role and sites. The password comes from "
        "LUTETIA_PASSWORD, else it is asked for."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument(
            "--site", action="append", default=[], metavar="CODE", help="repeat for more sites"
        )

    def handle(self, *args, username: str, role: str, site: list[str], **options) -> None:
        password = os.environ.get("LUTETIA_PASSWORD") or self._ask_password(username)
        try:
            user, created = save_staff_user(username, role=role, site_codes=site, password=password)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        sites = ", ".join(site) if site else "all sites" if role == Role.ADMIN else "none"
        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} {user.username}: {role}, {sites}.")

    def _ask_password(self, username: str) -> str | None:
        """Ask twice on the terminal; empty keeps an existing user's password."""
        try:
            first = getpass.getpass(f"Password for {username} (empty: keep the current one): ")
            if not first:
                return None
            if getpass.getpass("Again: ") != first:
                raise CommandError("The passwords differ.")
        except EOFError as exc:
            raise CommandError("No password: set LUTETIA_PASSWORD or run in a terminal.") from exc
        return first
