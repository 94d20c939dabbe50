"""docker-compose.yml cannot run here (no Docker engine); parse it and check its shape."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def load_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_production_services():
    services = load_compose()["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)


def test_app_services_run_the_right_commands():
    services = load_compose()["services"]
    assert services["web"]["command"][0] == "gunicorn"
    assert "registry.wsgi:application" in services["web"]["command"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "registry", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "registry", "beat"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]


def test_app_services_use_the_contract_environment():
    services = load_compose()["services"]
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379")
        assert env["DEBUG"] == "0"
        assert "SECRET_KEY" in env and "change-me" not in env["SECRET_KEY"]


def test_data_services_have_health_checks_and_volumes():
    compose = load_compose()
    services = compose["services"]
    for name in ("postgres", "redis", "web"):
        assert "healthcheck" in services[name], name
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert {"pgdata", "redisdata", "media"} <= set(compose["volumes"])
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_dockerfile_builds_the_package_and_serves_with_gunicorn():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11" in dockerfile
    assert "gunicorn" in dockerfile
    assert "collectstatic" in dockerfile
