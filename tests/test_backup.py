"""deploy/backup.sh and deploy/restore.sh, as the README shows them (issue 17).

A cohort with its audit history and a media file are backed up from a live
PostgreSQL database, restored into a new one, migrated and checked: the same
patients, the same history, the same file, and no drift in the derived rows.
"""

from __future__ import annotations

import io
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from registry import models as m
from tests.services import need_postgres

ROOT = Path(__file__).resolve().parents[1]


def _url(name: str) -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"


def _sql(url: str, query: str) -> str:
    return subprocess.run(
        ["psql", url, "-Atc", query], capture_output=True, text=True, check=True
    ).stdout.strip()


def _env(url: str, media: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "LUTETIA_TESTING"))}
    return {
        **env,
        "DATABASE_URL": url,
        "MEDIA_ROOT": str(media),
        "PYTHON": str(ROOT / ".venv/bin/python"),
    }


@pytest.mark.django_db(transaction=True)
def test_a_backup_restores_into_a_new_database_with_no_drift(tmp_path):
    need_postgres()
    call_command("demo_cohort", "--patients", "6", "--seed", "2", stdout=io.StringIO())
    media = tmp_path / "media"
    (media / "exports").mkdir(parents=True)
    (media / "exports" / "cohort.csv").write_text("study_id\nDEMO-1\n")
    source = _url(connection.settings_dict["NAME"])

    written = subprocess.run(
        [str(ROOT / "deploy/backup.sh"), str(tmp_path / "backups")],
        env=_env(source, media),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    dump, tarball = (Path(p) for p in written)
    assert dump.stat().st_size > 0 and tarball.name.endswith(".tar.gz")

    restored_name = f"lutetia_restore_{uuid.uuid4().hex[:8]}"
    restored, restored_media = _url(restored_name), tmp_path / "restored-media"
    _sql(_url("postgres"), f"CREATE DATABASE {restored_name}")
    try:
        done = subprocess.run(
            [str(ROOT / "deploy/restore.sh"), str(dump), str(tarball)],
            env=_env(restored, restored_media),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "6 patients checked, 0 with differences, 0 failed, 0 stale" in done.stdout
        for table in ("registry_patient", "registry_historicallabresult", "registry_courseoutcome"):
            assert _sql(restored, f"SELECT count(*) FROM {table}") == _sql(
                source, f"SELECT count(*) FROM {table}"
            ), table
        assert (
            int(_sql(restored, "SELECT count(*) FROM registry_patient"))
            == m.Patient.objects.count()
        )
        assert (restored_media / "exports" / "cohort.csv").read_text() == "study_id\nDEMO-1\n"
    finally:
        _sql(_url("postgres"), f"DROP DATABASE IF EXISTS {restored_name} WITH (FORCE)")
