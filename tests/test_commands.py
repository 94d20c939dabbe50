"""The management commands of CONTRACT.md, driven through call_command."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from registry import models as m
from registry.interchange.documents import import_document
from tests import factories

pytestmark = pytest.mark.django_db


def run(*args, stdin: str | None = None, monkeypatch=None) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- import_cohort / export_cohort -------------------------------------------------


def test_import_prints_the_counts_then_unchanged(tmp_path, reference):
    path = tmp_path / "cohort.json"
    path.write_text(json.dumps(reference("example_cohort.json")))
    out, _ = run("import_cohort", str(path))
    assert "2 created, 0 updated, 0 unchanged" in out
    out, _ = run("import_cohort", str(path))
    assert "0 created, 0 updated, 2 unchanged" in out


def test_import_from_stdin(reference, monkeypatch):
    out, _ = run(
        "import_cohort",
        "-",
        stdin=json.dumps(reference("example_cohort.json")),
        monkeypatch=monkeypatch,
    )
    assert "2 created" in out


def test_import_errors_are_listed_with_paths_and_exit_code_1(tmp_path, reference):
    doc = reference("example_cohort.json")
    doc["patients"][0]["labs"][0]["unit"] = "bananas"
    doc["patients"][1]["sex"] = "Q"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("import_cohort", str(path), stderr=err)
    assert caught.value.returncode == 1
    assert "patients[0].labs[0].unit" in err.getvalue()
    assert "patients[1].sex" in err.getvalue()
    assert not m.Patient.objects.exists()


@pytest.mark.parametrize("content", [None, "{not json", "\xff"])
def test_import_of_an_unreadable_file_is_a_clear_error(tmp_path, content):
    path = tmp_path / "x.json"
    if content == "\xff":
        path.write_bytes(b"\xff\xfe{")
    elif content is not None:
        path.write_text(content)
    with pytest.raises(CommandError):
        call_command("import_cohort", str(path))


def test_export_to_stdout_and_file(tmp_path, reference):
    import_document(reference("example_cohort.json"))
    out, _ = run("export_cohort")
    doc = json.loads(out)
    assert [p["study_id"] for p in doc["patients"]] == ["EX-001", "EX-002"]
    assert doc["patients"][0]["name"] == "Anna Example"

    target = tmp_path / "out.json"
    run("export_cohort", "--deidentified", "-o", str(target))
    written = json.loads(target.read_text())
    assert written["patients"][0]["name"] is None
    assert written["patients"][0]["birth_date"] is None


def test_export_of_one_site_and_an_unknown_site(reference):
    import_document(reference("example_cohort.json"))
    factories.PatientFactory(study_id="OTHER-1", site=factories.SiteFactory(code="OTH"))
    out, _ = run("export_cohort", "--site", "OTH")
    assert [p["study_id"] for p in json.loads(out)["patients"]] == ["OTHER-1"]
    with pytest.raises(CommandError, match="NOPE"):
        run("export_cohort", "--site", "NOPE")


# --- create_user ----------------------------------------------------------------


def test_create_user_with_sites_then_update(monkeypatch):
    factories.SiteFactory(code="ROT")
    factories.SiteFactory(code="GRO")
    monkeypatch.setenv("LUTETIA_PASSWORD", "a-long-secret-9")
    out, _ = run("create_user", "nurse", "--role", "clinician", "--site", "ROT", "--site", "GRO")
    assert "Created nurse" in out
    user = get_user_model().objects.get(username="nurse")
    assert user.check_password("a-long-secret-9") and not user.is_staff
    assert user.staff_profile.role == "clinician"
    assert set(user.staff_profile.sites.values_list("code", flat=True)) == {"ROT", "GRO"}

    out, _ = run("create_user", "nurse", "--role", "research", "--site", "GRO")
    assert "Updated nurse" in out
    user.refresh_from_db()
    assert user.staff_profile.role == "research"
    assert list(user.staff_profile.sites.values_list("code", flat=True)) == ["GRO"]


def test_admin_needs_no_site_and_may_use_django_admin(monkeypatch):
    monkeypatch.setenv("LUTETIA_PASSWORD", "a-long-secret-9")
    run("create_user", "chief", "--role", "admin")
    user = get_user_model().objects.get(username="chief")
    assert user.is_staff and user.is_superuser and user.staff_profile.role == "admin"


def test_unknown_site_and_missing_site_are_clear_errors(monkeypatch):
    monkeypatch.setenv("LUTETIA_PASSWORD", "a-long-secret-9")
    with pytest.raises(CommandError, match=r"Unknown site code.*XYZ"):
        run("create_user", "nurse", "--role", "clinician", "--site", "XYZ")
    with pytest.raises(CommandError, match="at least one"):
        run("create_user", "nurse", "--role", "research")
    assert not get_user_model().objects.filter(username="nurse").exists()


def test_password_is_asked_when_not_in_the_environment(monkeypatch):
    factories.SiteFactory(code="ROT")
    monkeypatch.delenv("LUTETIA_PASSWORD", raising=False)
    answers = iter(["typed-secret-42", "typed-secret-42"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    run("create_user", "doc", "--role", "clinician", "--site", "ROT")
    assert get_user_model().objects.get(username="doc").check_password("typed-secret-42")


def test_weak_password_is_refused(monkeypatch):
    monkeypatch.setenv("LUTETIA_PASSWORD", "123")
    with pytest.raises(CommandError, match="too short"):
        run("create_user", "chief", "--role", "admin")


# --- demo_users -----------------------------------------------------------------


def test_demo_users_refuse_without_debug_or_password(monkeypatch, settings):
    settings.DEBUG = False
    monkeypatch.delenv("LUTETIA_DEMO_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="LUTETIA_DEMO_PASSWORD"):
        run("demo_users")
    assert not get_user_model().objects.exists()


def test_demo_users_with_debug_use_the_default_password_and_are_idempotent(monkeypatch, settings):
    settings.DEBUG = True
    monkeypatch.delenv("LUTETIA_DEMO_PASSWORD", raising=False)
    out, _ = run("demo_users")
    run("demo_users")
    assert "lutetia-demo" in out
    users = {u.username: u for u in get_user_model().objects.all()}
    assert set(users) == {"clinician", "research", "monitor", "admin"}
    for user in users.values():
        assert user.check_password("lutetia-demo")
    assert users["admin"].is_staff and users["admin"].staff_profile.role == "admin"
    research_sites = set(users["research"].staff_profile.sites.values_list("code", flat=True))
    assert research_sites == {"ROT", "GRO"}


def test_demo_users_take_the_given_password_without_debug(monkeypatch, settings):
    settings.DEBUG = False
    monkeypatch.setenv("LUTETIA_DEMO_PASSWORD", "given-demo-pass-7")
    out, _ = run("demo_users")
    assert "given-demo-pass-7" not in out
    assert get_user_model().objects.get(username="clinician").check_password("given-demo-pass-7")
