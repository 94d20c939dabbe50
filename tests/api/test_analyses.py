"""The analyses a statistician signs: full precision, fixed times, RMST, Cox, competing
risks, follow-up, and the refusals (CONTRACT.md "Survival analysis", "Cox regression",
"Cumulative incidence", "Follow-up")."""

from __future__ import annotations

import math

import pytest
from django.contrib.auth import get_user_model

from registry.clinical import survival
from registry.clinical.competing import aalen_johansen
from registry.interchange.demo import create_demo_cohort
from registry.research.analyses import survival_analysis
from registry.research.cohort import Cohort
from registry.research.cox import cox_analysis
from registry.research.filters import CohortFilter
from registry.research.incidence import competing_events, cumulative_incidence
from registry.research.report import cohort_report
from tests.api.conftest import client_for

# One xdist worker for the module, so its cohort (demo_cohort below) is built once.
pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("analyses")]


@pytest.fixture(scope="module")
def demo_cohort(django_db_setup, django_db_blocker):
    """The 80-patient cohort, built once for the module (it took 4-5 s for each test).

    Written outside the tests' transactions (so the recompute runs as each save
    commits) and flushed afterwards, as a transactional test would be, so no
    other module sees it.
    """
    from django.core.management import call_command

    with django_db_blocker.unblock():
        create_demo_cohort(80, seed=5, sites=("ROT", "GRO"))
        yield
        call_command("flush", interactive=False, verbosity=0)


@pytest.fixture
def demo(demo_cohort, admin_user):
    return client_for(admin_user)


def get(client, url: str, **params) -> dict:
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    return response.json()


def floats(value, path="$"):
    """Every float in a JSON value, with its path."""
    if isinstance(value, float):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from floats(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from floats(v, f"{path}[{i}]")


ENDPOINTS = [
    ("/api/v1/reports/cohort/", {}, cohort_report),
    (
        "/api/v1/analyses/survival/",
        {"strata": "primary_site", "times": "6,12,24", "rmst_tau": "24"},
        survival_analysis,
    ),
    ("/api/v1/analyses/survival/", {"strata": "ttp_regular", "endpoint": "os"}, survival_analysis),
    (
        "/api/v1/analyses/cumulative-incidence/",
        {"strata": "pancreas", "times": "12,24"},
        cumulative_incidence,
    ),
    (
        "/api/v1/analyses/cox/",
        {"covariates": "age,sex,ttp_regular_months", "ties": "breslow"},
        None,
    ),
]


@pytest.mark.parametrize(("url", "params", "engine"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_no_number_is_rounded(demo, admin_user, url, params, engine):
    """The API's numbers are the engine's, bit for bit: JSON carries them exactly."""
    body = get(demo, url, **params)
    cohort = Cohort(admin_user, CohortFilter.from_params(params, allowed=frozenset(params) | {"x"}))
    if engine is None:
        covariates = params["covariates"].split(",")
        expected = cox_analysis(cohort, covariates=covariates, ties=params["ties"])
    else:
        expected = engine(cohort)
    assert body == expected
    # And they are not secretly rounded upstream: most floats carry many digits.
    digits = [v for _, v in floats(body) if v not in (0.0, 1.0) and v == v]
    long = [v for v in digits if len(repr(v).split(".")[-1].split("e")[0]) > 5]
    assert len(long) > len(digits) / 2


def test_survival_at_times_and_rmst_are_the_engines(demo, admin_user):
    body = get(demo, "/api/v1/analyses/survival/", times="0,6,12,24,600", rmst_tau="24")
    group = body["groups"][0]
    rows = [r for r in Cohort(admin_user, CohortFilter()).rows if r.ttp_swog_months is not None]
    km = survival.kaplan_meier([r.ttp_swog_months for r in rows], [r.ttp_swog_event for r in rows])
    assert group["at_times"] == [
        a._asdict() for a in survival.survival_at_times(km, [0, 6, 12, 24, 600])
    ]
    assert group["at_times"][0]["survival"] == 1.0 and group["at_times"][-1]["n_risk"] == 0
    assert group["rmst"] == survival.restricted_mean(km, 24)._asdict()
    assert 0 < group["rmst"]["estimate"] <= 24 and group["rmst"]["se"] > 0


def test_ttp_regular_strata_show_every_group_and_compare_short_with_long(demo):
    body = get(demo, "/api/v1/analyses/survival/", strata="ttp_regular")
    labels = [g["label"] for g in body["groups"]]
    assert labels[:3] == ["short", "long", "unclassified"]
    assert set(labels) <= {"short", "long", "unclassified", "unknown"}
    assert (
        sum(g["n"] for g in body["groups"])
        == get(demo, "/api/v1/analyses/survival/")["groups"][0]["n"]
    )
    assert body["logrank"]["df"] <= 1  # short vs long only
    narrower = get(
        demo, "/api/v1/analyses/survival/", strata="ttp_regular", ttp_regular_cutoff_months="200"
    )
    assert [g["n"] for g in narrower["groups"]] != [g["n"] for g in body["groups"]]
    pancreas = get(demo, "/api/v1/analyses/survival/", strata="pancreas")
    assert [g["label"] for g in pancreas["groups"]] == ["pancreas", "other"]


def test_cox_shape_and_references(demo):
    body = get(
        demo,
        "/api/v1/analyses/cox/",
        covariates="age,sex,primary_site",
        reference="primary_site:midgut",
    )
    assert set(body) >= {
        "endpoint",
        "phase",
        "ties",
        "n",
        "events",
        "excluded_missing",
        "terms",
        "tests",
        "concordance",
    }
    assert body["ties"] == "efron" and body["endpoint"] == "ttp"
    terms = {t["term"]: t for t in body["terms"]}
    assert terms["age"]["level"] is None and terms["age"]["reference"] is None
    assert terms["sex=M"] | {} and terms["sex=M"]["reference"] == "F"
    sites = [t for t in body["terms"] if t["covariate"] == "primary_site"]
    assert sites and all(t["reference"] == "midgut" for t in sites)
    for t in body["terms"]:
        assert t["hr"] == pytest.approx(math.exp(t["coef"]), rel=1e-12)
        assert t["ci95"][0] == pytest.approx(
            math.exp(t["coef"] - 1.959963984540054 * t["se"]), rel=1e-12
        )
        assert 0 < t["p"] <= 1
    for name in ("likelihood_ratio", "wald", "score"):
        assert body["tests"][name]["df"] == len(body["terms"]) and body["tests"][name]["p"] > 0
    assert 0 < body["concordance"]["c"] < 1 and body["concordance"]["se"] > 0
    # Patients without a birth date (no age) are left out and counted.
    everyone = get(demo, "/api/v1/analyses/cox/", covariates="sex")
    assert everyone["n"] + 0 >= body["n"]
    assert body["n"] + body["excluded_missing"] == everyone["n"] + everyone["excluded_missing"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "covariates"),
        ({"covariates": "age,shoe_size"}, "covariates"),
        ({"covariates": "age", "ties": "exact"}, "ties"),
        ({"covariates": "sex", "reference": "sex:X"}, "reference"),
        ({"covariates": "sex", "reference": "age:40"}, "reference"),
        ({"covariates": "age", "endpoint": "dfs"}, "endpoint"),
        ({"covariates": "age", "times": "6"}, "times"),
        ({"covariates": "age", "primary_site": "moon"}, "primary_site"),
    ],
)
def test_cox_refuses_bad_input_by_name(demo, params, field):
    response = demo.get("/api/v1/analyses/cox/", params)
    assert response.status_code == 400, response.content
    assert field in response.json()


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/api/v1/analyses/survival/", {"times": "6,x"}, "times"),
        ("/api/v1/analyses/survival/", {"times": "-1"}, "times"),
        ("/api/v1/analyses/survival/", {"times": "nan"}, "times"),
        ("/api/v1/analyses/survival/", {"times": ",".join(["1"] * 51) + ",2"}, "times"),
        ("/api/v1/analyses/survival/", {"rmst_tau": "0"}, "rmst_tau"),
        ("/api/v1/analyses/survival/", {"rmst_tau": "inf"}, "rmst_tau"),
        ("/api/v1/analyses/survival/", {"strata": "shoe"}, "strata"),
        (
            "/api/v1/analyses/survival/",
            {"ttp_regular_cutoff_months": "0"},
            "ttp_regular_cutoff_months",
        ),
        ("/api/v1/analyses/cumulative-incidence/", {"endpoint": "os"}, "endpoint"),
        ("/api/v1/analyses/cumulative-incidence/", {"rmst_tau": "3"}, "rmst_tau"),
        ("/api/v1/reports/cohort/", {"times": "3"}, "times"),
    ],
)
def test_analyses_refuse_bad_parameters_by_name(demo, url, params, field):
    response = demo.get(url, params)
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_a_model_that_cannot_be_fitted_is_a_400_not_a_500():
    from tests import factories

    nobody_here = factories.SiteFactory(code="NONE")
    client = client_for(factories.UserFactory(role="research", sites=[nobody_here]))
    response = client.get("/api/v1/analyses/cox/", {"covariates": "age"})  # empty cohort
    assert response.status_code == 400 and "covariates" in response.json()


def test_cumulative_incidence_is_aalen_johansen_of_ttp_with_death_competing(demo, admin_user):
    body = get(demo, "/api/v1/analyses/cumulative-incidence/", times="12")
    cohort = Cohort(admin_user, CohortFilter())
    data = competing_events(cohort)
    fit = aalen_johansen([m for _, m, _ in data], [e for _, _, e in data])
    group = body["groups"][0]
    assert group["table"] == fit.rows()
    assert group["progressions"] + group["deaths"] <= group["n"] == len(data)
    last = group["table"][-1]
    assert last["progression"] + last["death"] <= 1 + 1e-12
    # Where deaths compete, 1 − KM of TTP is at least the incidence of progression.
    km = survival.kaplan_meier([m for _, m, _ in data], [e == 1 for _, _, e in data])
    assert all(r["progression"] <= 1 - km.survival_at(r["time"]) + 1e-12 for r in group["table"])
    assert group["at_times"] == fit.at([12.0], [m for _, m, _ in data])


def test_report_gives_reverse_km_follow_up_ttp_regular_and_exact_response_rates(demo, admin_user):
    body = get(demo, "/api/v1/reports/cohort/")
    rows = Cohort(admin_user, CohortFilter()).rows
    fu = [r for r in rows if r.follow_up_months is not None]
    reverse = survival.kaplan_meier([r.follow_up_months for r in fu], [not r.os_event for r in fu])
    assert body["follow_up"]["reverse_km"] == {
        "median_months": reverse.median,
        "ci95": [reverse.median_ci_lower, reverse.median_ci_upper],
    }
    rates = body["response_rates"]
    objective = sum(body["best_response"][k] for k in ("CR", "PR"))
    control = sum(body["best_response"][k] for k in ("CR", "PR", "MR", "SD"))
    assert (rates["objective"]["count"], rates["disease_control"]["count"]) == (objective, control)
    low, high = rates["disease_control"]["ci95"]
    assert low < rates["disease_control"]["proportion"] < high
    regular = body["ttp_regular"]
    assert regular["cutoff_months"] == 36 and set(regular["groups"]) == {
        "short",
        "long",
        "unclassified",
        "unknown",
    }
    assert sum(regular["groups"].values()) == body["n_patients"]
    assert regular["n"] == body["n_patients"] - regular["groups"]["unknown"]


def test_research_roles_and_other_sites(demo, researcher, other_clinician):
    # A researcher of ROT fits on ROT's patients only; a clinician of a site with none
    # of the demo's patients gets an empty cohort, said so.
    everyone = get(demo, "/api/v1/analyses/cox/", covariates="sex")
    rotterdam = get(client_for(researcher), "/api/v1/analyses/cox/", covariates="sex")
    own = Cohort(researcher, CohortFilter()).rows
    assert 0 < rotterdam["n"] < everyone["n"]
    assert {r.patient.site.code for r in own} == {"ROT"}
    response = client_for(other_clinician).get("/api/v1/analyses/cox/", {"covariates": "sex"})
    assert response.status_code == 400 and "No patient" in str(response.json())
    anonymous = client_for(None)
    for url in ("/api/v1/analyses/cox/?covariates=sex", "/api/v1/analyses/cumulative-incidence/"):
        assert anonymous.get(url).status_code == 401


def test_analyses_answer_in_a_constant_number_of_queries(demo, django_assert_max_num_queries):
    for url in (
        "/api/v1/analyses/cox/?covariates=age,sex,ttp_regular_months",
        "/api/v1/analyses/cumulative-incidence/?strata=ttp_regular",
        "/api/v1/analyses/survival/?strata=ttp_regular&times=12",
    ):
        with django_assert_max_num_queries(8):
            assert demo.get(url).status_code == 200


def test_users_without_a_site_see_an_empty_cohort():
    user = get_user_model().objects.create_user("nobody", password="x" * 12)
    assert client_for(user).get("/api/v1/analyses/cox/", {"covariates": "sex"}).status_code in (
        400,
        403,
    )
