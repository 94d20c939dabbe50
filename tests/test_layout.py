"""The house's rooms: layering checked by import-linter, module and function sizes,
package docstrings, tasks beside their domain, and a cohort read once per request."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from registry.interchange.demo import create_demo_cohort

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
DOMAINS = ("records", "interchange", "derive", "research")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 90  # "about 80": the few between 80 and 90 read in one screen


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    if not LINT_IMPORTS.exists():
        pytest.skip("import-linter is not installed (make setup installs it)")
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_layer_contracts_hold():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "contract"),
    [
        ("registry/models/sites.py", "from registry.research import report", "models import only"),
        ("registry/clinical/units.py", "import django", "clinical rules are plain Python"),
        ("registry/derive/recompute.py", "from registry.records import facts", "api > domains"),
        ("registry/research/report.py", "from registry.interchange import demo", "api > domains"),
        (
            "registry/research/cohort.py",
            "from registry.research.views import pages",
            "never import",
        ),
        ("registry/interchange/build.py", "from registry.interchange import documents", "cycles"),
    ],
)
def test_a_wrong_import_breaks_a_contract(tmp_path, module, wrong_import, contract):
    for part in ("registry", "api"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{wrong_import}  # noqa\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout


def _sources() -> list[Path]:
    return [
        path
        for package in ("registry", "api")
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def test_no_module_is_too_long_to_read_in_one_sitting():
    long = {
        str(p.relative_to(ROOT)): n
        for p in _sources()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_function_is_too_long():
    long = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.name}"] = length
    assert long == {}


@pytest.mark.parametrize("domain", DOMAINS)
def test_each_domain_package_says_what_it_owns(domain):
    doc = ast.get_docstring(ast.parse((ROOT / "registry" / domain / "__init__.py").read_text()))
    assert doc and len(doc) > 80


def test_tasks_live_beside_their_domain_and_keep_their_names():
    from registry.celery import app

    app.loader.import_default_modules()
    app.autodiscover_tasks(
        ["registry.derive", "registry.interchange", "registry.research"], force=True
    )
    where = {name: task.__module__ for name, task in app.tasks.items() if "celery." not in name}
    assert where == {
        "registry.tasks.recompute_patient": "registry.derive.tasks",
        "registry.tasks.recompute_patients": "registry.derive.tasks",
        "registry.tasks.sweep_stale_patients": "registry.derive.tasks",
        "api.tasks.run_import": "registry.interchange.tasks",
        "api.tasks.sweep_queued_imports": "registry.interchange.tasks",
        "registry.export_tasks.run_export": "registry.research.tasks",
        "registry.export_tasks.purge_expired_exports": "registry.research.tasks",
        "registry.export_tasks.sweep_queued_exports": "registry.research.tasks",
    }
    assert not list((ROOT / "api").glob("tasks.py"))


# --- A cohort read once: constant queries whatever its size --------------------

COHORT_PAGES = (
    ("research_report", ""),
    ("research_report", "?strata=ttp_regular&toxicity_window_days=30"),
    ("research_dashboard", ""),
    ("research_dashboard", "?strata=pancreas&endpoint=os"),
    ("research_dashboard", "?strata=primary_site&criteria=recist"),
    ("research_patients", "?drill=grade_platelets:1"),
    ("api-cohort-report", ""),
    ("api-cohort-report", "?toxicity_window_days=30&criteria=recist"),
    ("api-survival", "?strata=site"),
)


def _query_counts(client) -> dict[str, int]:
    counts = {}
    for name, query in COHORT_PAGES:
        url = reverse(name) + query
        client.get(url)  # warm per-process caches (content types, sessions)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200, url
        counts[url] = len(queries)
    return counts


@pytest.mark.django_db
def test_cohort_pages_run_the_same_queries_for_10_and_100_patients(
    admin_user, django_capture_on_commit_callbacks
):
    from registry.models import CourseOutcome

    client = Client()
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):  # derived rows are computed
        create_demo_cohort(10, seed=3, sites=("QA",))
    salvage = CourseOutcome.objects.filter(phase="salvage", round=1)
    assert 3 < salvage.count() <= 10
    small = _query_counts(client)
    with django_capture_on_commit_callbacks(execute=True):
        create_demo_cohort(90, seed=4, sites=("QB",))
    assert salvage.count() > 40
    large = _query_counts(client)
    assert large == small
    # And the numbers are few: the report reads the cohort's rows once (and, since the
    # lutetia-cohort/2 record, the cohort's late-toxicity events, prior treatments and
    # the custom-field definitions once each).
    assert max(small.values()) <= 14, small
