"""The system checks `migrate` and `runserver` run (the database's too) find nothing on the
embedded default (SQLite) or on PostgreSQL: `make run` shows no warning."""

import io

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_the_system_checks_find_nothing():
    out = io.StringIO()
    call_command("check", databases=["default"], stdout=out, stderr=out)
    assert out.getvalue().startswith("System check identified no issues"), out.getvalue()
