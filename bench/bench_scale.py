"""Issue 17's table at cohort scale: every row a ratio against a baseline measured in this run.

Run: .venv/bin/python bench/bench_scale.py [--patients 30000] [--seed 1] [--reuse]
     [--only pages,labs_list,quickload,labs_csv,recompute]

`--reuse` keeps the `lutetia_bench_scale` an earlier run built (rows 1 and 2, which
build it, are then not measured, but `--only recompute` measures row 2 again: derived
rows emptied, a second run, then `--jobs 1`); `--only` measures only the later rows named.

Needs PostgreSQL (BENCH_POSTGRES, default postgres://postgres@127.0.0.1:5432) and Redis
(BENCH_REDIS, default redis://127.0.0.1:6379/13, flushed). A fresh database
`lutetia_bench_scale` gets the demo cohort of `--patients` patients (≈ 160 labs each):

1. `manage.py import_cohort` of the document, in a subprocess with a broker and no worker
   (so the import is timed alone): lab rows per second and the child's peak memory,
   against the document's size on disk;
2. `manage.py recompute --all` against `COPY … TO STDOUT` of the tables it reads;
3. `/research/` and `/research/report/`, computed (cache off) and kept (cache on), and the
   API's cohort report and survival analysis, against the engine's own time: one query for
   the cohort's TTP months and events, and Kaplan–Meier with the log-rank test on them;
4. `/api/v1/labs/` pages at random offsets against a bare DRF view of the same rows
   (ordered, sliced, no scope, no count), sequential requests in this process;
5. (`--only quickload`) the cold pages with `QuickLoad.from_db` against Django's `from_db`;
6. the de-identified labs CSV (the code path of `/research/export/labs.csv`) against
   `COPY (SELECT the same columns) TO STDOUT CSV`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_recompute import fresh_database, services_available  # noqa: E402

ROWS: list[tuple[str, str, str, str]] = []


def row(measure: str, ours: str, baseline: str, ratio: float) -> None:
    ROWS.append((measure, ours, baseline, f"{ratio:.2f}×"))
    print(f"{measure}: {ours} vs {baseline} -> {ratio:.2f}×", flush=True)


def best(work, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def import_document(patients: int, seed: int, env: dict) -> None:
    from registry.interchange.demo import build_demo_document

    document = build_demo_document(patients, seed=seed)
    labs = sum(len(p.get("labs", [])) for p in document["patients"])
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
        json.dump(document, out)
    size = Path(out.name).stat().st_size
    del document
    command = [sys.executable, "manage.py", "import_cohort", out.name]
    # The import's own peak: RUSAGE_CHILDREN would count this process's memory too (a
    # forked child starts as big as its parent, which built the document).
    timer = shutil.which("time")  # GNU time; without it, the old (inflated) measure
    report = Path(out.name).with_suffix(".peak")
    if timer:
        command = [timer, "-f", "%M", "-o", str(report), *command]
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    if timer:
        peak = int(report.read_text().split()[-1]) / 1024
        report.unlink()
    else:
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    os.unlink(out.name)
    row(
        "import_cohort: lab rows/s; peak memory vs document",
        f"{labs / seconds:,.0f} rows/s, {peak:,.0f} MiB",
        f"{labs:,} labs in {seconds:.0f} s, document {size / 2**20:,.0f} MiB",
        peak / (size / 2**20),
    )


def copy_out(tables: list[str]) -> float:
    from django.db import connection

    def work():
        with connection.cursor() as cursor:
            for table in tables:
                with cursor.cursor.copy(f"COPY {table} TO STDOUT") as copy:
                    for _ in copy:
                        pass

    return best(work)


def recompute_vs_copy(jobs: int | None = None, label: str = "recompute --all") -> None:
    """`jobs=None` is the command's default: a process per core on PostgreSQL (at most 4)."""
    from django.core.management import call_command

    from registry import models

    tables = [
        m._meta.db_table
        for m in (
            models.Patient,
            models.PatientIdentity,
            models.PatientState,
            models.Course,
            models.Cycle,
            models.ResponseOverride,
            models.LabResult,
            models.Scan,
            models.LesionMeasurement,
            models.ClinicalProgression,
            models.AdverseEvent,
        )
    ]
    baseline = copy_out(tables)
    started = time.perf_counter()
    options = [] if jobs is None else ["--jobs", str(jobs)]
    call_command("recompute", "--all", *options, stdout=open(os.devnull, "w"))  # noqa: SIM115
    seconds = time.perf_counter() - started
    n = models.Patient.objects.count()
    row(
        f"{label} vs COPY of its input tables",
        f"{seconds:.1f} s ({n / seconds:,.0f} patients/s)",
        f"{baseline:.2f} s",
        seconds / baseline,
    )


def recompute_again() -> None:
    """(`--reuse --only recompute`) Row 2 on a kept database: the derived rows emptied
    first, as after an import; then a second run over rows already right; then the
    first again in one process (`--jobs 1`)."""
    from django.db import connection

    from registry import models

    def empty() -> None:
        tables = [m._meta.db_table for m in (models.TimePointResponse, models.CourseOutcome)]
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(tables)}")
            cursor.execute(f"VACUUM ANALYZE {', '.join(tables)}")
        connection.close()  # --jobs forks: no connection is shared with the children

    empty()
    recompute_vs_copy()
    recompute_vs_copy(label="recompute --all again (nothing changed)")
    empty()
    recompute_vs_copy(jobs=1, label="recompute --all --jobs 1")


def engine_time() -> float:
    """One query for the cohort's TTP, then KM and the log-rank test by primary site."""
    import numpy as np

    from registry.clinical.survival import kaplan_meier, logrank
    from registry.models import CourseOutcome

    def work():
        rows = list(
            CourseOutcome.objects.filter(phase="salvage", round=1)
            .exclude(ttp_swog_months=None)
            .values_list("ttp_swog_months", "ttp_swog_event", "patient__primary_site")
        )
        months = np.array([r[0] for r in rows])
        events = np.array([r[1] for r in rows])
        kaplan_meier(months, events)
        logrank(months, events, [r[2] for r in rows])

    return best(work)


def pages(user) -> None:
    from django.core.cache import cache
    from django.test import Client
    from django.test.utils import override_settings

    engine = engine_time()
    client = Client()
    client.force_login(user)
    paths = {
        "/research/ dashboard": "/research/?phase=salvage&round=1",
        "/research/report/": "/research/report/?phase=salvage&round=1",
        "/api/v1/reports/cohort/": "/api/v1/reports/cohort/?phase=salvage&round=1",
        "/api/v1/analyses/survival/": "/api/v1/analyses/survival/?phase=salvage&round=1",
    }
    for label, path in paths.items():
        with override_settings(LUTETIA_RESULT_CACHE_SECONDS=0):
            computed = best(lambda p=path: client.get(p), repeat=2)
        with override_settings(LUTETIA_RESULT_CACHE_SECONDS=600):
            cache.clear()
            client.get(path)
            kept = best(lambda p=path: client.get(p))
        row(f"{label}: computed vs the engine", f"{computed:.3f} s", f"{engine:.3f} s",
            computed / engine)  # fmt: skip
        row(f"{label}: kept vs the engine", f"{kept:.3f} s", f"{engine:.3f} s", kept / engine)


def quickload(user) -> None:
    """The cold pages with `QuickLoad.from_db` against the same with Django's `from_db`."""
    from django.db.models import Model
    from django.test import Client
    from django.test.utils import override_settings

    from registry.models.base import QuickLoad

    quick = QuickLoad.__dict__["from_db"]
    django_path = classmethod(
        lambda cls, db, names, values: Model.from_db.__func__(cls, db, names, values)
    )
    client = Client()
    client.force_login(user)
    for label, path in (
        ("/research/ dashboard", "/research/?phase=salvage&round=1"),
        ("/research/report/", "/research/report/?phase=salvage&round=1"),
        ("/api/v1/reports/cohort/", "/api/v1/reports/cohort/?phase=salvage&round=1"),
    ):
        times = {}
        with override_settings(LUTETIA_RESULT_CACHE_SECONDS=0):
            for name, how in (("quick", quick), ("django", django_path)):
                QuickLoad.from_db = how
                times[name] = best(lambda p=path: client.get(p), repeat=2)
        QuickLoad.from_db = quick
        row(f"{label} computed: QuickLoad vs Django's from_db", f"{times['quick']:.2f} s",
            f"{times['django']:.2f} s", times["quick"] / times["django"])  # fmt: skip


def labs_list(user) -> None:
    from django.test import Client, RequestFactory
    from django.test.utils import override_settings
    from rest_framework.response import Response
    from rest_framework.test import force_authenticate
    from rest_framework.views import APIView

    from registry.models import LabResult

    total = LabResult.objects.count()
    offsets = [random.Random(i).randrange(0, max(1, total - 50)) for i in range(20)]

    class Bare(APIView):
        permission_classes: list = []
        throttle_classes: list = []

        def get(self, request):
            offset = int(request.query_params.get("offset", 0))
            rows = LabResult.objects.order_by("date", "analyte", "id").values()
            return Response(list(rows[offset : offset + 50]))

    factory, bare = RequestFactory(), Bare.as_view()
    client = Client()
    client.force_login(user)

    def ours():
        for offset in offsets:
            client.get(f"/api/v1/labs/?limit=50&offset={offset}")

    def baseline():
        for offset in offsets:
            request = factory.get(f"/bare/?offset={offset}")
            force_authenticate(request, user)
            bare(request).render()

    with override_settings(LUTETIA_RESULT_CACHE_SECONDS=600):
        ours()  # the counts kept, as after the first visit
        mine = best(ours)
    theirs = best(baseline)
    row(
        "/api/v1/labs/ pages vs a bare DRF view (req/s)",
        f"{len(offsets) / mine:.1f} req/s",
        f"{len(offsets) / theirs:.1f} req/s",
        (len(offsets) / mine) / (len(offsets) / theirs),
    )


def labs_csv(user) -> None:
    from django.db import connection

    from registry.research import exports
    from registry.research.filters import CohortFilter, ResearchFilter

    scope = exports.ExportScope(user, ResearchFilter(cohort=CohortFilter()))
    table = exports.TABLES["labs"]

    def ours():
        with open(os.devnull, "wb") as sink:
            for part in exports.stream_table_csv(table, scope):
                sink.write(part if isinstance(part, bytes) else part.encode())

    def baseline():
        sql = (
            "COPY (SELECT l.id, p.study_id, l.date, l.analyte, l.value, l.unit, "
            "l.canonical_value, l.lln, l.uln FROM registry_labresult l JOIN registry_patient p "
            "ON p.id = l.patient_id ORDER BY p.study_id, l.date, l.id) TO STDOUT CSV HEADER"
        )
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for _ in copy:
                pass

    mine, theirs = best(ours, repeat=1), best(baseline, repeat=2)
    row("labs CSV vs COPY … TO STDOUT CSV", f"{mine:.1f} s", f"{theirs:.2f} s", mine / theirs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=30000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="keep the database built before")
    parser.add_argument("--only", default="pages,labs_list,labs_csv")
    args = parser.parse_args()
    only = set(args.only.split(","))
    server = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
    broker = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/13")
    if problem := services_available(server, broker):
        print(problem)
        return 1
    import redis

    redis.Redis.from_url(broker).flushdb()
    url = (
        f"{server}/lutetia_bench_scale"
        if args.reuse
        else fresh_database(server, "lutetia_bench_scale")
    )
    env = {**os.environ, "DATABASE_URL": url, "CELERY_BROKER_URL": broker, "DEBUG": "1"}
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "registry.settings"
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]
    if not args.reuse:
        import_document(args.patients, args.seed, env)
        recompute_vs_copy()

    from django.contrib.auth import get_user_model

    from registry.models import Site, StaffProfile

    research, made = get_user_model().objects.get_or_create(username="bench-research")
    if made:
        research.set_password("x" * 16)
        research.save()
        profile = StaffProfile.objects.create(user=research, role="research")
        profile.sites.set(Site.objects.all())
    measures = (
        ("pages", pages),
        ("labs_list", labs_list),
        ("quickload", quickload),
        ("labs_csv", labs_csv),
    )
    if args.reuse and "recompute" in only:
        recompute_again()
    for name, measure in measures:
        if name in only:
            measure(research)

    print(f"\n{args.patients:,} patients, PostgreSQL, {os.cpu_count()} cores:\n")
    print("| measure | Lutetia | baseline | ratio |\n|---|---|---|---|")
    for measure, ours, baseline, ratio in ROWS:
        print(f"| {measure} | {ours} | {baseline} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
