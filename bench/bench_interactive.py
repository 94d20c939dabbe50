"""A clinician's save while a bulk recompute runs: how long until the patient is fresh?

Run: .venv/bin/python bench/bench_interactive.py [--patients 600] [--samples 12]

Needs PostgreSQL and Redis (as bench_recompute.py). A demo cohort is built, then
every patient is queued for recomputation in batches (what an import or a rule
change does), and while those batches run, a lab value is saved for one patient
at a time, as a clinician would; the clock runs from the save's commit until
that patient's derived results are fresh again. Two layouts in the same run:

- baseline: the earlier routing, every task on one queue, one worker
  (concurrency 2): the clinician's recompute waits behind the batches;
- now: one patient's recompute on `<queue>.interactive` (registry.celery.route),
  the same worker plus docker-compose's `worker-interactive` (concurrency 1).

Reported: p50 and p95 latency of each, and their ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_recompute import fresh_database, services_available, wait_until  # noqa: E402


def start_worker(queues: list[str], concurrency: int, log_path: Path) -> subprocess.Popen:
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
            ",".join(queues),
            "-n",
            f"{uuid.uuid4().hex[:6]}@%h",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env={**os.environ, "CELERY_BROKER_URL": os.environ["BENCH_BROKER_URL"]},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def scenario(name, layout, patient_ids, samples, by, routed: bool, rounds: int) -> list[float]:
    from django.db import transaction

    from registry.celery import app
    from registry.derive import tasks
    from registry.models import LabResult, PatientState
    from registry.records.facts import save_fact

    queue = f"lutetia-bench-{uuid.uuid4().hex[:8]}"
    conf = app.conf
    conf.task_default_queue = queue
    conf.task_routes = ("registry.celery.route",) if routed else ()
    amqp = app.amqp
    amqp._rtable = None
    for cached in ("queues", "default_queue", "router"):
        amqp.__dict__.pop(cached, None)
    workers = [
        start_worker(
            [q.replace("{q}", queue) for q in queues],
            concurrency,
            Path("/tmp") / f"lutetia-bench-{name}-{i}.log",
        )
        for i, (queues, concurrency) in enumerate(layout)
    ]
    try:
        time.sleep(6)  # the workers connect
        for _ in range(rounds):  # the bulk work, in batches: `rounds` x the cohort
            tasks.enqueue_recompute(patient_ids, force=True)
        rng = random.Random(7)
        latencies = []
        import redis

        broker = redis.Redis.from_url(os.environ["BENCH_BROKER_URL"])
        for _ in range(samples):
            if not broker.llen(queue):
                break  # the bulk work is done: later samples would measure an idle worker
            patient_id = rng.choice(patient_ids)
            with transaction.atomic():
                save_fact(
                    LabResult(
                        patient_id=patient_id,
                        date=dt.date(2020, 1, 1) + dt.timedelta(days=rng.randrange(300)),
                        analyte="platelets",
                        value=rng.uniform(50, 300),
                        unit="10^9/L",
                    ),
                    by=by,
                )
            saved = time.perf_counter()
            fresh = wait_until(
                lambda pk=patient_id: not PatientState.objects.get(patient_id=pk).stale,
                600,
                interval=0.02,
            )
            latencies.append(time.perf_counter() - saved if fresh else float("inf"))
            time.sleep(1.0)
        print(f"{name}: {len(latencies)} saves sampled while the bulk work ran", flush=True)
        return latencies
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=600)
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument(
        "--rounds", type=int, default=4, help="the cohort is queued this many times (bulk work)"
    )
    parser.add_argument(
        "--postgres", default=os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
    )
    parser.add_argument(
        "--broker", default=os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/14")
    )
    args = parser.parse_args()
    if problem := services_available(args.postgres, args.broker):
        print(f"skipped: {problem}")
        return 0
    # The cohort is built with tasks in-process; the scenarios then publish to Redis.
    os.environ.update(
        DJANGO_SETTINGS_MODULE="registry.settings",
        LUTETIA_TESTING="1",
        DATABASE_URL=fresh_database(args.postgres, "lutetia_bench_interactive"),
        BENCH_BROKER_URL=args.broker,
    )
    os.environ.pop("CELERY_BROKER_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    from registry.celery import app
    from registry.models import Patient
    from tests.factories import SiteFactory, UserFactory

    call_command("migrate", verbosity=0)
    call_command("demo_cohort", "--patients", str(args.patients), "--seed", "1", verbosity=0)
    by = UserFactory(
        username="bench", role="admin", sites=list(SiteFactory._meta.model.objects.all())
    )
    ids = list(Patient.objects.order_by("pk").values_list("pk", flat=True))
    app.conf.broker_url, app.conf.task_always_eager = args.broker, False
    from kombu import pools

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None

    baseline = scenario(
        "baseline", [(["{q}"], 2)], ids, args.samples, by, routed=False, rounds=args.rounds
    )
    now = scenario(
        "now",
        [(["{q}.interactive", "{q}"], 2), (["{q}.interactive"], 1)],
        ids,
        args.samples,
        by,
        routed=True,
        rounds=args.rounds,
    )
    print(f"patients: {len(ids)}, queued {args.rounds} times as the bulk work")
    for name, values in (("baseline (one queue)", baseline), ("now (interactive queue)", now)):
        print(
            f"{name}: p50 {statistics.median(values):.2f} s, p95 {percentile(values, 0.95):.2f} s, "
            f"max {max(values):.2f} s"
        )
    print(
        f"ratio p95 now / baseline: {percentile(now, 0.95) / percentile(baseline, 0.95):.3f}; "
        f"goal p95 <= 1 s: {'met' if percentile(now, 0.95) <= 1 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
