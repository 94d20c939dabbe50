"""Snapshot what outside users receive, to prove a refactoring changed nothing.

Builds a fresh SQLite registry (the demo cohort with a fixed seed and the demo
users), then writes to OUT/ the interchange export of the whole registry and
the JSON of every API endpoint (every collection, every detail, every
patient's outcomes, the cohort report and survival analysis under many
filters, the OpenAPI schema) and the research CSV exports, one file each, plus
`digest.txt` with a SHA-256 per file.

    .venv/bin/python bench/snapshot_outputs.py /tmp/before
    … change the code …
    .venv/bin/python bench/snapshot_outputs.py /tmp/after
    diff -r /tmp/before /tmp/after && echo identical

Not part of the test run (it takes ~30 s); `tests/test_layout.py` runs a
smaller form of the same comparison against the committed digest of the
interchange export.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

REPORT_FILTERS = [
    "",
    "phase=regular",
    "phase=salvage&round=2",
    "criteria=recist",
    "primary_site=pancreas,midgut",
    "disease_control=true",
    "disease_control=false&criteria=recist",
    "toxicity_window_days=30",
    "conf_type=plain",
    "conf_type=log",
    "site=ROT",
]
SURVIVAL_FILTERS = [
    f"endpoint={e}{s}"
    for e in ("ttp", "pfs", "os")
    for s in ("", "&strata=primary_site", "&strata=sex", "&strata=site", "&strata=best_response")
] + ["endpoint=ttp&criteria=recist&conf_type=plain", "endpoint=os&phase=regular"]


def main(out: Path) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="lutetia-snapshot-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'db.sqlite3'}"
    os.environ["DEBUG"] = "1"
    os.environ["LUTETIA_TESTING"] = "1"
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    call_command("demo_cohort", patients=60, seed=1, verbosity=0)
    call_command("demo_users", verbosity=0)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}

    export = tmp / "export.json"
    call_command("export_cohort", output=str(export), verbosity=0)
    files["interchange/export.json"] = export.read_bytes()

    client = Client()
    assert client.login(username="admin", password="lutetia-demo")

    def get(name: str, url: str) -> dict | list:
        response = client.get(url)
        files[name] = f"{response.status_code}\n".encode() + response.content
        return json.loads(response.content) if response.status_code == 200 else {}

    def collect(resource: str) -> list[dict]:
        rows, url, page = [], f"/api/v1/{resource}/?limit=500", 0
        while url:
            body = get(f"api/{resource}/page{page}.json", url)
            rows += body.get("results", [])
            url, page = body.get("next"), page + 1
        return rows

    for resource in (
        "sites",
        "patients",
        "courses",
        "cycles",
        "labs",
        "scans",
        "clinical-progressions",
        "adverse-events",
        "response-overrides",
    ):
        rows = collect(resource)
        for row in rows[:40]:
            key = row.get("id") or row.get("code")
            get(f"api/{resource}/{key}.json", f"/api/v1/{resource}/{key}/")
        if resource == "patients":
            for row in rows:
                for criteria in ("swog", "recist"):
                    get(
                        f"api/outcomes/{row['id']}-{criteria}.json",
                        f"/api/v1/patients/{row['id']}/outcomes/?criteria={criteria}",
                    )
    for i, query in enumerate(REPORT_FILTERS):
        get(f"api/reports/cohort-{i:02d}.json", f"/api/v1/reports/cohort/?{query}")
    for i, query in enumerate(SURVIVAL_FILTERS):
        get(f"api/analyses/survival-{i:02d}.json", f"/api/v1/analyses/survival/?{query}")
    get("api/schema.json", "/api/v1/schema/?format=json")

    for table in ("patients", "courses", "cycles", "labs", "scans", "time_points", "dictionary"):
        response = client.get(f"/research/export/{table}.csv?phase=salvage")
        files[f"research/{table}.csv"] = (
            f"{response.status_code}\n".encode() + b"".join(response.streaming_content)
            if response.status_code == 200 and response.streaming
            else f"{response.status_code}\n".encode() + response.content
        )

    digest = []
    for name, content in sorted(files.items()):
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        digest.append(f"{hashlib.sha256(content).hexdigest()}  {name}")
    (out / "digest.txt").write_text("\n".join(digest) + "\n")
    print(f"{len(files)} outputs written to {out}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
