from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import factories

# The project's own copies of the published reference numbers; tests/test_shared_copies.py
# is the one place that compares them (and the schemas) with the specification folder.
REFERENCE = Path(__file__).resolve().parent / "reference"


@pytest.fixture
def reference():
    def load(name: str):
        return json.loads((REFERENCE / name).read_text())

    return load


@pytest.fixture
def site(db):
    return factories.SiteFactory(code="ROT", name="Rotterdam")


@pytest.fixture
def other_site(db):
    return factories.SiteFactory(code="OTH", name="Elsewhere")


@pytest.fixture
def clinician(site):
    return factories.UserFactory(username="clin", role="clinician", sites=[site])


@pytest.fixture
def researcher(site):
    return factories.UserFactory(username="res", role="research", sites=[site])


@pytest.fixture
def other_clinician(other_site):
    return factories.UserFactory(username="clin2", role="clinician", sites=[other_site])


@pytest.fixture
def admin_user(db):
    return factories.UserFactory(username="boss", role="admin", sites=[])
