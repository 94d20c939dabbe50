"""docker-compose.yml cannot run here (no Docker engine); parse it and check its shape."""

import re
import runpy
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
    for name in ("web", "worker", "beat", "migrate"):
        assert services[name]["env_file"] == [{"path": ".env", "required": True}], name
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


# Variables only tests and the WSGI entry point set.
INTERNAL = {"LUTETIA_TESTING", "LUTETIA_TEST_TASK_DELAY", "LUTETIA_WSGI", "DJANGO_SETTINGS_MODULE"}
READ = re.compile(
    r"(?:environ\.get|environ\[|env(?:int|float|bool|list|secret))\(?\s*\"([A-Z][A-Z0-9_]+)\""
)


def _variables_read() -> set[str]:
    names = set()
    for path in (ROOT / "registry" / "settings.py", ROOT / "gunicorn.conf.py"):
        names |= set(READ.findall(path.read_text()))
    return names - INTERNAL


def test_every_setting_is_listed_in_the_env_example():
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.M))
    assert len(_variables_read()) > 40  # the pattern still finds them
    assert _variables_read() - listed == set()
    compose = (ROOT / "docker-compose.yml").read_text()
    assert set(re.findall(r"\$\{([A-Z_]+)", compose)) <= listed
    assert "SECRET_KEY_FILE" in listed


def test_secrets_never_reach_git_or_the_image():
    for ignore in (".gitignore", ".dockerignore"):
        assert ".env" in (ROOT / ignore).read_text().splitlines(), ignore


def test_the_web_port_is_published_on_this_machine_only_by_default():
    web = load_compose()["services"]["web"]
    assert web["ports"] == [
        "${LUTETIA_PUBLISH_ADDRESS:-127.0.0.1}:${LUTETIA_PUBLISH_PORT:-8000}:8000"
    ]


def test_the_probe_calls_health_and_beat_keeps_its_schedule_on_a_volume():
    compose = load_compose()
    services = compose["services"]
    assert "http://127.0.0.1:8000/health/" in " ".join(services["web"]["healthcheck"]["test"])
    beat = services["beat"]
    schedule = beat["command"][beat["command"].index("--schedule") + 1]
    mounts = dict(volume.split(":") for volume in beat["volumes"])
    assert "beat" in compose["volumes"] and schedule.startswith(mounts["beat"] + "/")
    assert not schedule.startswith("/tmp")
    assert "/app/beat" in (ROOT / "Dockerfile").read_text()  # the image's user may write it


def test_gunicorn_takes_workers_and_timeouts_from_the_environment(monkeypatch):
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert (config["workers"], config["timeout"], config["bind"]) == (3, 120, "127.0.0.1:8000")
    monkeypatch.setenv("GUNICORN_WORKERS", "5")
    monkeypatch.setenv("GUNICORN_TIMEOUT", "300")
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert (config["workers"], config["timeout"]) == (5, 300)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "GUNICORN_BIND=0.0.0.0:8000" in dockerfile


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / lock).read_text()
    return {
        name.lower().replace("_", "-"): version
        for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M)
    }


def test_the_lock_files_pin_every_dependency_within_pyproject_ranges():
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for lock, requirements in (
        ("requirements.lock", project["dependencies"]),
        (
            "requirements-dev.lock",
            project["dependencies"] + project["optional-dependencies"]["dev"],
        ),
    ):
        pins = _pins(lock)
        for line in requirements:
            requirement = Requirement(line)
            name = requirement.name.lower().replace("_", "-")
            assert name in pins, f"{name} is not pinned in {lock}"
            assert requirement.specifier.contains(pins[name], prereleases=True), (lock, name)
    assert _pins("requirements.lock").items() <= _pins("requirements-dev.lock").items()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install -r requirements.lock" in dockerfile
    assert "pip install --no-deps ." in dockerfile
