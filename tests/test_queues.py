"""One patient's recompute goes to the interactive queue; batches to the default (issue 17)."""

from __future__ import annotations

from pathlib import Path

import yaml

from registry.celery import app, route

ROOT = Path(__file__).resolve().parents[1]


def test_one_patient_is_interactive_and_a_batch_is_not():
    assert route("registry.tasks.recompute_patient", (1,), {}, {}) == {
        "queue": f"{app.conf.task_default_queue}.interactive"
    }
    assert route("registry.tasks.recompute_patients", ([1, 2],), {}, {}) is None
    assert route("api.tasks.run_import", (1,), {}, {}) is None


def test_a_worker_started_without_q_consumes_both_interactive_first():
    names = [q.name for q in app.conf.task_queues]
    assert names == ["celery.interactive", "celery"]
    assert app.conf.broker_transport_options["queue_order_strategy"] == "priority"


def test_compose_gives_the_interactive_queue_its_own_worker():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    command = services["worker-interactive"]["command"]
    assert command[command.index("-Q") + 1] == "celery.interactive"
    assert "-Q" not in services["worker"]["command"]  # both queues, interactive first
