"""The README's curl examples (docs/api-examples.sh) run against a live server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from registry import models
from tests.conftest import REFERENCE

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "api-examples.sh"


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_readme_curl_examples(live_server, admin_user):
    from tests import factories

    env = {
        **os.environ,
        "LUTETIA_URL": live_server.url,
        "LUTETIA_USER": admin_user.username,
        "LUTETIA_PASSWORD": factories.PASSWORD,
    }
    result = subprocess.run(
        ["sh", str(SCRIPT), str(REFERENCE / "example_cohort.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    status_line, _, body = result.stdout.partition("\n")
    assert status_line.endswith(": done"), result.stdout
    analysis = json.loads(body)
    assert analysis["endpoint"] == "os" and analysis["phase"] == "salvage"
    assert {g["label"] for g in analysis["groups"]} == {"pancreas", "midgut"}
    assert sum(g["n"] for g in analysis["groups"]) == 2
    assert models.Patient.objects.filter(study_id__in=["EX-001", "EX-002"]).count() == 2
