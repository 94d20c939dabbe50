"""The shapes of CONTRACT.md ("REST API"), key by key."""

from __future__ import annotations

import pytest

from registry import models
from registry.derive.outcomes import TOXICITY_KEYS

pytestmark = pytest.mark.django_db

GRADES = {"0", "1", "2", "3", "4", "not_assessed"}


def test_pagination_shape(world, clin):
    body = clin.get("/api/v1/cycles/", {"limit": 1}).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 2 and len(body["results"]) == 1
    assert "offset=1" in body["next"] and body["previous"] is None


def test_error_shapes(world, clin):
    validation = clin.post("/api/v1/labs/", {"patient": world.mine.pk}, format="json")
    assert validation.status_code == 400
    assert all(isinstance(v, list) for v in validation.json().values())
    assert {"date", "analyte", "value", "unit"} <= set(validation.json())
    not_found = clin.get("/api/v1/labs/999999/")
    assert not_found.status_code == 404 and set(not_found.json()) == {"detail"}


def test_outcomes_shape(world, clin):
    body = clin.get(f"/api/v1/patients/{world.mine.pk}/outcomes/").json()
    assert {"study_id", "cumulative_activity_gbq", "stale", "courses"} <= set(body)
    assert body["study_id"] == "ROT-001" and body["stale"] is False
    assert body["cumulative_activity_gbq"] == 14.8
    (course,) = body["courses"]
    contract = {
        "phase", "round", "start", "cycles", "activity_gbq",
        "best_response", "worst_grade", "ttp", "pfs", "os",
    }  # fmt: skip
    assert contract <= set(course)
    assert (course["phase"], course["round"], course["start"]) == ("salvage", 1, "2005-06-01")
    assert (course["cycles"], course["activity_gbq"]) == (2, 14.8)
    assert set(course["best_response"]) == {"swog", "recist"}
    # The fixture's override (recist SD) is applied.
    assert course["best_response"]["recist"] == "SD" and course["overridden"] is True
    assert set(course["worst_grade"]) == set(TOXICITY_KEYS)
    assert course["worst_grade"]["platelets"] == 2  # 60 × 10^9/L
    for endpoint in ("ttp", "pfs", "os"):
        assert set(course[endpoint]) == {"months", "event"}
        assert isinstance(course[endpoint]["event"], bool)


def test_outcomes_say_when_they_are_stale(world, clin):
    models.PatientState.objects.filter(patient=world.mine).update(stale=True)
    assert clin.get(f"/api/v1/patients/{world.mine.pk}/outcomes/").json()["stale"] is True
    bad = clin.get(f"/api/v1/patients/{world.mine.pk}/outcomes/", {"criteria": "who"})
    assert bad.status_code == 400 and "criteria" in bad.json()


def test_cohort_report_shape(world, adm):
    body = adm.get("/api/v1/reports/cohort/", {"phase": "salvage"}).json()
    contract = {
        "phase", "criteria", "n_patients", "best_response", "toxicity", "ttp",
        "follow_up", "cumulative_activity_gbq", "intended_activity_reached",
    }  # fmt: skip
    assert contract <= set(body)
    assert (body["phase"], body["criteria"], body["n_patients"]) == ("salvage", "swog", 2)
    assert list(body["best_response"]) == ["CR", "PR", "MR", "SD", "PD", "NE"]
    assert sum(body["best_response"].values()) == 2
    assert set(body["toxicity"]) == set(TOXICITY_KEYS)
    for counts in body["toxicity"].values():
        assert set(counts) == GRADES and sum(counts.values()) == 2
    assert set(body["ttp"]) == {"n", "events", "median_months", "ci95"}
    assert len(body["ttp"]["ci95"]) == 2
    assert set(body["follow_up"]) == {"median_months", "min_months", "max_months", "reverse_km"}
    assert set(body["follow_up"]["reverse_km"]) == {"median_months", "ci95"}
    assert set(body["cumulative_activity_gbq"]) == {"median", "min", "max"}
    assert body["cumulative_activity_gbq"]["median"] == 14.8
    assert body["intended_activity_reached"] == 2


def test_cohort_report_with_recist_shows_mr_as_zero(world, adm):
    body = adm.get("/api/v1/reports/cohort/", {"criteria": "recist"}).json()
    assert body["criteria"] == "recist" and body["best_response"]["MR"] == 0


def test_survival_shape(world, adm):
    body = adm.get("/api/v1/analyses/survival/", {"endpoint": "ttp", "phase": "salvage"}).json()
    assert {"endpoint", "phase", "conf_type", "time_unit", "groups", "logrank"} <= set(body)
    assert (body["endpoint"], body["conf_type"], body["time_unit"]) == ("ttp", "log-log", "months")
    assert body["logrank"] is None
    (group,) = body["groups"]
    assert set(group) == {"label", "n", "events", "median", "median_ci95", "table"}
    assert group["label"] == "all" and group["n"] == 2
    row = group["table"][0]
    assert set(row) == {"time", "n_risk", "n_event", "n_censor", "survival", "ci_lower", "ci_upper"}
    stratified = adm.get("/api/v1/analyses/survival/", {"strata": "site"}).json()
    assert [g["label"] for g in stratified["groups"]] == ["OTH", "ROT"]
    assert set(stratified["logrank"]) == {"chi2", "df", "p"}


@pytest.mark.parametrize(
    ("url", "params", "name"),
    [
        ("/api/v1/reports/cohort/", {"phase": "first"}, "phase"),
        ("/api/v1/reports/cohort/", {"round": "two"}, "round"),
        ("/api/v1/reports/cohort/", {"round": "0"}, "round"),
        ("/api/v1/reports/cohort/", {"criteria": "who"}, "criteria"),
        ("/api/v1/reports/cohort/", {"primary_site": "pancreas,moon"}, "primary_site"),
        ("/api/v1/reports/cohort/", {"disease_control": "maybe"}, "disease_control"),
        ("/api/v1/reports/cohort/", {"toxicity_window_days": "-1"}, "toxicity_window_days"),
        ("/api/v1/reports/cohort/", {"strata": "sex"}, "strata"),  # analyses only
        ("/api/v1/reports/cohort/", {"primary-site": "pancreas"}, "primary-site"),
        ("/api/v1/analyses/survival/", {"endpoint": "dfs"}, "endpoint"),
        ("/api/v1/analyses/survival/", {"strata": "name"}, "strata"),
        ("/api/v1/analyses/survival/", {"conf_type": "arcsin"}, "conf_type"),
    ],
)
def test_bad_parameters_are_400s_naming_them(world, clin, url, params, name):
    response = clin.get(url, params)
    assert response.status_code == 400
    assert name in response.json()
