"""Sign-in doors (security review, findings 2, 3 and 5): lockout, forged addresses, tokens.

Each test fails on the code before the fix: 120 wrong passwords then the right
one used to work; a forged X-Forwarded-For used to reset the throttle; tokens
used to live for ever, survive a password change and a sign-out.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client, override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from registry.records import tokens
from tests import factories

pytestmark = pytest.mark.django_db

WRONG = "not-the-password"


@pytest.fixture(autouse=True)
def fresh_counters():
    from django.core.cache import cache

    cache.clear()


def _sign_in_page(client: Client, password: str, path: str = "/accounts/login/"):
    return client.post(path, {"username": "clin", "password": password})


def _token(client: APIClient, password: str, **extra):
    return client.post(
        "/api/v1/auth/token/", {"username": "clin", "password": password}, format="json", **extra
    )


# --- finding 3: lockout -------------------------------------------------------


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_the_sign_in_pages_lock_after_five_wrong_passwords(clinician, path):
    client = Client()
    for _ in range(4):
        assert _sign_in_page(client, WRONG, path).status_code == 200  # the form again
    assert _sign_in_page(client, WRONG, path).status_code == 429  # the fifth locks
    locked = _sign_in_page(client, factories.PASSWORD, path)
    assert locked.status_code == 429
    assert b"Sign-in locked" in locked.content
    assert "_auth_user_id" not in client.session


def test_fewer_wrong_passwords_than_the_limit_do_not_lock(clinician):
    client = Client()
    for _ in range(4):
        _sign_in_page(client, WRONG)
    assert _sign_in_page(client, factories.PASSWORD).status_code == 302
    assert client.session["_auth_user_id"] == str(clinician.pk)


def test_the_token_endpoint_counts_towards_the_same_lockout(clinician):
    client = APIClient()
    for _ in range(3):
        assert _token(client, WRONG).status_code == 400
    for _ in range(2):
        _sign_in_page(Client(), WRONG)
    answer = _token(client, factories.PASSWORD)
    assert answer.status_code == 429 and "token" not in answer.content.decode()


def test_the_lockout_is_per_address_so_a_guesser_cannot_lock_out_a_colleague(clinician):
    guesser = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(6):
        _sign_in_page(guesser, WRONG)
    assert _sign_in_page(guesser, factories.PASSWORD).status_code == 429
    colleague = Client(REMOTE_ADDR="10.0.0.7")
    assert _sign_in_page(colleague, factories.PASSWORD).status_code == 302


def test_the_documented_unlock_works(clinician):
    from django.core.management import call_command

    client = Client()
    for _ in range(5):
        _sign_in_page(client, WRONG)
    assert _sign_in_page(client, factories.PASSWORD).status_code == 429
    call_command("axes_reset_username", "clin")
    assert _sign_in_page(client, factories.PASSWORD).status_code == 302


def test_a_forged_forwarded_for_does_not_escape_the_lockout(clinician):
    client = Client()
    for n in range(6):
        _sign_in_page(client, WRONG) if n % 2 else client.post(
            "/accounts/login/",
            {"username": "clin", "password": WRONG},
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        )
    assert _sign_in_page(client, factories.PASSWORD).status_code == 429


@override_settings(NUM_PROXIES=1)
def test_behind_one_proxy_the_address_it_appends_is_the_client(clinician):
    def from_client(address: str, claimed: str = "1.2.3.4"):
        return Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"{claimed}, {address}")

    for n in range(5):
        _sign_in_page(from_client("203.0.113.9", claimed=f"1.2.3.{n}"), WRONG)
    assert _sign_in_page(from_client("203.0.113.9"), factories.PASSWORD).status_code == 429
    assert _sign_in_page(from_client("198.51.100.4"), factories.PASSWORD).status_code == 302


# --- finding 2: the throttle and X-Forwarded-For ------------------------------


def test_a_forged_forwarded_for_does_not_reset_the_token_throttle(clinician, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "3/minute", "user": None})
    client = APIClient()
    answers = [
        _token(client, WRONG, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(4)
    ]
    assert answers == [400, 400, 400, 429]


def _served_cache(**env: str) -> str:
    """The cache backend a served process (not a test) configures from `env`."""
    import json
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "LUTETIA_TESTING"}}
    for name in ("CACHE_URL", "CELERY_BROKER_URL"):
        clean.pop(name, None)
    code = (
        "import json, django; from django.conf import settings; django.setup();"
        "print(json.dumps(settings.CACHES['default']))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "DJANGO_SETTINGS_MODULE": "registry.settings", **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def test_served_processes_count_in_a_shared_cache_never_in_their_own_memory():
    database = _served_cache()
    assert database == {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "lutetia_cache",
    }
    broker = _served_cache(CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
    assert broker["BACKEND"].endswith("RedisCache")
    assert broker["LOCATION"] == "redis://127.0.0.1:6379/0"
    explicit = _served_cache(CACHE_URL="redis://cache:6379/2", CELERY_BROKER_URL="amqp://x")
    assert explicit["LOCATION"] == "redis://cache:6379/2"


def test_the_cache_table_exists_after_migrate():
    from django.db import connection

    assert "lutetia_cache" in connection.introspection.table_names()


# --- finding 5: tokens ----------------------------------------------------------


def test_a_sign_in_issues_a_new_token_and_the_old_one_stops_working(clinician):
    client = APIClient()
    first = _token(client, factories.PASSWORD)
    second = _token(client, factories.PASSWORD)
    assert first.status_code == second.status_code == 200
    assert set(first.json()) == {"token"}
    assert first.json()["token"] != second.json()["token"]
    expires = dt.datetime.fromisoformat(second["X-Token-Expires"])
    assert dt.timedelta(hours=23) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=24)

    old = APIClient(HTTP_AUTHORIZATION=f"Token {first.json()['token']}")
    new = APIClient(HTTP_AUTHORIZATION=f"Token {second.json()['token']}")
    assert old.get("/api/v1/patients/").status_code == 401
    assert new.get("/api/v1/patients/").status_code == 200


def test_an_expired_token_is_refused_and_removed(clinician):
    token = tokens.issue_token(clinician)
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/patients/").status_code == 200
    Token.objects.filter(pk=token.pk).update(created=token.created - dt.timedelta(hours=24))
    answer = client.get("/api/v1/patients/")
    assert answer.status_code == 401 and "expired" in answer.json()["detail"]
    assert not Token.objects.filter(user=clinician).exists()


@override_settings(LUTETIA_TOKEN_HOURS=2)
def test_the_lifetime_is_a_setting(clinician):
    token = tokens.issue_token(clinician)
    Token.objects.filter(pk=token.pk).update(
        created=token.created - dt.timedelta(hours=2, seconds=1)
    )
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/patients/").status_code == 401


def test_a_password_change_revokes_the_token(clinician):
    token = tokens.issue_token(clinician)
    browser = Client()
    browser.force_login(clinician)
    changed = browser.post(
        "/accounts/password/",
        {
            "old_password": factories.PASSWORD,
            "new_password1": "a-new-long-passphrase-7",
            "new_password2": "a-new-long-passphrase-7",
        },
    )
    assert changed.status_code == 302
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/patients/").status_code == 401


def test_a_last_login_update_or_hash_upgrade_does_not_revoke(clinician):
    token = tokens.issue_token(clinician)
    clinician.save(update_fields=["last_login"])
    clinician.first_name = "Anna"
    clinician.save()
    assert Token.objects.filter(pk=token.pk).exists()


def test_signing_out_of_the_browser_revokes_the_token(clinician):
    token = tokens.issue_token(clinician)
    browser = Client()
    browser.force_login(clinician)
    assert browser.post("/accounts/logout/").status_code == 302
    assert not Token.objects.filter(pk=token.pk).exists()


def test_the_revoke_endpoint_needs_a_sign_in_and_revokes_the_callers_token(
    clinician, other_clinician
):
    mine = tokens.issue_token(clinician)
    theirs = tokens.issue_token(other_clinician)
    assert APIClient().post("/api/v1/auth/token/revoke/").status_code == 401
    client = APIClient(HTTP_AUTHORIZATION=f"Token {mine.key}")
    assert client.post("/api/v1/auth/token/revoke/").status_code == 204
    assert client.get("/api/v1/patients/").status_code == 401
    assert Token.objects.filter(pk=theirs.pk).exists()


def test_the_account_page_shows_the_expiry_and_revokes(clinician):
    token = tokens.issue_token(clinician)
    browser = Client()
    assert browser.get("/accounts/token/").status_code == 302  # to the sign-in page
    browser.force_login(clinician)
    page = browser.get("/accounts/token/")
    assert page.status_code == 200 and b"Expires" in page.content
    assert token.key.encode() not in page.content  # the key itself is never shown again
    revoked = browser.post("/accounts/token/", follow=True)
    assert b"revoked" in revoked.content
    assert not Token.objects.filter(pk=token.pk).exists()
