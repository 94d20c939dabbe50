"""`python manage.py recompute [--all | --patient STUDY_ID] [--stale] [--jobs N]`

For operators after a change of rules or settings (e.g. the toxicity window):
recomputes synchronously, with a plain-text progress line. Patients go in
batches of LUTETIA_RECOMPUTE_BATCH_SIZE, as the workers take them: one read per
kind of fact and one write per derived table for each batch. `--jobs N` spreads
the batches over N processes (PostgreSQL; SQLite lets one process write).

Without `--jobs`, PostgreSQL gets one process per core this process may run on, at most
DEFAULT_MAX_JOBS (a choice: a bulk recompute after a change of rules is maintenance work
that should use the machine, while leaving a larger server's other cores to the web and
the workers), but never more processes than batches, and one when called inside a
transaction, whose uncommitted rows forked processes could not see.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator, Sequence

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, connections
from django.db.models import Q

from registry.derive.planner import analyze
from registry.derive.recompute import chunks, recompute_patients
from registry.models import CourseOutcome, Patient, PatientState, TimePointResponse

# Rewriting this many patients' derived rows refreshes the planner's statistics of them.
ANALYZE_AFTER_PATIENTS = 500


class Command(BaseCommand):
    help = "Recompute derived results (response, toxicity, endpoints) from the facts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="every patient")
        parser.add_argument(
            "--patient",
            action="append",
            default=[],
            metavar="STUDY_ID",
            help="this patient (repeatable)",
        )
        parser.add_argument(
            "--stale", action="store_true", help="only patients whose results are stale"
        )
        parser.add_argument(
            "--jobs",
            type=int,
            default=None,
            help=f"processes, on PostgreSQL (default: the cores, at most {DEFAULT_MAX_JOBS})",
        )

    def handle(
        self, *args, all: bool, patient: list[str], stale: bool, jobs: int | None, **options
    ) -> None:
        if not (all or patient or stale):
            raise CommandError("Say which patients: --all, --patient STUDY_ID or --stale.")
        if all and patient:
            raise CommandError("--all and --patient exclude each other.")
        if jobs is not None:
            check_jobs(jobs)
        patients = Patient.objects.order_by("pk")
        if patient:
            found = dict(patients.filter(study_id__in=patient).values_list("study_id", "pk"))
            unknown = [s for s in patient if s not in found]
            if unknown:
                raise CommandError(f"Unknown study ID(s): {', '.join(unknown)}")
            patients = patients.filter(pk__in=found.values())
        if stale:
            patients = patients.filter(Q(state__stale=True) | Q(state__isnull=True))
        ids = list(patients.values_list("pk", flat=True).distinct())
        self.run(ids, default_jobs() if jobs is None else jobs)

    def run(self, ids: list[int], jobs: int = 1) -> None:
        total, counts, failed = len(ids), {"done": 0, "superseded": 0, "missing": 0}, []
        jobs = max(1, min(jobs, -(-total // batch_size())))  # a process per batch at most
        started = time.monotonic()
        n = 0
        for batch, results in self.batches(ids, jobs):
            for patient_id, status in results.items():
                if status in STATUSES:
                    counts[status] = counts.get(status, 0) + 1
                else:
                    failed.append((patient_id, status))
            n += len(batch)
            self.progress(n, total, counts["done"], len(failed))
        if counts["done"] >= ANALYZE_AFTER_PATIENTS:
            analyze(CourseOutcome, TimePointResponse, PatientState)
        elapsed = time.monotonic() - started
        self.stdout.write("")
        self.stdout.write(
            f"Recomputed {counts['done']} of {total} patient(s) in {elapsed:.1f} s"
            f" with {jobs} process{'es' if jobs > 1 else ''}"
            f" ({counts['superseded']} changed meanwhile and are queued again,"
            f" {counts['missing']} deleted, {len(failed)} failed)."
        )
        if failed:
            for patient_id, error in failed[:20]:
                self.stderr.write(f"patient {patient_id}: {error}")
            raise CommandError(f"{len(failed)} patient(s) failed; they stay stale.")

    @staticmethod
    def batches(ids: list[int], jobs: int) -> Iterator[tuple[Sequence[int], dict[int, str]]]:
        """Each batch with its results, in this process or spread over `jobs` forked ones."""
        batches = chunks(ids, batch_size())
        if jobs == 1:
            yield from map(recompute_batch, batches)
            return
        connections.close_all()  # each process opens its own connection
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            yield from pool.imap_unordered(recompute_batch, batches)

    def progress(self, n: int, total: int, done: int, failed: int) -> None:
        width = 30
        filled = width * n // total if total else width
        bar = "#" * filled + "-" * (width - filled)
        self.stdout.write(f"\r[{bar}] {n}/{total} ({done} done, {failed} failed)", ending="")
        self.stdout.flush()


STATUSES = ("done", "superseded", "missing", "fresh")
DEFAULT_MAX_JOBS = 4


def check_jobs(jobs: int) -> None:
    if jobs < 1:
        raise CommandError("--jobs must be 1 or more.")
    if jobs > 1 and connection.vendor != "postgresql":
        raise CommandError("--jobs needs PostgreSQL: SQLite lets one process write at a time.")
    if jobs > 1 and connection.in_atomic_block:
        raise CommandError("--jobs needs its own transactions: call it outside atomic().")


def batch_size() -> int:
    return max(1, settings.LUTETIA_RECOMPUTE_BATCH_SIZE)


def default_jobs() -> int:
    """Processes when `--jobs` is not given (see the module's docstring)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return jobs_for(connection.vendor, connection.in_atomic_block, cores or 1)


def jobs_for(vendor: str, in_transaction: bool, cores: int) -> int:
    if vendor != "postgresql" or in_transaction:
        return 1
    return max(1, min(cores, DEFAULT_MAX_JOBS))


def recompute_batch(batch: Sequence[int]) -> tuple[Sequence[int], dict[int, str]]:
    """One batch's statuses, an error as its text (it may cross a process boundary)."""
    try:
        results = recompute_patients(batch, force=True)
    except Exception as exc:  # reading the batch failed
        results = dict.fromkeys(batch, exc)
    return batch, {
        pid: f"{type(r).__name__}: {r}" if isinstance(r, Exception) else r
        for pid, r in results.items()
    }
