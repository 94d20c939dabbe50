"""Real Celery workers for tests: subprocesses on a real Redis broker and the test database.

Each worker runs `celery -A registry worker --pool=solo` in its own process
group, on a queue unique to the test, so parallel test runs (pytest-xdist,
two checkouts on one Redis) never take each other's messages. `stop()` always
ends the whole group, also when a test fails half-way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

from django.db import connection
from kombu import pools as kombu_pools

from registry.celery import app

ROOT = Path(__file__).resolve().parents[1]
CELERY = ROOT / ".venv" / "bin" / "celery"
READY_TIMEOUT = 60


def unique_queue() -> str:
    return f"lutetia-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def worker_database_url() -> str:
    """The URL of the database this test runs on (the test database, not the dev one)."""
    db = connection.settings_dict
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}{port}/{db['NAME']}"


class Worker:
    """One `celery worker` subprocess; its output goes to a log file the tests read."""

    def __init__(
        self,
        *,
        broker_url: str,
        queue: str,
        log_path: Path,
        env: dict[str, str],
        extra_args: tuple[str, ...] = (),
        queues: tuple[str, ...] | None = None,
    ):
        self.log_path = log_path
        # Both of the test's queues, interactive first, as `celery worker` without -Q does.
        queues = queues or (f"{queue}.interactive", queue)
        self.name = f"w{uuid.uuid4().hex[:6]}"
        full_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "registry.settings",
            "LUTETIA_TESTING": "1",
            "DATABASE_URL": worker_database_url(),
            "CELERY_BROKER_URL": broker_url,
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                str(CELERY),
                "-A",
                "registry",
                "worker",
                "--pool=solo",
                "-Q",
                ",".join(queues),
                "-n",
                f"{self.name}@%h",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=INFO",
                *extra_args,
            ],
            cwd=ROOT,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as a whole
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        if not wait_for(
            lambda: " ready." in self.log() or self.process.poll() is not None, timeout
        ):
            raise AssertionError(f"worker not ready after {timeout} s:\n{self.tail()}")
        if self.process.poll() is not None:
            raise AssertionError(f"worker exited ({self.process.returncode}):\n{self.tail()}")

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL the worker's whole process group: no clean shutdown, no ack."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def _reset_publisher() -> None:
    """Forget cached connections, queues and routes so the new configuration applies."""
    kombu_pools.reset()  # closes the pooled connections and forgets them
    app._pool = None
    amqp = app.amqp
    amqp._producer_pool = None
    amqp._rtable = None
    for cached in ("queues", "default_queue", "router"):
        amqp.__dict__.pop(cached, None)


@contextlib.contextmanager
def publishing_to(broker_url: str, queue: str) -> Iterator[None]:
    """Make this (test) process send tasks to `broker_url` instead of running them eagerly."""
    conf = app.conf
    saved = (conf.broker_url, conf.task_always_eager, conf.task_default_queue)
    conf.broker_url, conf.task_always_eager, conf.task_default_queue = broker_url, False, queue
    _reset_publisher()
    try:
        yield
    finally:
        conf.broker_url, conf.task_always_eager, conf.task_default_queue = saved
        _reset_publisher()


def delete_queue(broker_url: str, queue: str) -> None:
    import redis

    client = redis.Redis.from_url(broker_url)
    try:
        for name in (queue, f"{queue}.interactive"):
            client.delete(name, *(f"{name}\x06\x16{p}" for p in range(10)))
    finally:
        client.close()
