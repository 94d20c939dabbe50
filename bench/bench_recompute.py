"""Live recomputation at cohort scale: import, then how long until no patient is stale.

Run: .venv/bin/python bench/bench_recompute.py [--patients 1000] [--concurrency 2]

Needs PostgreSQL and Redis (defaults: postgres://postgres@127.0.0.1:5432 and
redis://127.0.0.1:6379/14). A fresh database `lutetia_bench` is created. The
shared example cohort and `demo_cohort --patients N` are imported through
the services, as an operator would; their commits queue the recomputation in
batches, and real `celery worker` processes do it. Reported: the import time,
the time from the end of the import until no patient is stale, and, as a
baseline in the same run, the same recomputation done synchronously in this
process (what `manage.py recompute --all` does), with the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT.parent / "shared" / "reference" / "example_cohort.json"
sys.path.insert(0, str(ROOT))


def fresh_database(server_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server_url}/{name}"


def services_available(server_url: str, broker_url: str) -> str | None:
    import psycopg
    import redis

    try:
        psycopg.connect(f"{server_url}/postgres", connect_timeout=3).close()
    except psycopg.Error as exc:
        return f"PostgreSQL at {server_url} does not answer: {exc}"
    try:
        redis.Redis.from_url(broker_url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        return f"Redis at {broker_url} does not answer: {exc}"
    return None


def start_worker(concurrency: int, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "wb")  # noqa: SIM115 - the worker writes to it until killed
    return subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "celery"),
            "-A",
            "registry",
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "-Q",
            f"{os.environ['CELERY_TASK_DEFAULT_QUEUE']}.interactive,{os.environ['CELERY_TASK_DEFAULT_QUEUE']}",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_until(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--postgres", default=os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
    )
    parser.add_argument(
        "--broker", default=os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/14")
    )
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()

    if problem := services_available(args.postgres, args.broker):
        print(f"skipped: {problem}")
        return 0
    os.environ.update(
        DJANGO_SETTINGS_MODULE="registry.settings",
        LUTETIA_TESTING="1",
        DATABASE_URL=fresh_database(args.postgres, "lutetia_bench"),
        CELERY_BROKER_URL=args.broker,
        CELERY_TASK_DEFAULT_QUEUE=f"lutetia-bench-{uuid.uuid4().hex[:8]}",
    )
    import django

    django.setup()
    from django.core.management import call_command

    from registry.derive.recompute import recompute_patient
    from registry.interchange.documents import import_document
    from registry.models import Patient, PatientState

    call_command("migrate", verbosity=0)
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / "lutetia-bench-worker.log"
    worker = start_worker(args.concurrency, log_path)
    try:
        # Give the worker time to connect, so the clock measures recomputing.
        time.sleep(5)
        started = time.perf_counter()
        result = import_document(json.loads(EXAMPLE.read_text()))
        assert result.ok, result.errors
        call_command("demo_cohort", "--patients", str(args.patients), "--seed", "1", verbosity=0)
        imported = time.perf_counter()
        n = Patient.objects.count()

        def none_stale() -> bool:
            return not PatientState.objects.filter(stale=True).exists()

        if not wait_until(none_stale, args.timeout):
            stale = PatientState.objects.filter(stale=True).count()
            print(f"FAILED: {stale} of {n} patients still stale after {args.timeout} s")
            print(log_path.read_text()[-3000:])
            return 1
        done = time.perf_counter()
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)

    ids = list(Patient.objects.values_list("pk", flat=True))
    t0 = time.perf_counter()
    for pk in ids:
        recompute_patient(pk, force=True)
    baseline = time.perf_counter() - t0

    live = done - imported
    print(f"patients: {n} (example + demo_cohort --patients {args.patients})")
    print(f"worker: prefork, concurrency {args.concurrency}; broker {args.broker}")
    print(f"import (one transaction each, queues batches on commit): {imported - started:.1f} s")
    print(f"import end -> no patient stale: {live:.1f} s ({n / live:.0f} patients/s)")
    print(f"import start -> no patient stale: {done - started:.1f} s")
    print(f"baseline, synchronous in-process recompute of all: {baseline:.1f} s")
    print(f"ratio live (after import) / synchronous: {live / baseline:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
