"""Contract conformance review: /work/shared/CONTRACT.md and cohort.schema.json, line by line.

Each test names the CONTRACT.md (or CLINICAL.md) sentence it checks. The
documents here are built by hand for this review: one that uses every
optional field and every enum value of the schema, and one small cohort in
units other than the canonical ones whose expected grades, responses and
times were worked out by hand from CLINICAL.md.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import django.test
import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from registry import models as m
from registry.interchange.documents import export_document, import_document, validate_document
from tests import factories
from tests.services import need_postgres

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads(
    (ROOT / "registry" / "interchange" / "schema" / "cohort.schema.json").read_text()
)
PRIMARY_SITES = SCHEMA["$defs"]["patient"]["properties"]["primary_site"]["enum"]
STOP_REASONS = SCHEMA["$defs"]["course"]["properties"]["stop_reason"]["enum"]
MODALITIES = SCHEMA["$defs"]["scan"]["properties"]["modality"]["enum"]
ANALYTES = SCHEMA["$defs"]["lab"]["properties"]["analyte"]["enum"]
GRADE_KEYS = {"0", "1", "2", "3", "4", "not_assessed"}
TOXICITY_KEYS = {
    "hematologic",
    "hemoglobin",
    "platelets",
    "wbc",
    "neutrophils",
    "lymphocytes",
    "creatinine",
}

# CLINICAL.md §6: every accepted spelling, with a plausible value in that unit.
UNIT_SPELLINGS: dict[str, list[tuple[str, float]]] = {
    "hemoglobin": [("g/dL", 13.1), ("g/L", 131), ("mmol/L", 8.1)],
    "platelets": [("10^9/L", 250), ("10^3/uL", 240), ("/mm3", 230000), ("10^3/µL", 220)],
    "wbc": [("10^9/L", 6.1), ("10^3/uL", 5.9), ("/mm3", 5800)],
    "neutrophils": [("10^9/L", 3.1), ("10^3/uL", 3.0), ("/mm3", 2900)],
    "lymphocytes": [("10^9/L", 1.6), ("10^3/uL", 1.5), ("/mm3", 1400)],
    "creatinine": [("umol/L", 80), ("µmol/L", 82), ("mg/dL", 0.95), ("μmol/L", 81)],
    "bilirubin": [("umol/L", 9), ("µmol/L", 10), ("mg/dL", 0.6)],
    "alt": [("U/L", 30)],
    "ast": [("U/L", 28)],
    "alp": [("U/L", 90)],
    "egfr": [("mL/min/1.73m2", 75)],
    "chromogranin_a": [("ug/L", 120), ("ng/mL", 118), ("µg/L", 119)],
}


def client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def boss(db):
    return factories.UserFactory(username="boss", role="admin", sites=[])


@pytest.fixture
def adm(boss):
    return client_for(boss)


# ---------------------------------------------------------------------------
# A document using every optional field and every enum value of the schema.


def _labs(start: dt.date) -> list[dict]:
    labs = []
    day = start - dt.timedelta(days=20)
    for analyte in ANALYTES:
        for k, (unit, value) in enumerate(UNIT_SPELLINGS[analyte]):
            labs.append(
                {
                    "date": (day + dt.timedelta(days=k)).isoformat(),
                    "analyte": analyte,
                    "value": value,
                    "unit": unit,
                }
            )
    # lln/uln in the lab's own unit, and explicit nulls.
    labs[0]["lln"], labs[0]["uln"] = 12.0, 16.0
    labs[1]["lln"], labs[1]["uln"] = None, None
    labs.append(
        {
            "date": (start + dt.timedelta(days=30)).isoformat(),
            "analyte": "creatinine",
            "value": 1.2,
            "unit": "mg/dL",
            "lln": 0.5,
            "uln": 1.1,
        }
    )
    return labs


def every_field_document() -> dict:
    """Every optional key, every enum value; one patient per primary site."""
    patients = []
    for i, primary in enumerate(PRIMARY_SITES):
        start = dt.date(2004 + i % 3, 1 + i, 3)
        stop = STOP_REASONS[i % len(STOP_REASONS)]
        sid = f"ALL_{i:02d}-x"
        patient = {
            "study_id": sid,
            "site": "ROT" if i % 2 else "GRO-2",
            "name": f"Patiënt Ünicode {i}" if i != 3 else None,
            "hospital_number": f"H{i:07d}" if i != 3 else None,
            "sex": ["F", "M", "U", None][i % 4],
            "birth_date": "1950-02-28" if i != 3 else None,
            "primary_site": primary,
            "diagnosis_date": "2000-01-15" if i != 4 else None,
            "ki67_percent": [0, 100, 2.5, None, 17, 0.1, 99.9][i],
            "last_follow_up": (start + dt.timedelta(days=900)).isoformat() if i != 5 else None,
            "death_date": (start + dt.timedelta(days=950)).isoformat() if i == 2 else None,
            "courses": [
                {
                    "phase": "regular",
                    "intended_activity_gbq": 29.6,
                    "stop_reason": stop,
                    "cycles": [
                        {
                            "date": (start - dt.timedelta(days=400 + 56 * k)).isoformat(),
                            "activity_gbq": 7.4,
                            "radiopharmaceutical": "177Lu-DOTATATE",
                            "note": "cycle note" if k == 0 else None,
                        }
                        for k in range(4)
                    ],
                },
                {
                    "phase": "salvage",
                    "intended_activity_gbq": None if i == 1 else 14.8,
                    "stop_reason": None,
                    "cycles": [
                        {"date": start.isoformat(), "activity_gbq": 15},
                        {
                            "date": (start + dt.timedelta(days=56)).isoformat(),
                            "activity_gbq": 0.001,
                            "note": None,
                        },
                    ],
                },
                # Absent optional keys.
                {
                    "phase": "salvage",
                    "cycles": [
                        {"date": (start + dt.timedelta(days=500)).isoformat(), "activity_gbq": 7.4}
                    ],
                },
            ],
            "labs": _labs(start),
            "scans": [
                {
                    "date": (start - dt.timedelta(days=10)).isoformat(),
                    "modality": MODALITIES[i % len(MODALITIES)],
                    "lesions": [
                        {
                            "lesion": "liver.seg-7_a",
                            "organ": "liver",
                            "lymph_node": False,
                            "target": True,
                            "new": False,
                            "long_mm": 42.5,
                            "short_mm": 30,
                            "status": None,
                        },
                        {
                            "lesion": "N.1",
                            "organ": "mesentery",
                            "lymph_node": True,
                            "target": True,
                            "long_mm": 25,
                            "short_mm": 18,
                        },
                        {"lesion": "bone", "target": False, "status": "present"},
                        {
                            "lesion": "pleura",
                            "organ": None,
                            "target": False,
                            "status": "absent",
                            "long_mm": None,
                            "short_mm": None,
                        },
                        {"lesion": "Z"},
                    ],
                },
                {
                    "date": (start + dt.timedelta(days=100)).isoformat(),
                    "modality": MODALITIES[(i + 1) % len(MODALITIES)],
                    "lesions": [
                        {"lesion": "liver.seg-7_a", "long_mm": 0, "short_mm": 0},
                        {"lesion": "N.1", "lymph_node": True, "long_mm": 12, "short_mm": 9},
                        {"lesion": "bone", "target": False, "status": "progression"},
                        {"lesion": "pleura", "target": False, "status": "absent"},
                        {"lesion": "Z", "long_mm": 1000, "short_mm": 1000},
                        {
                            "lesion": "new.1",
                            "organ": "lung",
                            "new": True,
                            "target": False,
                            "status": "present",
                        },
                    ],
                },
                {
                    "date": (start + dt.timedelta(days=200)).isoformat(),
                    "modality": "PET",
                    "lesions": [],
                },
            ],
            "clinical_progressions": [
                {"date": (start + dt.timedelta(days=300)).isoformat(), "note": "CgA ↑"},
                {"date": (start + dt.timedelta(days=310)).isoformat(), "note": None},
                {"date": (start + dt.timedelta(days=320)).isoformat()},
            ],
            "adverse_events": [
                {
                    "term": "Myelodysplastic syndrome",
                    "grade": g,
                    "onset": (start + dt.timedelta(days=30 * g)).isoformat(),
                    **({"note": "n"} if g == 1 else {"note": None} if g == 2 else {}),
                }
                for g in range(1, 6)
            ],
        }
        patients.append(patient)
    # Only optional keys absent: the smallest valid patient.
    patients.append({"study_id": "MIN", "site": "ROT", "primary_site": "other"})
    return {
        "format": "lutetia-cohort/1",
        "sites": [{"code": "ROT", "name": "Rotterdam"}, {"code": "GRO-2"}],
        "patients": patients,
    }  # fmt: skip


# ---------------------------------------------------------------------------
# A hand-made cohort in other units; expected values worked out from CLINICAL.md.

START = dt.date(2006, 3, 1)


def day(n: int, start: dt.date = START) -> str:
    return (start + dt.timedelta(days=n)).isoformat()


def lab(n: int, analyte: str, value: float, unit: str, start=START, **ranges) -> dict:
    return {"date": day(n, start), "analyte": analyte, "value": value, "unit": unit, **ranges}


def lesion(label: str, long_mm=None, short_mm=None, **extra) -> dict:
    return {"lesion": label, "long_mm": long_mm, "short_mm": short_mm, **extra}


def salvage(start=START, *gbq: float, intended: float | None = 14.8) -> dict:
    gbq = gbq or (7.4, 7.4)
    return {
        "phase": "salvage",
        "intended_activity_gbq": intended,
        "cycles": [{"date": day(56 * k, start), "activity_gbq": a} for k, a in enumerate(gbq)],
    }


D_START = dt.date(2007, 1, 10)
D_ROUND2 = dt.date(2008, 6, 1)


def units_cohort() -> dict:
    """Four salvage patients, labs in g/L, mmol/L, mg/dL, /mm3 and 10^3/uL."""
    a = {
        "study_id": "U-A",
        "site": "UTR",
        "sex": "F",
        "primary_site": "pancreas",
        "last_follow_up": day(400),
        "courses": [salvage()],
        "labs": [
            lab(0, "hemoglobin", 130, "g/L"),  # on the start date: pre-treatment
            lab(0, "creatinine", 0.8, "mg/dL"),  # baseline
            lab(30, "hemoglobin", 95, "g/L"),  # < 100 g/L: G2
            lab(70, "hemoglobin", 80, "g/L"),  # 80 is not < 80: still G2
            lab(30, "platelets", 75000, "/mm3"),  # 75 × 10^9/L: G1
            lab(70, "platelets", 50000, "/mm3"),  # 50: G2 (G3 is < 50)
            lab(30, "wbc", 2000, "/mm3"),  # 2.0: G2
            lab(30, "neutrophils", 0.5, "10^3/uL"),  # 0.5: G3 (G4 is < 0.5)
            lab(30, "lymphocytes", 150, "/mm3"),  # 0.15: G4, not hematologic
            # 1.9 mg/dL: 1.87 × ULN (90 µmol/L = 1.018 mg/dL) and 2.4 × baseline: G2
            lab(40, "creatinine", 1.9, "mg/dL"),
        ],
        "scans": [
            {
                "date": day(-10),
                "modality": "CT",
                "lesions": [
                    lesion("L1", 40, 30, organ="liver"),
                    lesion("L2", 20, 10, organ="lung"),
                ],
            },
            # SPD 950 vs 1400: −32 %: MR; SoD 50 vs 60: SD
            {
                "date": day(60),
                "modality": "CT",
                "lesions": [
                    lesion("L1", 30, 25, organ="liver"),
                    lesion("L2", 20, 10, organ="lung"),
                ],
            },
            # SPD 1440 ≥ 1.25 × 950; SoD 60 = 1.2 × 50 and +10 mm: PD under both
            {
                "date": day(150),
                "modality": "CT",
                "lesions": [
                    lesion("L1", 40, 30, organ="liver"),
                    lesion("L2", 20, 12, organ="lung"),
                ],
            },
        ],
    }
    b = {
        "study_id": "U-B",
        "site": "UTR",
        "sex": "M",
        "primary_site": "midgut",
        "death_date": day(300),
        "courses": [salvage()],
        "labs": [
            lab(0, "hemoglobin", 9.0, "mmol/L"),
            lab(0, "creatinine", 1.0, "mg/dL", uln=1.0),
            lab(20, "hemoglobin", 8.4, "mmol/L"),  # < LLN 8.5 mmol/L (M): G1
            lab(45, "hemoglobin", 4.9, "mmol/L"),  # G2 as read in mmol/L (§5 Decision)
            lab(45, "platelets", 151, "10^3/uL"),  # LLN 150: G0
            lab(45, "creatinine", 1.5, "mg/dL", uln=1.0),  # exactly 1.5 × ULN: G1
        ],
        "scans": [
            {
                "date": day(-5),
                "modality": "MRI",
                "lesions": [
                    lesion("N1", 30, 20, lymph_node=True, organ="node"),
                    {"lesion": "bone", "target": False, "status": "present"},
                ],
            },
            # SPD 150 vs 600: PR; SoD (short axis) 10 vs 20: PR (10 mm is not < 10)
            {
                "date": day(30),
                "modality": "MRI",
                "lesions": [
                    lesion("N1", 15, 10, lymph_node=True, organ="node"),
                    {"lesion": "bone", "target": False, "status": "present"},
                ],
            },
            # a new lesion: PD under both
            {
                "date": day(200),
                "modality": "MRI",
                "lesions": [
                    lesion("N1", 15, 10, lymph_node=True, organ="node"),
                    {"lesion": "bone", "target": False, "status": "present"},
                    {"lesion": "liver.new", "target": False, "new": True, "status": "present"},
                ],
            },
        ],
    }
    c = {
        "study_id": "U-C",
        "site": "UTR",
        "sex": "U",
        "primary_site": "pancreas",
        "last_follow_up": day(500),
        "courses": [salvage()],
        "labs": [
            lab(0, "platelets", 30, "10^9/L"),  # on the start date: pre-treatment
            lab(10, "hemoglobin", 12.0, "g/dL", lln=11.5),  # own LLN: G0 (default 13.5)
            lab(56 + 91, "platelets", 20, "10^9/L"),  # one day after a 90-day window
        ],
        "scans": [  # baseline 130 days before the start: none → NE
            {"date": day(-130), "modality": "CT", "lesions": [lesion("L1", 40, 30)]},
            {"date": day(60), "modality": "CT", "lesions": [lesion("L1", 10, 10)]},
        ],
        "clinical_progressions": [{"date": day(100), "note": "pain"}],
    }
    d = {
        "study_id": "U-D",
        "site": "OTH2",
        "sex": "F",
        "primary_site": "bronchial",
        "last_follow_up": "2009-01-01",
        "courses": [
            {
                "phase": "regular",
                "intended_activity_gbq": 29.6,
                "stop_reason": "completed",
                "cycles": [
                    {"date": day(56 * k, dt.date(2003, 1, 10)), "activity_gbq": 7.4}
                    for k in range(4)
                ],
            },
            # 7.4 + 7.3 = 14.7 < 14.8 − 0.05: not reached (§1)
            salvage(D_START, 7.4, 7.3),
            salvage(D_ROUND2, 7.4, intended=None),
        ],
        "scans": [
            {"date": day(-20, D_START), "modality": "CT", "lesions": [lesion("L1", 50, 40)]},
            # −2 % but before day 42: NE for best response
            {"date": day(30, D_START), "modality": "CT", "lesions": [lesion("L1", 49, 40)]},
            # −10 %: SD (SWOG); SoD 45/50: SD (RECIST)
            {"date": day(84, D_START), "modality": "CT", "lesions": [lesion("L1", 45, 40)]},
        ],
    }
    return {
        "format": "lutetia-cohort/1",
        "sites": [{"code": "UTR", "name": "Utrecht"}, {"code": "OTH2", "name": "Other"}],
        "patients": [a, b, c, d],
    }  # fmt: skip


def imported(document: dict, capture) -> None:
    """Import through the service and run the recomputation it schedules on commit."""
    with capture(execute=True):
        result = import_document(copy.deepcopy(document))
    assert result.errors == [] and result.created == len(document["patients"])


def post_import(client: APIClient, document, capture) -> tuple[dict, dict]:
    """POST /imports/ (the answer) and GET the job once the eager task has run."""
    with capture(execute=True):
        answer = client.post("/api/v1/imports/", document, format="json")
    assert answer.status_code == 202, answer.content
    polled = client.get(answer.headers["Location"])
    assert polled.status_code == 200
    return answer.json(), polled.json()


def outcomes_of(client: APIClient, study_id: str) -> dict:
    found = client.get("/api/v1/patients/", {"study_id": study_id}).json()
    assert found["count"] == 1, found
    response = client.get(f"/api/v1/patients/{found['results'][0]['id']}/outcomes/")
    assert response.status_code == 200
    return response.json()


# ===========================================================================
# "Running it"

SUBPROCESS_ENV_DROP = ("PYTEST_VERSION", "LUTETIA_TESTING", "CELERY_BROKER_URL", "DEBUG")


def manage(db: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`python manage.py …` as an operator runs it: its own SQLite file, no test settings."""
    environ = {k: v for k, v in os.environ.items() if k not in SUBPROCESS_ENV_DROP}
    environ.pop("PYTEST_XDIST_WORKER", None)
    environ.update(DATABASE_URL=f"sqlite:///{db}", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_operator_commands_in_subprocesses(tmp_path):
    """migrate, createsuperuser, import_cohort, export_cohort (stdout only JSON), create_user."""
    fresh, first, second = (
        tmp_path / "fresh.sqlite3",
        tmp_path / "a.sqlite3",
        tmp_path / "b.sqlite3",
    )
    assert manage(fresh, "migrate", "--noinput").returncode == 0
    first.write_bytes(fresh.read_bytes())
    second.write_bytes(fresh.read_bytes())

    made = manage(
        first,
        *("createsuperuser", "--noinput", "--username", "U", "--email", "u@example.org"),
        DJANGO_SUPERUSER_PASSWORD="Sup3r-secret-pw",
    )
    assert made.returncode == 0, made.stderr
    source = tmp_path / "in.json"
    source.write_text(json.dumps(every_field_document(), ensure_ascii=False), encoding="utf-8")
    done = manage(first, "import_cohort", str(source))
    assert done.returncode == 0, done.stderr
    assert "8 created" in done.stdout
    assert done.stderr == ""  # nothing reaches for a broker when tasks run in-process

    exports, stdout = {}, {}
    for debug in ("0", "1"):
        run = manage(
            first, "export_cohort", DEBUG=debug, LOG_LEVEL="DEBUG" if debug == "1" else "INFO"
        )
        assert run.returncode == 0, run.stderr
        stdout[debug] = run.stdout
        exports[debug] = json.loads(run.stdout)  # nothing but the document on stdout
    assert exports["0"] == exports["1"]
    exported = exports["0"]
    assert exported["format"] == "lutetia-cohort/2"
    assert len(exported["patients"]) == 8 and validate_document(exported) == []

    deidentified = manage(first, "export_cohort", "--deidentified", DEBUG="1")
    assert deidentified.returncode == 0
    for patient in json.loads(deidentified.stdout)["patients"]:
        assert (patient["name"], patient["hospital_number"], patient["birth_date"]) == (
            None,
            None,
            None,
        )

    # export → import into an empty registry → export: identical.
    dumped = tmp_path / "out.json"
    dumped.write_text(stdout["0"], encoding="utf-8")
    assert manage(second, "import_cohort", str(dumped)).returncode == 0
    assert json.loads(manage(second, "export_cohort").stdout) == exported
    again = manage(second, "import_cohort", str(dumped))
    assert "0 created, 0 updated, 8 unchanged" in again.stdout
    assert json.loads(manage(second, "export_cohort").stdout) == exported

    user = manage(
        first,
        *("create_user", "dr-who", "--role", "clinician", "--site", "ROT", "--site", "GRO-2"),
        LUTETIA_PASSWORD="Tardis-blue-42",
    )
    assert user.returncode == 0, user.stderr
    admin = manage(first, "create_user", "chief", "--role", "admin", LUTETIA_PASSWORD="Chief-pw-77")
    assert admin.returncode == 0, admin.stderr

    bad = copy.deepcopy(every_field_document())
    bad["patients"][3]["labs"][12]["unit"] = "furlongs"
    source.write_text(json.dumps(bad))
    refused = manage(first, "import_cohort", str(source))
    assert refused.returncode == 1
    assert "patients[3].labs[12].unit" in refused.stderr


def test_createsuperuser_sees_every_site_via_api_and_pages(
    monkeypatch, django_capture_on_commit_callbacks
):
    imported(every_field_document(), django_capture_on_commit_callbacks)
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "Sup3r-secret-pw")
    call_command("createsuperuser", interactive=False, username="U", email="u@example.org")

    browser = django.test.Client()
    signed_in = browser.post("/accounts/login/", {"username": "U", "password": "Sup3r-secret-pw"})
    assert signed_in.status_code == 302
    page = browser.get("/patients/").content.decode()
    assert "ALL_00-x" in page and "ALL_01-x" in page  # sites GRO-2 and ROT
    for pk in m.Patient.objects.values_list("pk", flat=True):
        assert browser.get(f"/patients/{pk}/").status_code == 200
    assert browser.get("/research/report/").status_code == 200
    # Browser sessions work for the API too.
    assert browser.get("/api/v1/patients/").json()["count"] == 8

    token = APIClient().post(
        "/api/v1/auth/token/", {"username": "U", "password": "Sup3r-secret-pw"}, format="json"
    )
    assert token.status_code == 200 and set(token.json()) == {"token"}
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    assert api.get("/api/v1/patients/").json()["count"] == 8
    assert {s["code"] for s in api.get("/api/v1/sites/").json()["results"]} == {"ROT", "GRO-2"}
    assert api.get("/api/v1/reports/cohort/").json()["n_patients"] == 7


def test_create_user_sites_and_the_sign_in_page(monkeypatch, django_capture_on_commit_callbacks):
    document = every_field_document()
    document["sites"].append({"code": "ZZZ", "name": "Elsewhere"})
    document["patients"].append({"study_id": "FAR", "site": "ZZZ", "primary_site": "midgut"})
    imported(document, django_capture_on_commit_callbacks)
    monkeypatch.setenv("LUTETIA_PASSWORD", "Tardis-blue-42")
    call_command("create_user", "dr-who", "--role", "clinician", "--site", "ROT", "--site", "GRO-2")
    call_command("create_user", "analyst", "--role", "research", "--site", "ZZZ")
    call_command("create_user", "chief", "--role", "admin")

    browser = django.test.Client()
    form = browser.get("/accounts/login/").content.decode()
    assert 'name="username"' in form and 'name="password"' in form
    assert (
        browser.post(
            "/accounts/login/", {"username": "dr-who", "password": "Tardis-blue-42"}
        ).status_code
        == 302
    )
    listed = browser.get("/api/v1/patients/", {"limit": 100}).json()
    assert {p["site"] for p in listed["results"]} == {"ROT", "GRO-2"}
    assert "FAR" not in browser.get("/patients/").content.decode()

    research = APIClient()
    research.login(username="analyst", password="Tardis-blue-42")
    (far,) = research.get("/api/v1/patients/").json()["results"]
    assert far["study_id"] == "FAR" and "name" not in far and "birth_date" not in far

    chief = APIClient()
    chief.login(username="chief", password="Tardis-blue-42")
    assert chief.get("/api/v1/patients/").json()["count"] == 9


# ===========================================================================
# REST API: auth, errors, pagination, look-up, ETags

API_PATHS = [
    "sites/",
    "patients/",
    "courses/",
    "cycles/",
    "labs/",
    "scans/",
    "clinical-progressions/",
    "adverse-events/",
    "response-overrides/",
    "imports/",
    "reports/cohort/",
    "analyses/survival/",
]


def test_no_endpoint_but_token_and_schema_answers_anonymous_with_data(
    adm, django_capture_on_commit_callbacks
):
    imported(units_cohort(), django_capture_on_commit_callbacks)
    patient = m.Patient.objects.get(study_id="U-A")
    objects = {
        "sites/": patient.site_id,
        "patients/": patient.pk,
        "courses/": patient.courses.first().pk,
        "labs/": patient.labs.first().pk,
        "scans/": patient.scans.first().pk,
    }
    anonymous = APIClient()
    urls = [f"/api/v1/{p}" for p in API_PATHS]
    urls += [f"/api/v1/{p}{pk}/" for p, pk in objects.items()]
    urls += [f"/api/v1/patients/{patient.pk}/outcomes/"]
    for url in urls:
        for method in ("get", "options", "head"):
            answer = getattr(anonymous, method)(url)
            assert answer.status_code in (401, 403), (method, url, answer.status_code)
            if method != "head":
                assert set(answer.json()) == {"detail"}, (method, url)
    schema = anonymous.get("/api/v1/schema/")
    assert schema.status_code == 200 and b"openapi: 3" in schema.content
    assert anonymous.get("/api/v1/docs/").status_code == 200

    # The token endpoint, many times over (a test suite signs in often).
    factories.UserFactory(username="often", role="clinician", sites=[patient.site])
    for _ in range(40):
        answer = anonymous.post(
            "/api/v1/auth/token/",
            {"username": "often", "password": factories.PASSWORD},
            format="json",
        )
        assert answer.status_code == 200 and set(answer.json()) == {"token"}
    wrong = anonymous.post(
        "/api/v1/auth/token/", {"username": "often", "password": "nope"}, format="json"
    )
    assert wrong.status_code == 400
    assert all(isinstance(v, list) for v in wrong.json().values())


def test_error_shapes_and_pagination(adm, django_capture_on_commit_callbacks):
    imported(units_cohort(), django_capture_on_commit_callbacks)
    patient = m.Patient.objects.get(study_id="U-A")
    invalid = adm.post(
        "/api/v1/labs/",
        {"patient": patient.pk, "date": "2006-05-01", "analyte": "hemoglobin", "value": 7,
         "unit": "µmol/L", "colour": "red"},
        format="json",
    )  # fmt: skip
    assert invalid.status_code == 400 and invalid.json() == {"colour": ["Unknown field."]}
    unit = adm.post(
        "/api/v1/labs/",
        {"patient": patient.pk, "date": "2006-05-01", "analyte": "hemoglobin", "value": 7,
         "unit": "µmol/L"},
        format="json",
    )  # fmt: skip
    assert unit.status_code == 400 and set(unit.json()) == {"unit"}
    assert "g/L" in unit.json()["unit"][0]
    for response in (
        adm.post("/api/v1/labs/", data="{not json", content_type="application/json"),
        adm.get("/api/v1/labs/999999/"),
        adm.delete("/api/v1/reports/cohort/"),
        adm.post("/api/v1/labs/", data="a=1", content_type="application/x-www-form-urlencoded"),
        adm.get("/api/v1/no-such-thing/"),
    ):
        assert 400 <= response.status_code < 500
        assert set(response.json()) == {"detail"}, response.content

    page = adm.get("/api/v1/labs/", {"limit": 5, "offset": 5}).json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] == m.LabResult.objects.count() and len(page["results"]) == 5
    assert page["next"] and page["previous"]
    for path in API_PATHS[:10]:
        assert set(adm.get(f"/api/v1/{path}").json()) == {"count", "next", "previous", "results"}

    found = adm.get("/api/v1/patients/", {"study_id": "U-B"}).json()
    assert found["count"] == 1 and found["results"][0]["study_id"] == "U-B"
    assert adm.get("/api/v1/patients/", {"study_id": "U-Z"}).json()["count"] == 0


@pytest.mark.parametrize(
    "params",
    [
        {"site": "ROT\x00"},
        {"primary_site": "pancreas\x00"},
        {"phase": "\x00"},
        {"criteria": "swog\x00"},
    ],
)
def test_cohort_filters_with_nul_are_400_naming_them(adm, params):
    """Was a 500 on PostgreSQL ("text fields cannot contain NUL"): never a 500 for bad input."""
    for url in ("/api/v1/reports/cohort/", "/api/v1/analyses/survival/"):
        answer = adm.get(url, params)
        assert answer.status_code == 400, (url, answer.status_code)
        assert set(answer.json()) == set(params)


def test_if_match_and_etag_412(django_capture_on_commit_callbacks, boss):
    imported(units_cohort(), django_capture_on_commit_callbacks)
    alice, bob = client_for(boss), client_for(boss)
    cycle = m.Cycle.objects.filter(course__patient__study_id="U-A").first()
    url = f"/api/v1/cycles/{cycle.pk}/"
    tag = alice.get(url).headers["ETag"]
    assert bob.get(url).headers["ETag"] == tag
    first = alice.patch(url, {"note": "Alice"}, format="json", HTTP_IF_MATCH=tag)
    assert first.status_code == 200 and first.headers["ETag"] != tag
    stale = bob.patch(url, {"note": "Bob"}, format="json", HTTP_IF_MATCH=tag)
    assert stale.status_code == 412 and set(stale.json()) == {"detail"}
    assert alice.get(url).json()["note"] == "Alice"
    assert bob.delete(url, HTTP_IF_MATCH=tag).status_code == 412
    assert m.Cycle.objects.filter(pk=cycle.pk).exists()

    # A scan and its lesions are one resource: a lesion edit makes the scan's tag stale.
    scan = m.Scan.objects.filter(patient__study_id="U-A").order_by("date").first()
    url = f"/api/v1/scans/{scan.pk}/"
    read = alice.get(url)
    tag, lesions = read.headers["ETag"], read.json()["lesions"]
    lesions[0]["long_mm"] = 41
    assert (
        alice.patch(url, {"lesions": lesions}, format="json", HTTP_IF_MATCH=tag).status_code == 200
    )
    lesions[0]["long_mm"] = 39
    late = bob.patch(url, {"lesions": lesions}, format="json", HTTP_IF_MATCH=tag)
    assert late.status_code == 412
    assert alice.get(url).json()["lesions"][0]["long_mm"] == 41


# ===========================================================================
# Import through the API

JOB_KEYS = {"id", "status", "progress", "errors", "created", "updated"}
STATUSES = {"queued", "running", "done", "failed"}


def test_api_import_of_every_field_document_twice(adm, django_capture_on_commit_callbacks):
    answer, job = post_import(adm, every_field_document(), django_capture_on_commit_callbacks)
    assert set(answer) == JOB_KEYS and answer["status"] in STATUSES
    assert 0 <= answer["progress"] <= 1
    assert set(job) == JOB_KEYS
    assert (job["status"], job["progress"], job["errors"]) == ("done", 1.0, [])
    assert (job["created"], job["updated"]) == (8, 0)
    before = (
        export_document(),
        sorted(m.LabResult.objects.values_list("id", "version")),
        sorted(m.LesionMeasurement.objects.values_list("id", "version")),
    )
    _, again = post_import(adm, every_field_document(), django_capture_on_commit_callbacks)
    assert (again["status"], again["created"], again["updated"]) == ("done", 0, 0)
    after = (
        export_document(),
        sorted(m.LabResult.objects.values_list("id", "version")),
        sorted(m.LesionMeasurement.objects.values_list("id", "version")),
    )
    assert after == before


def test_api_import_is_all_or_nothing_with_json_paths(adm, django_capture_on_commit_callbacks):
    imported(units_cohort(), django_capture_on_commit_callbacks)
    before = export_document()
    bad = every_field_document()
    bad["patients"][3]["labs"][12]["unit"] = "furlongs"
    bad["patients"][0]["labs"][0]["value"] = 26  # g/dL: above the plausible 25
    bad["patients"][1]["colour"] = "red"
    bad["patients"][2]["scans"][1]["lesions"][0]["volume_ml"] = 3
    bad["patients"][4]["courses"][0]["cycles"][0]["dose"] = 1
    bad["sites"][0]["city"] = "Rotterdam"
    bad["exported_at"] = "today"
    bad["patients"].append(copy.deepcopy(units_cohort()["patients"][0]))  # otherwise valid
    _, job = post_import(adm, bad, django_capture_on_commit_callbacks)
    assert job["status"] == "failed" and (job["created"], job["updated"]) == (0, 0)
    paths = {error["path"] for error in job["errors"]}
    assert paths == {
        "exported_at",
        "sites[0].city",
        "patients[0].labs[0].value",
        "patients[1].colour",
        "patients[2].scans[1].lesions[0].volume_ml",
        "patients[3].labs[12].unit",
        "patients[4].courses[0].cycles[0].dose",
    }
    assert all(set(error) == {"path", "message"} for error in job["errors"])
    assert export_document() == before


# ===========================================================================
# Interchange: every optional field, every enum value


def _normalised(document: dict) -> dict:
    """The document as the export writes it: absent optional keys null, lists in export order."""
    from registry.models.treatment import DEFAULT_RADIOPHARMACEUTICAL

    def lesion_(x):
        return {"lesion": x["lesion"], "organ": x.get("organ"),
                "lymph_node": x.get("lymph_node", False), "target": x.get("target", True),
                "new": x.get("new", False), "long_mm": x.get("long_mm"),
                "short_mm": x.get("short_mm"), "status": x.get("status")}  # fmt: skip

    def patient_(p):
        courses = [
            {"phase": c["phase"], "intended_activity_gbq": c.get("intended_activity_gbq"),
             "stop_reason": c.get("stop_reason"),
             "cycles": sorted(
                 ({"date": k["date"], "activity_gbq": k["activity_gbq"],
                   "radiopharmaceutical": k.get("radiopharmaceutical", DEFAULT_RADIOPHARMACEUTICAL),
                   "note": k.get("note")} for k in c["cycles"]),
                 key=lambda k: k["date"])}
            for c in p.get("courses", [])
        ]  # fmt: skip
        return {
            "study_id": p["study_id"], "site": p["site"],
            **{k: p.get(k) for k in ("name", "hospital_number", "sex", "birth_date")},
            "primary_site": p["primary_site"],
            **{k: p.get(k) for k in ("diagnosis_date", "ki67_percent", "last_follow_up",
                                     "death_date")},
            "courses": sorted(courses, key=lambda c: c["cycles"][0]["date"]),
            "labs": sorted(
                ({**{"lln": None, "uln": None}, **x} for x in p.get("labs", [])),
                key=lambda x: (x["date"], x["analyte"])),
            "scans": sorted(
                ({"date": s["date"], "modality": s["modality"],
                  "lesions": [lesion_(x) for x in s["lesions"]]} for s in p.get("scans", [])),
                key=lambda s: s["date"]),
            "clinical_progressions": sorted(
                ({"date": x["date"], "note": x.get("note")}
                 for x in p.get("clinical_progressions", [])), key=lambda x: x["date"]),
            "adverse_events": sorted(
                ({"term": x["term"], "grade": x["grade"], "onset": x["onset"],
                  "note": x.get("note")} for x in p.get("adverse_events", [])),
                key=lambda x: x["onset"]),
        }  # fmt: skip

    return {
        "format": document["format"],
        "sites": sorted(
            ({"code": s["code"], "name": s.get("name", "")} for s in document["sites"]),
            key=lambda s: s["code"],
        ),
        "patients": sorted(map(patient_, document["patients"]), key=lambda p: p["study_id"]),
    }


V2_KEYS = {
    "patient": ("who_grade", "functional_syndrome", "cause_of_death", "prior_treatments", "custom"),
    "course": ("ecog", "karnofsky", "krenning_score", "uptake_modality", "metastases", "custom"),
    "cycle": ("amino_acids", "reduced_reason", "custom"),
    "scan": ("custom",),
    "adverse_event": ("category", "resolved", "serious", "attribution"),
}


def _v1_view(exported: dict) -> dict:
    """A version 2 export read as version 1: the keys version 2 adds, removed."""

    def drop(item: dict, kind: str) -> dict:
        return {k: v for k, v in item.items() if k not in V2_KEYS[kind]}

    patients = []
    for p in exported["patients"]:
        q = drop(p, "patient")
        q["courses"] = [
            {**drop(c, "course"), "cycles": [drop(k, "cycle") for k in c["cycles"]]}
            for c in p["courses"]
        ]
        q["scans"] = [drop(s, "scan") for s in p["scans"]]
        q["adverse_events"] = [drop(e, "adverse_event") for e in p["adverse_events"]]
        patients.append(q)
    return {"format": "lutetia-cohort/1", "sites": exported["sites"], "patients": patients}


def test_every_field_document_covers_the_schema():
    document = every_field_document()
    patients = document["patients"]
    assert {p["primary_site"] for p in patients} == set(PRIMARY_SITES)
    assert {c.get("stop_reason") for p in patients for c in p.get("courses", [])} == set(
        STOP_REASONS
    )
    scans = [s for p in patients for s in p.get("scans", [])]
    assert {s["modality"] for s in scans} == set(MODALITIES)
    labs = [(x["analyte"], x["unit"]) for p in patients for x in p.get("labs", [])]
    assert {a for a, _ in labs} == set(ANALYTES)
    for unit in ("µmol/L", "10^3/uL", "/mm3", "ng/mL", "g/L", "mmol/L", "mg/dL"):
        assert unit in {u for _, u in labs}
    statuses = {x.get("status") for s in scans for x in s["lesions"]}
    assert statuses == {None, "present", "absent", "progression"}
    assert {p.get("sex") for p in patients} == {"F", "M", "U", None}
    assert {e["grade"] for p in patients for e in p.get("adverse_events", [])} == {1, 2, 3, 4, 5}


def test_every_field_document_round_trips(django_capture_on_commit_callbacks):
    document = every_field_document()
    assert validate_document(document) == []
    imported(document, django_capture_on_commit_callbacks)
    first = export_document()
    json.dumps(first, allow_nan=False)
    assert validate_document(first) == []
    assert first["format"] == "lutetia-cohort/2" and first["fields"] == []
    assert _v1_view(first) == _normalised(document)  # nothing lost, nothing invented
    by_id = {p["study_id"]: p for p in first["patients"]}
    units = {x["unit"] for x in by_id["ALL_00-x"]["labs"]}
    assert {"µmol/L", "μmol/L", "10^3/µL", "/mm3"} <= units  # stored as entered

    m.Patient.objects.all().delete()
    m.Site.objects.all().delete()
    imported(first, django_capture_on_commit_callbacks)
    assert export_document() == first
    for patient in export_document(deidentified=True)["patients"]:
        assert [patient[k] for k in ("name", "hospital_number", "birth_date")] == [None] * 3


def test_round_trip_on_postgresql(django_capture_on_commit_callbacks):
    need_postgres()
    test_every_field_document_round_trips(django_capture_on_commit_callbacks)


@pytest.mark.parametrize(
    ("where", "path"),
    [
        (lambda d: d, "extra"),
        (lambda d: d["sites"][0], "sites[0].extra"),
        (lambda d: d["patients"][0], "patients[0].extra"),
        (lambda d: d["patients"][0]["courses"][1], "patients[0].courses[1].extra"),
        (lambda d: d["patients"][0]["courses"][1]["cycles"][0],
         "patients[0].courses[1].cycles[0].extra"),
        (lambda d: d["patients"][0]["labs"][3], "patients[0].labs[3].extra"),
        (lambda d: d["patients"][0]["scans"][1], "patients[0].scans[1].extra"),
        (lambda d: d["patients"][0]["scans"][1]["lesions"][2],
         "patients[0].scans[1].lesions[2].extra"),
        (lambda d: d["patients"][0]["clinical_progressions"][0],
         "patients[0].clinical_progressions[0].extra"),
        (lambda d: d["patients"][0]["adverse_events"][0], "patients[0].adverse_events[0].extra"),
    ],
)  # fmt: skip
def test_unknown_keys_are_errors_at_every_level(where, path):
    document = every_field_document()
    where(document)["extra"] = None
    assert [error.path for error in validate_document(document)] == [path]
    assert import_document(document).errors and not m.Patient.objects.exists()


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('"note": "CgA \\u0000 up"', "patients[0].clinical_progressions[0].note"),
        ('"name": "Rotterdam"', None),
        ('"name": "Rot\\ud800"', "sites[0].name"),
        ('"ki67_percent": 0,', None),
        ('"ki67_percent": NaN,', "patients[0].ki67_percent"),
        ('"long_mm": 42.5', None),
        ('"long_mm": Infinity', "patients[0].scans[0].lesions[0].long_mm"),
        ('"value": 13.1', None),
        ('"value": 1e999', "patients[0].labs[0].value"),
    ],
)
def test_unstorable_text_and_non_finite_numbers_are_path_errors(tmp_path, text, path):
    """Python's json reads these; PostgreSQL failed the whole command, exports were not JSON."""
    key = text.split(":")[0]
    raw = json.dumps(every_field_document(), ensure_ascii=True)
    originals = {
        '"note"': '"note": "CgA \\u2191"',
        '"name"': '"name": "Rotterdam"',
        '"ki67_percent"': '"ki67_percent": 0,',
        '"long_mm"': '"long_mm": 42.5',
        '"value"': '"value": 13.1',
    }
    assert originals[key] in raw
    source = tmp_path / "doc.json"
    source.write_text(raw.replace(originals[key], text, 1))
    if path is None:
        call_command("import_cohort", str(source), stdout=Collect([]))
        assert m.Patient.objects.count() == 8
        return
    errors = []
    with pytest.raises(CommandError):
        call_command("import_cohort", str(source), stderr=Collect(errors))
    assert any(line.startswith(f"{path}: ") for line in errors), errors
    assert not m.Patient.objects.exists()


def test_unstorable_values_on_postgresql(tmp_path):
    need_postgres()
    test_unstorable_text_and_non_finite_numbers_are_path_errors(
        tmp_path, '"note": "CgA \\u0000 up"', "patients[0].clinical_progressions[0].note"
    )
    test_unstorable_text_and_non_finite_numbers_are_path_errors(
        tmp_path, '"value": 1e999', "patients[0].labs[0].value"
    )


class Collect:
    def __init__(self, lines: list[str]):
        self.lines = lines

    def write(self, text: str) -> None:
        self.lines.extend(line for line in text.splitlines() if line)

    def flush(self) -> None:
        pass


def odd_patients() -> list[dict]:
    """Allowed by the schema but odd: zeros, missing sizes, interleaved courses, early death."""

    def base(study_id: str, **extra) -> dict:
        return {"study_id": study_id, "site": "UTR", "primary_site": "other",
                "last_follow_up": day(400), "courses": [salvage()], **extra}  # fmt: skip

    return [
        base("O-zero-limits", labs=[
            lab(0, "creatinine", 0, "umol/L", uln=0, lln=0),
            lab(30, "creatinine", 50, "umol/L", uln=0),
            lab(30, "platelets", 0, "10^9/L", lln=0, uln=0),
            lab(30, "hemoglobin", 0, "mmol/L", lln=0),
            lab(31, "alt", 0, "U/L", uln=0), lab(31, "bilirubin", 0, "mg/dL", uln=0),
            lab(31, "ast", 5, "U/L", uln=0)]),
        base("O-zero-baseline", labs=[
            lab(-1, "creatinine", 0, "mg/dL"), lab(30, "creatinine", 1, "mg/dL"),
            lab(-1, "alt", 0, "U/L"), lab(30, "alt", 100, "U/L"),
            lab(-1, "bilirubin", 0, "umol/L"), lab(30, "bilirubin", 40, "umol/L")]),
        base("O-no-sizes", scans=[
            {"date": day(-5), "modality": "CT", "lesions": [
                lesion("L1"), lesion("L2", 20), lesion("N.1", None, 20, lymph_node=True)]},
            {"date": day(60), "modality": "CT", "lesions": [
                lesion("L1", 10, 10), lesion("L2", 20),
                lesion("N.1", 30, None, lymph_node=True)]}]),
        base("O-zero-sizes", scans=[
            {"date": day(-5), "modality": "CT", "lesions": [lesion("L.1", 0, 0)]},
            {"date": day(60), "modality": "CT", "lesions": [lesion("L.1", 0, 0)]},
            {"date": day(90), "modality": "CT", "lesions": [lesion("L.1", 1, 1)]}]),
        base("O-odd-lesions", scans=[
            {"date": day(0), "modality": "SRS", "lesions": [
                lesion("T", 20, 10, status="progression"),
                lesion("NT", 20, 10, target=False), lesion("NEW", 5, 5, new=True)]},
            {"date": day(0), "modality": "PET", "lesions": [lesion("T", 20, 10)]},
            {"date": day(60), "modality": "CT", "lesions": [
                lesion("T", 20, 10, status="absent"), {"lesion": "NT", "target": False}]}]),
        base("O-interleaved", courses=[
            {"phase": "regular", "cycles": [{"date": day(0), "activity_gbq": 7.4},
                                            {"date": day(100), "activity_gbq": 7.4}]},
            {"phase": "salvage", "cycles": [{"date": day(50), "activity_gbq": 15},
                                            {"date": day(150), "activity_gbq": 7.4}]},
            {"phase": "salvage", "intended_activity_gbq": 100,
             "cycles": [{"date": day(50), "activity_gbq": 7.4}]}],
            clinical_progressions=[{"date": day(0)}, {"date": day(50)}]),
        base("O-dead-before", death_date=day(-10), last_follow_up=day(-20),
             diagnosis_date=day(-100)),
        base("O-dead-during", death_date=day(20), last_follow_up=day(400), ki67_percent=100),
        {"study_id": "O-bare", "site": "UTR", "primary_site": "hindgut", "courses": [salvage()]},
    ]  # fmt: skip


def test_odd_but_valid_values_do_not_crash(adm, django_capture_on_commit_callbacks):
    document = units_cohort()
    document["patients"] = odd_patients()
    assert validate_document(document) == []
    imported(document, django_capture_on_commit_callbacks)
    for patient in document["patients"]:
        body = outcomes_of(adm, patient["study_id"])
        assert body["stale"] is False and body["courses"], patient["study_id"]
    for params in ({}, {"criteria": "recist"}, {"toxicity_window_days": 7}, {"round": 2},
                   {"phase": "regular"}, {"disease_control": "true"}):  # fmt: skip
        assert adm.get("/api/v1/reports/cohort/", params).status_code == 200, params
    for endpoint in ("ttp", "pfs", "os"):
        for strata in ({}, {"strata": "primary_site"}, {"strata": "best_response"}):
            for conf_type in ("log-log", "log", "plain"):
                answer = adm.get(
                    "/api/v1/analyses/survival/",
                    {"endpoint": endpoint, "conf_type": conf_type, **strata},
                )
                assert answer.status_code == 200, (endpoint, strata, conf_type)
                json.dumps(answer.json(), allow_nan=False)


# ===========================================================================
# CLINICAL.md values through the API, for the cohort in other units


def months(days: int) -> float:
    return days / 30.4375  # §1


def grades(**given: int | None) -> dict:
    return {key: given.get(key) for key in TOXICITY_KEYS}


def test_units_cohort_outcomes_key_by_key(adm, django_capture_on_commit_callbacks):
    imported(units_cohort(), django_capture_on_commit_callbacks)
    a = outcomes_of(adm, "U-A")
    assert set(a) >= {"study_id", "cumulative_activity_gbq", "stale", "courses"}
    assert (a["study_id"], a["cumulative_activity_gbq"], a["stale"]) == ("U-A", 14.8, False)
    (course,) = a["courses"]
    assert set(course) >= {
        "phase", "round", "start", "cycles", "activity_gbq", "best_response", "worst_grade",
        "ttp", "pfs", "os",
    }  # fmt: skip
    assert (course["phase"], course["round"], course["start"]) == ("salvage", 1, "2006-03-01")
    assert (course["cycles"], course["activity_gbq"]) == (2, 14.8)
    assert course["best_response"] == {"swog": "MR", "recist": "SD"}
    # §5: 80 g/L is G2 (G3 is < 80); 50 /nL is G2; lymphocytes are not hematologic.
    assert course["worst_grade"] == grades(
        hematologic=3, hemoglobin=2, platelets=2, wbc=2, neutrophils=3, lymphocytes=4,
        creatinine=2,
    )  # fmt: skip
    assert course["ttp"] == {"months": months(150), "event": True}
    assert course["pfs"] == {"months": months(150), "event": True}
    assert course["os"] == {"months": months(400), "event": False}

    (b,) = outcomes_of(adm, "U-B")["courses"]
    assert b["best_response"] == {"swog": "PR", "recist": "PR"}
    # 4.9 mmol/L is G2 as read in mmol/L; 1.5 mg/dL at ULN 1.0 mg/dL is exactly 1.5 × ULN: G1.
    assert b["worst_grade"] == grades(hematologic=2, hemoglobin=2, platelets=0, creatinine=1)
    assert b["ttp"] == {"months": months(200), "event": True}
    assert b["os"] == {"months": months(300), "event": True}

    (c,) = outcomes_of(adm, "U-C")["courses"]
    assert c["best_response"] == {"swog": "NE", "recist": "NE"}  # baseline 130 days before
    assert c["worst_grade"] == grades(hematologic=0, hemoglobin=0)  # own LLN 11.5 g/dL
    assert c["ttp"] == {"months": months(100), "event": True}  # clinical progression

    d = outcomes_of(adm, "U-D")
    assert d["cumulative_activity_gbq"] == pytest.approx(29.6 + 14.7 + 7.4, abs=1e-9)
    assert [(x["phase"], x["round"]) for x in d["courses"]] == [
        ("regular", 1),
        ("salvage", 1),
        ("salvage", 2),
    ]
    regular, first, second = d["courses"]
    assert first["best_response"] == {"swog": "SD", "recist": "SD"}
    assert first["activity_gbq"] == 14.7
    # Followed by another course without a progression: censored the day before it (§3).
    censored = (D_ROUND2 - dt.timedelta(days=1) - D_START).days
    assert first["ttp"] == {"months": months(censored), "event": False}
    assert second["ttp"] == {
        "months": months((dt.date(2009, 1, 1) - D_ROUND2).days),
        "event": False,
    }
    assert regular["start"] == "2003-01-10" and regular["activity_gbq"] == 29.6


def _toxicity(**rows: dict) -> dict:
    table = {
        key: {g: 0 for g in ("0", "1", "2", "3", "4", "not_assessed")} for key in TOXICITY_KEYS
    }
    for key, counts in rows.items():
        table[key].update(counts)
    return table


def test_units_cohort_report_and_every_filter(adm, django_capture_on_commit_callbacks):
    imported(units_cohort(), django_capture_on_commit_callbacks)
    report = adm.get("/api/v1/reports/cohort/", {"phase": "salvage"}).json()
    assert (report["phase"], report["criteria"], report["n_patients"]) == ("salvage", "swog", 4)
    assert report["best_response"] == {"CR": 0, "PR": 1, "MR": 1, "SD": 1, "PD": 0, "NE": 1}
    assert report["toxicity"] == _toxicity(
        hematologic={"0": 1, "2": 1, "3": 1, "not_assessed": 1},
        hemoglobin={"0": 1, "2": 2, "not_assessed": 1},
        platelets={"0": 1, "2": 1, "not_assessed": 2},
        wbc={"2": 1, "not_assessed": 3},
        neutrophils={"3": 1, "not_assessed": 3},
        lymphocytes={"4": 1, "not_assessed": 3},
        creatinine={"1": 1, "2": 1, "not_assessed": 2},
    )
    # TTP 3.29 (C), 4.93 (A), 6.57 (B) events, 16.66 (D) censored: S = 0.5 exactly between
    # 4.93 and 6.57, so the median is their midpoint (§4); lower CI at the first event.
    assert report["ttp"] == {
        "n": 4,
        "events": 3,
        "median_months": (months(150) + months(200)) / 2,
        "ci95": [months(100), None],
    }
    follow_up = sorted([months(400), months(300), months(500), months(722)])
    assert report["follow_up"] == {
        "median_months": (follow_up[1] + follow_up[2]) / 2,
        "min_months": follow_up[0],
        "max_months": follow_up[-1],
        # Reverse KM: alive at 400, 500, 722 d are the events, B's death at 300 d censors:
        # S 2/3 at 400, 1/3 at 500 → median 500 d; the log-log lower curve falls to 0.5 at 400.
        "reverse_km": {"median_months": months(500), "ci95": [months(400), None]},
    }
    assert report["cumulative_activity_gbq"] == {"median": 14.8, "min": 14.7, "max": 14.8}
    assert report["intended_activity_reached"] == 4  # D: 7.4 + 7.3 ≥ 0.9 × 14.8 (§1)

    def get(**params):
        answer = adm.get("/api/v1/reports/cohort/", params)
        assert answer.status_code == 200, answer.content
        return answer.json()

    recist = get(criteria="recist")
    assert recist["best_response"] == {"CR": 0, "PR": 1, "MR": 0, "SD": 2, "PD": 0, "NE": 1}
    assert get(disease_control="true")["n_patients"] == 3
    assert get(disease_control="true", criteria="recist")["n_patients"] == 3
    assert get(disease_control="false")["best_response"]["NE"] == 1
    assert get(primary_site="pancreas")["n_patients"] == 2
    assert get(primary_site="pancreas,midgut")["n_patients"] == 3
    assert get(site="OTH2")["n_patients"] == 1
    assert get(site="UTR", primary_site="midgut")["n_patients"] == 1
    # C's platelets 20 × 10^9/L fall 91 days after the last cycle.
    wide = get(toxicity_window_days=91)["toxicity"]
    assert wide["platelets"]["4"] == 1 and wide["hematologic"]["4"] == 1
    assert get(toxicity_window_days=90)["toxicity"] == report["toxicity"]
    narrow = get(toxicity_window_days=0)["toxicity"]  # only labs up to the last cycle
    assert narrow["lymphocytes"]["4"] == 1 and narrow["creatinine"]["2"] == 1
    regular = get(phase="regular")
    assert (regular["phase"], regular["n_patients"], regular["best_response"]["NE"]) == (
        "regular",
        1,
        1,
    )
    assert regular["cumulative_activity_gbq"]["median"] == 29.6
    second = get(round=2)
    assert second["n_patients"] == 1 and second["cumulative_activity_gbq"]["max"] == 7.4
    for body in (report, recist, regular, second, get(site="nowhere")):
        for counts in body["toxicity"].values():
            assert set(counts) == GRADE_KEYS
    assert get(site="nowhere")["ttp"] == {
        "n": 0,
        "events": 0,
        "median_months": None,
        "ci95": [None, None],
    }


def test_units_cohort_survival(adm, django_capture_on_commit_callbacks):
    imported(units_cohort(), django_capture_on_commit_callbacks)
    body = adm.get("/api/v1/analyses/survival/", {"endpoint": "ttp", "phase": "salvage"}).json()
    assert {"endpoint", "phase", "conf_type", "time_unit", "groups", "logrank"} <= set(body)
    assert (body["endpoint"], body["phase"], body["conf_type"], body["time_unit"]) == (
        "ttp",
        "salvage",
        "log-log",
        "months",
    )
    assert body["logrank"] is None
    (group,) = body["groups"]
    assert set(group) == {"label", "n", "events", "median", "median_ci95", "table"}
    assert (group["label"], group["n"], group["events"]) == ("all", 4, 3)
    assert [row["time"] for row in group["table"]] == [
        months(d) for d in (100, 150, 200, (D_ROUND2 - D_START).days - 1)
    ]
    assert [(r["n_risk"], r["n_event"], r["n_censor"]) for r in group["table"]] == [
        (4, 1, 0),
        (3, 1, 0),
        (2, 1, 0),
        (1, 0, 1),
    ]
    assert [r["survival"] for r in group["table"]] == [0.75, 0.5, 0.25, 0.25]
    for row in group["table"]:
        assert set(row) == {
            "time", "n_risk", "n_event", "n_censor", "survival", "ci_lower", "ci_upper",
        }  # fmt: skip
        assert row["ci_lower"] <= row["survival"] <= row["ci_upper"]

    os_ = adm.get("/api/v1/analyses/survival/", {"endpoint": "os"}).json()
    assert (os_["groups"][0]["n"], os_["groups"][0]["events"]) == (4, 1)  # B died
    pfs = adm.get(
        "/api/v1/analyses/survival/", {"endpoint": "pfs", "strata": "primary_site"}
    ).json()
    assert [g["label"] for g in pfs["groups"]] == ["bronchial", "midgut", "pancreas"]
    assert set(pfs["logrank"]) == {"chi2", "df", "p"} and pfs["logrank"]["df"] == 2
    pancreas = pfs["groups"][2]
    assert pancreas["median"] == pytest.approx(
        (months(100) + months(150)) / 2, rel=1e-12
    )  # S = 0.5 exactly
    for conf_type in ("log", "plain"):
        other = adm.get("/api/v1/analyses/survival/", {"conf_type": conf_type}).json()
        assert other["conf_type"] == conf_type
        assert [r["survival"] for r in other["groups"][0]["table"]] == [0.75, 0.5, 0.25, 0.25]
    filtered = adm.get(
        "/api/v1/analyses/survival/", {"site": "UTR", "disease_control": "true"}
    ).json()
    assert filtered["groups"][0]["n"] == 2  # A (MR) and B (PR)
