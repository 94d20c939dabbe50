"""What the schema calls valid is accepted, what it calls invalid is a 400 (finding 13)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "query",
    [
        "offset=null",
        "offset=-1",
        "offset=1.5",
        "limit=0",
        "limit=abc",
        "limit=5&limit=6",
        "date_before=",
        "date_after=yesterday",
    ],
)
def test_malformed_paging_and_dates_are_400_naming_the_parameter(clin, query):
    answer = clin.get(f"/api/v1/labs/?{query}")
    assert answer.status_code == 400
    assert query.split("=")[0] in answer.json()


@pytest.mark.parametrize("query", ["offset=0", "offset=3", "limit=1", "date_before=2020-01-01"])
def test_the_documented_values_are_fine(clin, query):
    assert clin.get(f"/api/v1/labs/?{query}").status_code == 200


def test_patient_diagnosis_dates_filter_and_refuse_empty(clin):
    assert clin.get("/api/v1/patients/?diagnosis_date_after=2000-01-01").status_code == 200
    assert clin.get("/api/v1/patients/?diagnosis_date_before=").status_code == 400


@pytest.fixture
def schema(tmp_path):
    out = tmp_path / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(out))
    return json.loads(out.read_text())


def _parameter(schema: dict, path: str, name: str) -> dict:
    for parameter in schema["paths"][path]["get"]["parameters"]:
        if parameter["name"] == name:
            return parameter["schema"]
    raise KeyError(name)


def test_the_schema_states_the_bounds_the_api_enforces(schema, clin):
    survival = "/api/v1/analyses/survival/"
    assert _parameter(schema, survival, "round") == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
    }
    assert _parameter(schema, survival, "toxicity_window_days")["minimum"] == 0
    assert _parameter(schema, survival, "rmst_tau")["minimum"] > 0
    assert _parameter(schema, "/api/v1/labs/", "offset")["minimum"] == 0
    # Ids are whole numbers in the schema, as the filters read them.
    assert _parameter(schema, "/api/v1/cycles/", "course")["type"] == "integer"
    assert clin.get(survival, {"round": 0}).status_code == 400
    assert clin.get(survival, {"round": 1}).status_code == 200


def test_every_write_documents_412(schema):
    for path, operations in schema["paths"].items():
        for method in ("put", "patch", "delete"):
            if method in operations:
                assert "412" in operations[method]["responses"], (method, path)
