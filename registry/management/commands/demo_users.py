"""`python manage.py demo_users`: the demo logins clinician, research, monitor and admin."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from registry.interchange.demo import DEFAULT_SITES, SITE_NAMES
from registry.models import Site
from registry.records.users import save_staff_user

DEFAULT_DEMO_PASSWORD = "lutetia-demo"


class Command(BaseCommand):
    help = (
        "Create (or reset) the demo users clinician, research, monitor and admin on the demo "
        "cohort's "
        "sites. The password is LUTETIA_DEMO_PASSWORD, or 'lutetia-demo' with DEBUG on."
    )

    def handle(self, *args, **options) -> None:
        password = os.environ.get("LUTETIA_DEMO_PASSWORD")
        if not password:
            if not settings.DEBUG:
                # A well-known password on a production server would be an open door.
                raise CommandError(
                    "DEBUG is off: set LUTETIA_DEMO_PASSWORD to create demo users here."
                )
            password = DEFAULT_DEMO_PASSWORD
        for code in DEFAULT_SITES:
            Site.objects.get_or_create(code=code, defaults={"name": SITE_NAMES.get(code, code)})
        try:
            for username, role in (
                ("clinician", "clinician"),
                ("research", "research"),
                ("monitor", "monitor"),
                ("admin", "admin"),
            ):
                sites = DEFAULT_SITES if role != "admin" else ()
                save_staff_user(username, role=role, site_codes=sites, password=password)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        shown = password if password == DEFAULT_DEMO_PASSWORD else "(LUTETIA_DEMO_PASSWORD)"
        self.stdout.write(
            "Demo logins (sites " + ", ".join(DEFAULT_SITES) + "):\n"
            f"  clinician / {shown}   enters and checks patients\n"
            f"  research  / {shown}   cohorts, curves, de-identified exports\n"
            f"  monitor   / {shown}   verifies and locks courses, opens data queries\n"
            f"  admin     / {shown}   every site, Django admin"
        )
