"""Settings come from the environment (CONTRACT.md, "Running it")."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from registry.settings import envbool, envint, envlist, envsecret

ROOT = Path(__file__).resolve().parents[1]


def settings_in_subprocess(env: dict[str, str], expression: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "LUTETIA_TESTING"))}
    for key in ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"):
        clean.pop(key, None)
    clean.update(env)
    code = f"import registry.settings as s; print({expression})"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True
    )


def test_typed_helpers(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "42")
    monkeypatch.setenv("X_LIST", "a.example, b.example,")
    assert envbool("X_BOOL", False) is True
    assert envbool("X_MISSING", True) is True
    assert envint("X_INT", 0) == 42
    assert envlist("X_LIST", []) == ["a.example", "b.example"]


def test_secret_from_file(monkeypatch, tmp_path):
    secret = tmp_path / "key"
    secret.write_text("s3cret\n")
    monkeypatch.delenv("X_SECRET", raising=False)
    monkeypatch.setenv("X_SECRET_FILE", str(secret))
    assert envsecret("X_SECRET") == "s3cret"


def test_secret_key_required_to_serve_when_debug_is_off():
    result = settings_in_subprocess({"DEBUG": "0", "LUTETIA_WSGI": "1"}, "s.SECRET_KEY")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_wsgi_entry_point_refuses_to_serve_without_secret_key():
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    for key in ("SECRET_KEY", "DEBUG", "LUTETIA_TESTING"):
        clean.pop(key, None)
    result = subprocess.run(
        [sys.executable, "-c", "import registry.wsgi"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_management_commands_run_without_secret_key():
    # CONTRACT.md: `python manage.py migrate` then createsuperuser, on a fresh install.
    result = settings_in_subprocess({"DEBUG": "0"}, "len(s.SECRET_KEY) >= 50, s.DEBUG")
    assert result.stdout.strip() == "True False", result.stderr


def test_embedded_defaults_sqlite_and_eager_tasks():
    result = settings_in_subprocess(
        {"DEBUG": "1"},
        "s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER",
    )
    assert result.returncode == 0, result.stderr
    assert "sqlite3" in result.stdout and "True" in result.stdout


@pytest.mark.parametrize(
    ("url", "engine"),
    [
        ("postgres://u:p@db.example:5432/lut", "django.db.backends.postgresql"),
        ("sqlite:////tmp/x.sqlite3", "django.db.backends.sqlite3"),
    ],
)
def test_database_url(url, engine):
    result = settings_in_subprocess(
        {"DEBUG": "1", "DATABASE_URL": url}, "s.DATABASES['default']['ENGINE']"
    )
    assert result.stdout.strip() == engine, result.stderr


def test_broker_turns_eager_mode_off():
    result = settings_in_subprocess(
        {"SECRET_KEY": "x" * 50, "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"},
        "s.CELERY_TASK_ALWAYS_EAGER, s.DEBUG",
    )
    assert result.stdout.strip() == "False False", result.stderr


def test_https_behind_a_proxy_is_opt_in():
    env = {"SECRET_KEY": "k3-" + "".join(chr(97 + i % 26) for i in range(60))}
    expression = "getattr(s, 'SECURE_PROXY_SSL_HEADER', None), s.SECURE_SSL_REDIRECT, "
    expression += "s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE"
    off = settings_in_subprocess(env, expression)
    assert off.stdout.strip() == "None False 0 True", off.stderr
    on = settings_in_subprocess(
        {**env, "BEHIND_TLS_PROXY": "1", "SECURE_SSL_REDIRECT": "1", "SECURE_HSTS_SECONDS": "3600"},
        expression,
    )
    assert on.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https') True 3600 True", on.stderr
    deploy = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env={
            # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE here; a server never has it.
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("PYTEST", "LUTETIA_T", "DJANGO_ALLOW_ASYNC"))
            },
            **env,
            "DEBUG": "0",
            "BEHIND_TLS_PROXY": "1",
            "SECURE_SSL_REDIRECT": "1",
            "SECURE_HSTS_SECONDS": "3600",
        },
        capture_output=True,
        text=True,
    )
    # Django's deployment checks pass but for the two HSTS choices left to the operator.
    warned = set(re.findall(r"\((security\.W\d+)\)", deploy.stdout + deploy.stderr))
    assert deploy.returncode == 0 and warned <= {"security.W005", "security.W021"}, deploy.stderr
