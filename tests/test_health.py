"""`/health/` for container probes (issue 17): no login, whatever the host and TLS settings."""

from __future__ import annotations

import time

import pytest
from django.test import Client, override_settings

from registry import health
from tests.services import need_redis

pytestmark = pytest.mark.django_db


def test_it_answers_without_a_login_and_names_its_checks():
    response = Client().get("/health/")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "in-process", "cache": "ok"},
    }
    assert response["Cache-Control"] == "no-store"


@override_settings(ALLOWED_HOSTS=["lutetia.hospital.example"], SECURE_SSL_REDIRECT=True)
def test_the_probe_gets_through_the_host_check_and_the_https_redirect():
    probe = Client(HTTP_HOST="127.0.0.1:8000")
    assert probe.get("/health/").status_code == 200
    assert probe.head("/health/").status_code == 200
    # Every other path still meets both.
    assert probe.get("/accounts/login/").status_code == 400
    with override_settings(ALLOWED_HOSTS=["127.0.0.1"]):
        assert probe.get("/accounts/login/").status_code == 301


def test_a_failing_check_is_a_503_naming_it_without_the_reason(monkeypatch):
    def down():
        raise OSError("connection refused by db.internal:5432 password=secret")

    monkeypatch.setattr(health, "_database", down)
    response = Client().get("/health/")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["database"] == "unavailable"
    assert (
        "secret" not in response.content.decode() and "db.internal" not in response.content.decode()
    )


def test_only_get_and_head_are_the_probe():
    response = Client().post("/health/")
    assert response.status_code in (302, 404)  # the ordinary pages' answer, not the probe's


def test_a_real_broker_is_checked():
    url = need_redis()
    with override_settings(CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL=url):
        assert health.run_checks()["broker"] == "ok"


def test_an_unreachable_broker_is_unavailable_within_seconds():
    started = time.monotonic()
    with override_settings(
        CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL="redis://127.0.0.1:9/0"
    ):
        assert health.run_checks()["broker"] == "unavailable"
    assert time.monotonic() - started < 3 * health.TIMEOUT_SECONDS
