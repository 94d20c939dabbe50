"""How long the API takes to accept a large import, and the web process's memory for it.

    .venv/bin/python bench/bench_import_accept.py [PATIENTS]

Builds a `lutetia-cohort/1` document of PATIENTS (default 100,000) patients with
a course, a cycle and three labs each, POSTs it to /api/v1/imports/ through
Django's WSGI handler with a Redis broker configured and no worker (so the job
only queues), and prints the seconds to the 202 and the peak Python memory
(tracemalloc) of the request — which includes the test client's own in-memory copy
of the body (a socket under gunicorn) — against the same for a one-patient document
measured in the same run. Needs Redis at 127.0.0.1:6379 (db 13 is used).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import tracemalloc

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry.settings")
os.environ["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/13"
workdir = tempfile.mkdtemp(prefix="lutetia-bench-")
os.environ["DATABASE_URL"] = f"sqlite:///{workdir}/db.sqlite3"
os.environ["MEDIA_ROOT"] = workdir
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from registry.models import Site  # noqa: E402
from registry.records.users import save_staff_user  # noqa: E402


def document(n: int) -> bytes:
    patients = [
        {
            "study_id": f"B-{i:06d}",
            "site": "ROT",
            "primary_site": "midgut",
            "courses": [
                {"phase": "salvage", "cycles": [{"date": "2010-01-04", "activity_gbq": 7.4}]}
            ],
            "labs": [
                {
                    "date": "2010-02-01",
                    "analyte": "platelets",
                    "value": 150 + i % 50,
                    "unit": "10^9/L",
                },
                {"date": "2010-02-01", "analyte": "hemoglobin", "value": 7.5, "unit": "mmol/L"},
                {"date": "2010-02-01", "analyte": "creatinine", "value": 80, "unit": "umol/L"},
            ],
        }
        for i in range(n)
    ]
    doc = {"format": "lutetia-cohort/1", "sites": [{"code": "ROT"}], "patients": patients}
    return json.dumps(doc).encode()


def post(client: Client, body: bytes) -> tuple[float, float, int]:
    tracemalloc.start()
    start = time.perf_counter()
    answer = client.generic("POST", "/api/v1/imports/", body, content_type="application/json")
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak, answer.status_code


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    call_command("migrate", verbosity=0)
    Site.objects.create(code="ROT", name="Rotterdam")
    user, _ = save_staff_user("bench", role="clinician", site_codes=["ROT"], password="x" * 16)
    client = Client()
    client.force_login(user)
    small, big = document(1), document(n)
    post(client, small)  # warm-up: imports, the broker connection
    base = post(client, small)
    large = post(client, big)
    print(f"one patient ({len(small):,} B): {base[0]:.3f} s, peak {base[1]:.1f} MiB, {base[2]}")
    print(
        f"{n:,} patients ({len(big) / 2**20:.1f} MiB): {large[0]:.3f} s, "
        f"peak {large[1]:.1f} MiB, {large[2]}"
    )
    print(f"ratio: {large[0] / base[0]:.1f}x the time of a one-patient import")


if __name__ == "__main__":
    main()
