"""Adversarial security and robustness review: crawl every URL with every role.

A small world (two sites, a patient per site with every kind of fact, derived
rows computed) is built once per test; every URL pattern of the project is
then enumerated from the resolver and requested by every role, with the other
site's ids substituted, and with junk in every query parameter and form field.
The rules checked (README.md, DESIGN.md):

- nothing answers 500;
- anonymous callers are sent to the sign-in page (pages) or refused (API);
- another site's patient or any of its facts is a 404;
- research roles never see a direct identifier and cannot write (403);
- no page reflects user input unescaped; CSRF is never exempted.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from registry import models
from registry.derive.recompute import recompute_patient
from registry.records.facts import save_fact
from tests import factories

ROOT = Path(__file__).resolve().parents[1]

# Distinctive identifier values: no page, export or API answer may hold them for research.
NAME = "Zyxwvut Identifier"
HOSPITAL_NUMBER = "HN-99887766"
BIRTH = dt.date(1937, 4, 5)
OLD_NAME = "Qwertzu Formername"  # the identity before a correction: the history must hide it
OLD_HOSPITAL_NUMBER = "HN-11223344"
OTHER_NAME = "Plokij Othersite"
OTHER_HOSPITAL_NUMBER = "HN-55443322"
OTHER_BIRTH = dt.date(1941, 11, 23)
OTHER_STUDY_ID = "OTHERSITE-7731"
# A custom field marked identifying is handled like a name (issue 12).
GP_NAME = "Dr Zxcvbnm Familydoc"
OLD_GP_NAME = "Dr Asdfghj Formerdoc"


def date_spellings(d: dt.date) -> list[str]:
    return [
        d.isoformat(),
        d.strftime("%d/%m/%Y"),
        d.strftime("%m/%d/%Y"),
        f"{d.day} {d:%B} {d.year}",
        f"{d:%B} {d.day}, {d.year}",
        f"{d:%b}. {d.day}, {d.year}",
        f"{d.day:02d}-{d.month:02d}-{d.year}",
        f"{d.year}{d.month:02d}{d.day:02d}",
    ]


OWN_IDENTIFIERS = [
    NAME,
    HOSPITAL_NUMBER,
    OLD_NAME,
    OLD_HOSPITAL_NUMBER,
    GP_NAME,
    OLD_GP_NAME,
    *date_spellings(BIRTH),
]
OTHER_IDENTIFIERS = [OTHER_NAME, OTHER_HOSPITAL_NUMBER, *date_spellings(OTHER_BIRTH)]

XSS = "<script>alert('xss')</script>"  # must never come back unescaped in an HTML page
# Fewer values per query parameter (every page times every parameter times these).
QUERY_JUNK = [
    "abc",
    "__class__",
    "-1",
    "99999",
    "1e309",
    "NaN",
    "0001-01-01",
    "9" * 30,
    "x" * 5000,
    "\x00",
    XSS,
]
# Form fields: every value for typed fields, a few for choices (a select only matches).
FORM_JUNK = [
    "",
    "abc",
    "-1",
    "1e309",
    "NaN",  # float() reads "Infinity" as it reads 1e309: one of them is enough
    "0001-01-01",
    "9999-12-31",
    "9" * 30,
    "x" * 20000,
    "\x00",
    XSS,
]
CHOICE_JUNK = ["", "abc", "9" * 30, XSS]
# Each query parameter on its own gets the values most likely to break a parser; the
# whole QUERY_JUNK list goes to every parameter at once (CI time: every page times every
# parameter times every value was the slowest part of the suite).
QUERY_JUNK_EACH = ["__class__", "1e309", "9" * 30, "x" * 5000, "\x00", XSS]


# ------------------------------------------------------------------ the world


@pytest.fixture(autouse=True)
def no_throttling(monkeypatch):
    """The crawl sends thousands of requests a minute as one user: lift the API's rates.

    The throttle counts live in the cache, which is cleared before and after so
    that the tests run next in this process start from zero.
    """
    from django.core.cache import cache
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(
        SimpleRateThrottle, "THROTTLE_RATES", {"anon": "1000000/minute", "user": "1000000/minute"}
    )
    cache.clear()
    yield
    cache.clear()


@dataclass
class PatientWorld:
    patient: models.Patient
    facts: dict[str, int] = field(default_factory=dict)  # kind slug -> id


@dataclass
class World:
    users: dict[str, object]
    mine: PatientWorld
    theirs: PatientWorld
    export_jobs: dict[str, int]  # "mine" (the research user's) / "theirs" (another user's)
    import_jobs: dict[str, int]
    site_ids: dict[str, int]


def _fill_patient(patient: models.Patient, by) -> dict[str, int]:
    """Every kind of fact, saved through the audited service."""
    regular = save_fact(
        models.Course(patient=patient, phase="regular", intended_activity_gbq=29.6), by=by
    )
    for i, day in enumerate((dt.date(2003, 1, 10), dt.date(2003, 3, 10))):
        save_fact(
            models.Cycle(course=regular, date=day, administered_gbq=7.4, note=f"reg {i}"), by=by
        )
    course = save_fact(
        models.Course(patient=patient, phase="salvage", intended_activity_gbq=14.8), by=by
    )
    cycle = save_fact(
        models.Cycle(course=course, date=dt.date(2006, 1, 10), administered_gbq=7.4), by=by
    )
    save_fact(models.Cycle(course=course, date=dt.date(2006, 3, 10), administered_gbq=7.4), by=by)
    lab = None
    for day, plt in ((dt.date(2006, 1, 5), 250.0), (dt.date(2006, 2, 10), 40.0)):
        for analyte, value, unit in (
            ("platelets", plt, "10^9/L"),
            ("hemoglobin", 7.5, "mmol/L"),
            ("creatinine", 80.0, "umol/L"),
            ("wbc", 5.0, "10^9/L"),
        ):
            row = save_fact(
                models.LabResult(
                    patient=patient, date=day, analyte=analyte, value=value, unit=unit
                ),
                by=by,
            )
            lab = lab or row
    scan = None
    for day, size in ((dt.date(2005, 12, 20), 50.0), (dt.date(2006, 6, 1), 20.0)):
        s = save_fact(models.Scan(patient=patient, date=day, modality="CT"), by=by)
        save_fact(models.LesionMeasurement(scan=s, lesion="L1", organ="liver", long_mm=size), by=by)
        scan = scan or s
    progression = save_fact(
        models.ClinicalProgression(patient=patient, date=dt.date(2007, 1, 1), note="worse"), by=by
    )
    adverse = save_fact(
        models.AdverseEvent(
            patient=patient, term="Nausea", grade=2, onset=dt.date(2006, 1, 12), note="mild"
        ),
        by=by,
    )
    override = save_fact(
        models.ResponseOverride(
            course=course, criteria="swog", response="PR", reason="review", decided_by=by
        ),
        by=by,
    )
    prior = save_fact(
        models.PriorTreatment(patient=patient, type="surgery", start=dt.date(2002, 5, 1)), by=by
    )
    query = models.DataQuery.objects.create(
        patient=patient, fact_kind="lab", fact_id=lab.pk, subject="lab", text="Is this right?"
    )
    recompute_patient(patient.pk)
    return {
        "query": query.pk,
        "course": course.pk,
        "cycle": cycle.pk,
        "lab": lab.pk,
        "scan": scan.pk,
        "progression": progression.pk,
        "adverse": adverse.pk,
        "override": override.pk,
        "prior": prior.pk,
    }


@pytest.fixture
def world(site, other_site, clinician, researcher, other_clinician, admin_user, django_user_model):
    other_researcher = factories.UserFactory(username="res2", role="research", sites=[other_site])
    stranger = django_user_model.objects.create_user("stranger", password=factories.PASSWORD)
    mine = factories.PatientFactory(study_id="MINE-0001", site=site, weight_kg=70.0)
    identity = save_fact(
        models.PatientIdentity(
            patient=mine, name=OLD_NAME, hospital_number=OLD_HOSPITAL_NUMBER, birth_date=BIRTH
        ),
        by=clinician,
    )
    # A correction of the identity: its history must stay hidden from research roles.
    identity.name, identity.hospital_number = NAME, HOSPITAL_NUMBER
    save_fact(identity, by=clinician, reason="typo")
    # An identifying custom field, corrected too: its value and history stay hidden as well.
    models.CustomField.objects.create(
        code="gp_name", level="patient", type="text", label="General practitioner", identifying=True
    )
    models.CustomField.objects.create(
        code="stage", level="patient", type="choice", label="Stage",
        choices=[{"code": "IV", "label": "Stage IV"}],
    )  # fmt: skip
    mine.custom = {"gp_name": OLD_GP_NAME, "stage": "IV"}
    save_fact(mine, by=clinician)
    mine.custom = {"gp_name": GP_NAME, "stage": "IV"}
    save_fact(mine, by=clinician, reason="typo")
    theirs = factories.PatientFactory(study_id=OTHER_STUDY_ID, site=other_site)
    save_fact(
        models.PatientIdentity(
            patient=theirs,
            name=OTHER_NAME,
            hospital_number=OTHER_HOSPITAL_NUMBER,
            birth_date=OTHER_BIRTH,
        ),
        by=other_clinician,
    )
    world = World(
        users={
            "clinician": clinician,
            "research": researcher,
            "admin": admin_user,
            "other_clinician": other_clinician,
            "other_research": other_researcher,
            "stranger": stranger,
        },
        mine=PatientWorld(mine, _fill_patient(mine, clinician)),
        theirs=PatientWorld(theirs, _fill_patient(theirs, other_clinician)),
        export_jobs={
            "mine": models.ExportJob.objects.create(created_by=researcher, params={}).pk,
            "theirs": models.ExportJob.objects.create(created_by=other_researcher, params={}).pk,
        },
        import_jobs={
            "mine": models.ImportJob.objects.create(created_by=clinician, document=None).pk,
            "theirs": models.ImportJob.objects.create(created_by=other_clinician, document=None).pk,
        },
        site_ids={"mine": site.pk, "theirs": other_site.pk},
    )
    field_id = models.CustomField.objects.get(code="gp_name").pk
    world.mine.facts["custom_field"] = world.theirs.facts["custom_field"] = field_id
    return world


# ------------------------------------------------------------------ every URL pattern


@dataclass(frozen=True)
class Route:
    name: str
    kwargs: tuple[str, ...]  # the URL's own keyword arguments (not the default ones)
    kind: str | None  # fact kind for `fact_id`, from the pattern's default kwargs or its name

    @property
    def is_api(self) -> bool:
        return self.name.startswith("api-")


def _walk(resolver: URLResolver, names: tuple[str, ...] = ()) -> Iterator[Route]:
    for p in resolver.url_patterns:
        groups = tuple(p.pattern.regex.groupindex)
        if isinstance(p, URLResolver):
            if p.app_name == "admin":
                continue  # Django's own admin: is_staff only, checked separately below
            yield from _walk(p, names + groups)
        elif isinstance(p, URLPattern) and p.name:
            kind = p.default_args.get("kind")
            yield Route(p.name, names + groups, kind)


ROUTES = sorted(set(_walk(get_resolver())), key=lambda r: r.name)
PUBLIC = {"login", "api-token", "api-schema", "api-docs"}
# Every signed-in user's own account, whatever the role: revoking one's API token.
OWN_ACCOUNT = {"api-token-revoke"}
# Pages that record or change clinical data: research roles get a 403.
WRITE_PAGES = {
    r.name
    for r in ROUTES
    if not r.is_api
    and (
        r.name.endswith(("_new", "_edit", "_delete"))
        or r.name in {"cycle_check", "patient_edit", "patient_new"}
    )
}
API_FACT_KINDS = {
    "api-course": "course",
    "api-cycle": "cycle",
    "api-lab": "lab",
    "api-scan": "scan",
    "api-clinical-progression": "progression",
    "api-adverse-event": "adverse",
    "api-response-override": "override",
    "api-prior-treatment": "prior",
}
# Routes of the verification workflow whose `pk` is a fact's (not of the API's fact list).
OTHER_API_KINDS = {
    "api-query": "query",
    "api-course-status": "course",
    "api-custom-field-detail": "custom_field",
}


def _fact_kind(route: Route) -> str:
    return route.kind or route.name.split("_")[0]


def url_for(route: Route, world: World, target: str) -> str:
    """The route's URL with the ids of `target` ("mine" or "theirs")."""
    pw = world.mine if target == "mine" else world.theirs
    kwargs: dict[str, object] = {}
    for name in route.kwargs:
        if name == "table":
            kwargs[name] = "patients"
        elif name == "fact_id":
            kwargs[name] = pw.facts[_fact_kind(route)]
        elif name == "pk":
            base = route.name if route.name in OTHER_API_KINDS else route.name.rsplit("-", 1)[0]
            if route.name.startswith("research_export"):
                kwargs[name] = world.export_jobs[target]
            elif base == "api-import":
                kwargs[name] = world.import_jobs[target]
            elif base == "api-site":
                kwargs[name] = world.site_ids[target]
            elif base in API_FACT_KINDS:
                kwargs[name] = pw.facts[API_FACT_KINDS[base]]
            elif base in OTHER_API_KINDS:
                kwargs[name] = pw.facts[OTHER_API_KINDS[base]]
            else:
                kwargs[name] = pw.patient.pk
        else:
            raise AssertionError(f"unknown URL kwarg {name} in {route.name}")
    return reverse(route.name, kwargs=kwargs)


def test_every_route_is_understood():
    """The crawl knows every URL kwarg of every route (a new route fails here first)."""
    assert len(ROUTES) > 40
    for route in ROUTES:
        assert set(route.kwargs) <= {"pk", "fact_id", "table"}, route


def body_of(response) -> bytes:
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)
    else:
        content = response.content
    headers = "\n".join(f"{k}: {v}" for k, v in response.items()).encode()
    return headers + b"\n" + content


def leaks(body: bytes, needles: list[str]) -> list[str]:
    text = body.decode("utf-8", errors="replace")
    # JSON answers escape non-ASCII; identifiers here are ASCII, but read JSON escapes anyway.
    return [n for n in needles if n in text or json.dumps(n)[1:-1] in text]


def forbidden_for(role: str) -> list[str]:
    """Identifier values (and study IDs of unseen patients) this role must never be shown."""
    every = OWN_IDENTIFIERS + OTHER_IDENTIFIERS
    return {
        "clinician": [*OTHER_IDENTIFIERS, OTHER_STUDY_ID],
        "other_clinician": [*OWN_IDENTIFIERS, "MINE-0001"],
        "research": [*every, OTHER_STUDY_ID],
        "other_research": [*every, "MINE-0001"],
        "stranger": [*every, OTHER_STUDY_ID, "MINE-0001"],
        "admin": [],
    }[role]


def assert_none(problems: list) -> None:
    """Fail listing every problem found (pytest would truncate a long list)."""
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(map(repr, problems[:200]))


def client_for(world: World, role: str | None) -> Client:
    client = Client(raise_request_exception=False)
    if role is not None:
        client.force_login(world.users[role])
    return client


def _get(client: Client, url: str, **extra):
    return client.get(url, **extra)


# ------------------------------------------------------------------ the crawl


def test_anonymous_is_sent_to_sign_in_everywhere(world):
    client = client_for(world, None)
    problems = []
    for route in ROUTES:
        url = url_for(route, world, "mine")
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            status = response.status_code
            if status >= 500:
                problems.append((method, url, status))
            elif route.name in PUBLIC:
                continue
            elif route.is_api:
                if status not in (401, 403):
                    problems.append((method, url, status))
            elif not (status == 302 and response["Location"].startswith("/accounts/login/")):
                problems.append((method, url, status))
    # Django's admin is for staff only.
    response = client.get("/admin/registry/patientidentity/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    for role in ("clinician", "research"):
        response = client_for(world, role).get("/admin/registry/patientidentity/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert_none(problems)


DEIDENTIFIED = {"patient_status", "api-cohort-report", "api-survival", "api-patient-outcomes"}
# Registry-wide objects that belong to no site: every signed-in user reads the same ones.
SHARED_ROUTES = {"api-custom-field-detail"}
ROLES = ["clinician", "research", "admin", "other_clinician", "other_research", "stranger"]


@pytest.mark.parametrize("role", ROLES)
def test_crawl_every_route_with_every_role(world, role):
    """No 500; another site's ids are a 404; research cannot write; nothing leaks."""
    client = client_for(world, role)
    user_target = "theirs" if role.startswith("other_") else "mine"
    foreign_target = "mine" if user_target == "theirs" else "theirs"
    needles = forbidden_for(role)
    problems: list[tuple] = []
    for route in ROUTES:
        if route.name in ("logout",):
            continue
        has_ids = any(k in route.kwargs for k in ("pk", "fact_id"))
        for target in (user_target, foreign_target) if has_ids else (user_target,):
            url = url_for(route, world, target)
            response = _get(client, url)
            status = response.status_code
            body = body_of(response)
            if status >= 500:
                problems.append(("500", url, status))
                continue
            if leaked := leaks(body, needles):
                problems.append(("leak", url, leaked))
            # Research pages, exports and JSON results are de-identified for everyone.
            deidentified = route.name.startswith("research") or route.name in DEIDENTIFIED
            if deidentified and (leaked := leaks(body, OWN_IDENTIFIERS + OTHER_IDENTIFIERS)):
                problems.append(("de-identified page leaks", url, leaked))
            foreign_object = (
                target == foreign_target and has_ids and route.name not in SHARED_ROUTES
            )
            # Without a role every object is refused alike (403), which confirms nothing;
            # nor does a POST-only route's 405, answered before any object is looked up.
            refused_alike = (role == "stranger" and status == 403) or status == 405
            if foreign_object and role != "admin" and status != 404 and not refused_alike:
                problems.append(("other site's object not 404", url, status))
            research_write = role in ("research", "other_research") and route.name in WRITE_PAGES
            if research_write and target == user_target and status != 403:
                problems.append(("research write page not 403", url, status))
            if role == "stranger" and status == 200 and has_ids:
                problems.append(("stranger sees an object", url, status))
    assert_none(problems)
    if role == "clinician":
        # The leak checks mean something: the same pages do show identifiers to clinicians.
        page = client.get(reverse("patient_detail", args=[world.mine.patient.pk]))
        assert leaks(body_of(page), [NAME, HOSPITAL_NUMBER, OLD_NAME]) == [
            NAME,
            HOSPITAL_NUMBER,
            OLD_NAME,
        ]
        assert leaks(body_of(page), date_spellings(BIRTH)) != []


def test_browsable_api_shows_research_no_identifiers(world):
    """The HTML rendering of the API (forms included) is de-identified too."""
    client = client_for(world, "research")
    problems = []
    for route in ROUTES:
        if route.is_api and route.name not in PUBLIC:
            url = url_for(route, world, "mine")
            response = client.get(url, HTTP_ACCEPT="text/html")
            if response.status_code >= 500:
                problems.append((url, response.status_code))
            elif leaked := leaks(body_of(response), OWN_IDENTIFIERS + OTHER_IDENTIFIERS):
                problems.append((url, leaked))
    assert_none(problems)


@pytest.mark.parametrize("role", ["research", "other_research"])
def test_research_cannot_post_to_any_write_page_or_endpoint(world, role):
    client = client_for(world, role)
    target = "theirs" if role.startswith("other_") else "mine"
    counts_before = _fact_counts()
    problems = []
    for route in ROUTES:
        url = url_for(route, world, target)
        if route.name in WRITE_PAGES:
            response = client.post(url, {"reason": "x", "version": "1"})
            if response.status_code != 403:
                problems.append((url, response.status_code))
        elif route.is_api and route.name not in PUBLIC | OWN_ACCOUNT:
            for method in ("post", "put", "patch", "delete"):
                response = getattr(client, method)(url, "{}", content_type="application/json")
                if response.status_code not in (403, 405):
                    problems.append((method, url, response.status_code))
    assert_none(problems)
    assert _fact_counts() == counts_before


def _fact_counts() -> dict[str, int]:
    return {
        m.__name__: m.objects.count()
        for m in (
            models.Patient,
            models.PatientIdentity,
            models.Course,
            models.Cycle,
            models.LabResult,
            models.Scan,
            models.LesionMeasurement,
            models.ClinicalProgression,
            models.AdverseEvent,
            models.ResponseOverride,
            models.ImportJob,
        )
    }


def test_clinician_cannot_write_another_sites_facts(world):
    """Edit/delete pages and API writes on the other site's ids: 404, nothing changes."""
    client = client_for(world, "clinician")
    before = _fact_counts()
    problems = []
    for route in ROUTES:
        if not any(k in route.kwargs for k in ("pk", "fact_id")) or route.name in PUBLIC:
            continue
        url = url_for(route, world, "theirs")
        if route.is_api:
            for method in ("put", "patch", "delete"):
                response = getattr(client, method)(url, "{}", content_type="application/json")
                # Sites are written by admins only: a 403 whatever the id confirms nothing.
                refused_alike = route.name == "api-site-detail" and response.status_code == 403
                if response.status_code not in (404, 405) and not refused_alike:
                    problems.append((method, url, response.status_code))
        else:
            response = client.post(url, {"reason": "x", "version": "1", "change_reason": "x"})
            if response.status_code not in (404, 405):
                problems.append(("post", url, response.status_code))
    assert_none(problems)
    assert _fact_counts() == before


def test_clinician_cannot_create_or_move_records_into_another_site(world):
    client = client_for(world, "clinician")
    theirs = world.theirs
    before = _fact_counts()
    # Pages: the other site is not a choice.
    response = client.post(
        reverse("patient_new"),
        {"study_id": "SNEAK-1", "site": world.site_ids["theirs"], "primary_site": "midgut"},
    )
    assert response.status_code == 200 and b"errorlist" in response.content
    # API: another site's code, patient or course is refused.
    attempts = [
        ("api-patient-list", {"study_id": "SNEAK-2", "site": "OTH", "primary_site": "midgut"}),
        ("api-course-list", {"patient": theirs.patient.pk, "phase": "salvage"}),
        (
            "api-cycle-list",
            {"course": theirs.facts["course"], "date": "2006-05-01", "activity_gbq": 7.4},
        ),
        ("api-clinical-progression-list", {"patient": theirs.patient.pk, "date": "2006-05-01"}),
        (
            "api-response-override-list",
            {
                "course": theirs.facts["course"],
                "criteria": "recist",
                "response": "PR",
                "reason": "x",
            },
        ),
    ]
    for name, body in attempts:
        response = client.post(reverse(name), body, content_type="application/json")
        assert response.status_code == 400, (name, response.status_code, response.content[:200])
    mine = reverse("api-patient-detail", args=[world.mine.patient.pk])
    response = client.patch(mine, {"site": "OTH"}, content_type="application/json")
    assert response.status_code == 400
    course = reverse("api-course-detail", args=[world.mine.facts["course"]])
    response = client.patch(course, {"patient": theirs.patient.pk}, content_type="application/json")
    assert response.status_code == 400
    assert _fact_counts() == before
    assert models.Patient.objects.get(pk=world.mine.patient.pk).site_id == world.site_ids["mine"]


def test_api_filters_on_another_sites_ids_find_nothing(world):
    """Filtering on another site's patient, course or study ID never reaches its records."""
    client = client_for(world, "clinician")
    theirs = world.theirs
    foreign = {
        "api-patient": {theirs.patient.pk},
        **{
            base: set(
                _fact_model(kind)
                .objects.filter(**{_patient_path(kind): theirs.patient})
                .values_list("pk", flat=True)
            )
            for base, kind in API_FACT_KINDS.items()
        },
    }
    problems = []
    for base, foreign_ids in foreign.items():
        url = reverse(f"{base}-list")
        for params in (
            {"patient": theirs.patient.pk},
            {"study_id": OTHER_STUDY_ID},
            {"site": "OTH"},
            {"course": theirs.facts["course"]},
            {"limit": 1000},
        ):
            response = client.get(url, params)
            assert response.status_code in (200, 400), (url, params, response.status_code)
            if response.status_code != 200:
                continue
            ids = {row["id"] for row in response.json()["results"]}
            if ids & foreign_ids or OTHER_STUDY_ID in response.content.decode():
                problems.append((url, params))
    # Cohort results with another site's code select nobody.
    for name in ("api-cohort-report", "api-survival"):
        response = client.get(reverse(name), {"site": "OTH", "phase": "salvage"})
        assert response.status_code == 200
        assert OTHER_STUDY_ID not in response.content.decode()
    response = client.get(reverse("research_patients"), {"site": "OTH"})
    assert response.status_code == 200 and OTHER_STUDY_ID.encode() not in response.content
    assert_none(problems)


def _fact_model(kind: str):
    return {
        "course": models.Course,
        "cycle": models.Cycle,
        "lab": models.LabResult,
        "scan": models.Scan,
        "progression": models.ClinicalProgression,
        "adverse": models.AdverseEvent,
        "override": models.ResponseOverride,
        "prior": models.PriorTreatment,
    }[kind]


def _patient_path(kind: str) -> str:
    return "course__patient" if kind in ("cycle", "override") else "patient"


def test_csv_and_xlsx_exports_hold_no_identifiers_nor_other_sites(world):
    from registry.research import exports

    client = client_for(world, "clinician")
    for table in [*exports.TABLES, "dictionary"]:
        response = client.get(reverse("research_export_csv", args=[table]))
        assert response.status_code == 200, table
        body = body_of(response)
        assert leaks(body, OWN_IDENTIFIERS + OTHER_IDENTIFIERS + [OTHER_STUDY_ID]) == [], table
    response = client.get(reverse("research_export_xlsx"))
    assert response.status_code == 200
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(response.content)) as book:
        text = b"".join(book.read(n) for n in book.namelist())
    assert leaks(text, OWN_IDENTIFIERS + OTHER_IDENTIFIERS + [OTHER_STUDY_ID]) == []
    assert b"MINE-0001" in text  # the own patient is exported, so the check above means something


def test_export_and_import_jobs_of_another_user_are_404(world):
    research = client_for(world, "research")
    other = world.export_jobs["theirs"]
    assert research.get(reverse("research_export_job", args=[other])).status_code == 404
    assert research.get(reverse("research_export_download", args=[other])).status_code == 404
    clinician = client_for(world, "clinician")
    theirs = world.import_jobs["theirs"]
    assert clinician.get(reverse("api-import-detail", args=[theirs])).status_code == 404
    listed = clinician.get(reverse("api-import-list")).json()
    assert theirs not in [job["id"] for job in listed["results"]]


# ------------------------------------------------------------------ junk in query strings

CLINIC_PARAMS = ["page", "q", "site", "status", "course", "criteria", "date", "gbq", "cycle"]
RESEARCH_PARAMS = [
    "phase",
    "round",
    "criteria",
    "primary_site",
    "site",
    "disease_control",
    "toxicity_window_days",
    "conf_type",
    "endpoint",
    "strata",
    "start_from",
    "start_to",
    "ttp_regular",
    "ttp_regular_cutoff",
    "drill",
    "page",
    "tables",
    "format",
]
API_PARAMS = [
    "limit",
    "offset",
    "ordering",
    "patient",
    "study_id",
    "site",
    "primary_site",
    "phase",
    "date_after",
    "date_before",
    "diagnosis_date_after",
    "analyte",
    "grade",
    "course",
    "criteria",
    "modality",
    "sex",
    "code",
    "round",
    "toxicity_window_days",
    "conf_type",
    "strata",
    "endpoint",
    "disease_control",
]


def _params_for(route: Route) -> list[str]:
    if route.is_api:
        return API_PARAMS
    if route.name.startswith("research"):
        return RESEARCH_PARAMS
    return CLINIC_PARAMS


def _unescaped_xss(response) -> bool:
    """Input reflected as markup in an HTML answer (JSON answers are not rendered)."""
    if not response.get("Content-Type", "").startswith("text/html"):
        return False
    return XSS.encode() in body_of(response)


# The routes that read query parameters get junk in each parameter on its own; the
# others (which ignore the query string) get it in all parameters at once.
QUERY_READERS = {"patient_list", "cycle_new", "cycle_check", "override_new", "api-patient-outcomes"}


def _reads_query(route: Route) -> bool:
    return (
        route.name in QUERY_READERS
        or route.name.startswith("research")
        or route.name.endswith("-list")
        or route.name in ("api-cohort-report", "api-survival")
    )


def _area(route: Route) -> str:
    if route.is_api:
        return "api"
    return "research" if route.name.startswith("research") else "clinic"


# Each area with the role whose code paths it exercises (research roles get 403 on the
# clinic's entry pages; the API and research pages parse parameters alike for every role).
QUERY_SHARDS = 2  # each area's routes split in two, so none of these takes a minute


@pytest.fixture
def pdf_rendered_once_per_document(monkeypatch):
    """WeasyPrint renders each distinct document once; the same HTML again reuses its PDF.

    Most junk in the report's parameters parses to one of six documents, which were
    rendered 29 times (60 % of this crawl's profiled time on the 2026-12-04 morning machine;
    15.0 -> 10.4 s for the research shard 0 on the evening one). The view still builds the
    HTML for every request, and every distinct document is really rendered.
    """
    import weasyprint

    rendered: dict[str, bytes] = {}

    class HTML(weasyprint.HTML):
        def __init__(self, *args, string: str, **kwargs):
            super().__init__(*args, string=string, **kwargs)
            self._source = string

        def write_pdf(self, *args, **kwargs):
            if self._source not in rendered:
                rendered[self._source] = super().write_pdf(*args, **kwargs)
            return rendered[self._source]

    monkeypatch.setattr(weasyprint, "HTML", HTML)
    return rendered


@pytest.mark.parametrize("shard", range(QUERY_SHARDS))
@pytest.mark.parametrize(
    ("role", "area"), [("clinician", "clinic"), ("research", "research"), ("clinician", "api")]
)
def test_junk_query_parameters_never_500(world, role, area, shard, request):
    if area == "research":
        rendered = request.getfixturevalue("pdf_rendered_once_per_document")
    client = client_for(world, role)
    problems = []
    routes = [r for r in ROUTES if _area(r) == area and r.name not in ("logout", *PUBLIC)]
    for route in routes[shard::QUERY_SHARDS]:
        url = url_for(route, world, "mine")
        params = _params_for(route)
        for junk in QUERY_JUNK:
            requests = [dict.fromkeys(params, junk)]
            if _reads_query(route) and junk in QUERY_JUNK_EACH:
                requests += [{p: junk} for p in params]
            for query in requests:
                response = client.get(url, query)
                if response.status_code >= 500:
                    problems.append((url, query if len(query) == 1 else "all", junk[:20]))
                elif _unescaped_xss(response):
                    problems.append(("xss", url, next(iter(query))))
        # Bytes that are not UTF-8, and repeated parameters.
        for raw in ("page=%ff%fe&q=%c3%28", "round=1&round=2&site=%80", "strata=%ff&drill=%fe"):
            response = client.get(url, QUERY_STRING=raw)
            if response.status_code >= 500:
                problems.append((url, raw))
    if area == "research" and any(
        r.name == "research_report_pdf" for r in routes[shard::QUERY_SHARDS]
    ):
        assert rendered, "the PDF report was never rendered"
    assert_none(problems)


# ------------------------------------------------------------------ junk in forms


class FormReader(HTMLParser):
    """The fields of the page's POST forms with their current values (what a browser sends)."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict[str, str]] = []
        self._select: str | None = None
        self._select_first: str | None = None
        self._textarea: str | None = None
        self._in_post_form = False
        self.choices: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._in_post_form = (a.get("method") or "").lower() == "post"
            if self._in_post_form:
                self.forms.append({})
            return
        if not self._in_post_form or not self.forms:
            return
        data = self.forms[-1]
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    data[name] = a.get("value") or "on"
                return
            data[name] = a.get("value") or ""
        elif tag == "select" and name:
            self._select, self._select_first = name, None
            self.choices.add(name)
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if self._select_first is None and value:
                self._select_first = value
                data.setdefault(self._select, value)
            if "selected" in a:
                data[self._select] = value
        elif tag == "textarea" and name:
            self._textarea = name
            data[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._in_post_form = False

    def handle_data(self, data):
        if self._textarea and self.forms:
            self.forms[-1][self._textarea] += data


def _complete(fields: dict[str, str]) -> dict[str, str]:
    """Fill the fields a clinician would type into, so one junk value meets valid neighbours."""
    out = dict(fields)
    out.pop("csrfmiddlewaretoken", None)
    for name, value in fields.items():
        if value:
            continue
        low = name.lower()
        if "date" in low or low.endswith(("_on", "onset", "scanned_on", "drawn_on")):
            out[name] = "2006-05-01"
        elif "reason" in low or low.endswith(("term", "note")):
            out[name] = "fuzzing"
        elif low.endswith("grade"):
            out[name] = "2"
        elif low.endswith("study_id"):
            out[name] = "FUZZ-1"
        elif low.endswith("_value") or low.endswith("value") or low.endswith("_mm"):
            out[name] = "42"
    return out


def _form_pages(world: World) -> list[str]:
    urls = []
    for route in ROUTES:
        if route.name in WRITE_PAGES and route.name != "cycle_check":
            urls.append(url_for(route, world, "mine"))
    return urls


LATER_FORMSET_ROW = re.compile(r"-[1-9][0-9]*-")
FORM_SHARDS = 4  # the pages split four ways, so xdist runs them in parallel, each < 1 min


@pytest.mark.parametrize("shard", range(FORM_SHARDS))
def test_junk_in_every_form_field_never_500(world, shard):
    """Each field of each form gets each junk value, the others keeping sensible values."""
    client = client_for(world, "clinician")
    problems = []
    for url in _form_pages(world)[shard::FORM_SHARDS]:
        if "/delete/" in url:
            continue  # a delete succeeds once; its fields are checked by the next test
        page = client.get(url, follow=True)
        assert page.status_code == 200, url
        reader = FormReader()
        reader.feed(page.content.decode())
        forms_ = [f for f in reader.forms if len(f) > 1]
        if not forms_:
            continue
        baseline = _complete(forms_[0])
        # A formset's later rows are the first row's form again (same fields, same
        # validation): junk goes into row 0 only, which keeps the scan form's cost sane.
        names = [n for n in baseline if n != "version" and not LATER_FORMSET_ROW.search(n)]
        for name in names:
            for junk in CHOICE_JUNK if name in reader.choices else FORM_JUNK:
                response = client.post(url, {**baseline, name: junk})
                if response.status_code >= 500:
                    problems.append((url, name, junk[:20]))
                elif _unescaped_xss(response):
                    problems.append(("xss", url, name))
        # A body that is not UTF-8 at all.
        response = client.generic(
            "POST",
            url,
            b"study_id=%ff%fe&date=%c3%28&reason=%80",
            content_type="application/x-www-form-urlencoded",
        )
        if response.status_code >= 500:
            problems.append((url, "non-utf8"))
    assert_none(problems)


def test_junk_in_delete_forms_never_500_and_deletes_nothing(world):
    client = client_for(world, "clinician")
    before = _fact_counts()
    problems = []
    for url in [u for u in _form_pages(world) if "/delete/" in u]:
        for junk in FORM_JUNK:
            for data in ({"version": junk, "reason": "x"}, {"version": "abc", "reason": junk}):
                response = client.post(url, data)
                if response.status_code >= 500 or response.status_code == 302:
                    problems.append((url, data["version"][:20], data["reason"][:20]))
    assert_none(problems)
    assert _fact_counts() == before


# ------------------------------------------------------------------ junk through the API


def _api_body(client: Client, url: str) -> dict:
    data = client.get(url).json()
    for key in ("id", "version", "created_at", "updated_at", "url", "decided_by"):
        data.pop(key, None)
    return data


JSON_JUNK: list[str] = [
    "1e309",
    "-1e309",
    "NaN",
    "Infinity",
    "-Infinity",
    "99999999999999999999999999999",
    "-1",
    "0",
    '""',
    '"abc"',
    '"0001-01-01"',
    '"9999-12-31"',
    '"1e309"',
    '"NaN"',
    "null",
    "true",
    "[]",
    "{}",
    '"' + "x" * 20000 + '"',
    '"\\u0000"',
    '"\\ud800"',
    "[[[[[[[[[[1]]]]]]]]]]",
]


# What a PATCH (partial=True) might treat differently from a POST: nothing, null, wrong types.
JSON_JUNK_PATCH = {"1e309", "NaN", '""', "null", "[]", "{}", '"\\u0000"', '"abc"'}


def _with(body: dict, key: str, raw: str) -> str:
    text = json.dumps({**body, key: "__JUNK__"})
    return text.replace('"__JUNK__"', raw)


@pytest.mark.parametrize("base", ["api-patient", *API_FACT_KINDS])
def test_junk_json_in_every_api_field_never_500(world, base):
    """One endpoint at a time, so xdist spreads them and none takes a minute."""
    client = client_for(world, "clinician")
    problems = []
    kind = API_FACT_KINDS.get(base)
    pk = world.mine.facts[kind] if kind else world.mine.patient.pk
    detail = reverse(f"{base}-detail", args=[pk])
    body = _api_body(client, detail)
    keys = list(body)
    if base == "api-scan":
        lesion = dict(body["lesions"][0])
        keys += [f"lesions.{k}" for k in lesion]
    for key in keys:
        for raw in JSON_JUNK:
            if key.startswith("lesions."):
                inner = key.split(".", 1)[1]
                lesion_text = _with(lesion, inner, raw)
                text = json.dumps({**body, "lesions": "__L__"}).replace(
                    '"__L__"', f"[{lesion_text}]"
                )
            else:
                text = _with(body, key, raw)
            calls = [("post", reverse(f"{base}-list"))]
            if raw in JSON_JUNK_PATCH:  # a PATCH validates each field as a POST does
                calls.append(("patch", detail))
            for method, url in calls:
                response = getattr(client, method)(url, text, content_type="application/json")
                if response.status_code >= 500:
                    problems.append((method, url, key, raw[:20]))
    # Non-UTF-8 and non-JSON bodies.
    for raw_body in (b"\xff\xfe{", b"not json", b"", b"[]", b'"x"'):
        response = client.generic(
            "POST", reverse(f"{base}-list"), raw_body, content_type="application/json"
        )
        if response.status_code >= 500:
            problems.append(("post", base, raw_body))
    assert_none(problems)


IMPORT_JUNK = [
    '{"format": "lutetia-cohort/1", "patients": [{"study_id": 1e309}]}',
    '{"format": "lutetia-cohort/1", "patients": [{"study_id": "X", "site": "ROT", '
    '"primary_site": "midgut", "courses": [{"phase": "salvage", "cycles": '
    '[{"date": "0001-01-01", "activity_gbq": 1e308}]}]}]}',
    '{"format": "lutetia-cohort/1", "sites": [{"code": []}], "patients": "x"}',
]


def test_junk_import_documents_never_500(world):
    client = client_for(world, "clinician")
    url = reverse("api-import-list")
    problems = []
    for raw in [*JSON_JUNK, *IMPORT_JUNK]:
        response = client.post(url, raw, content_type="application/json")
        if response.status_code >= 500:
            problems.append(raw[:40])
    assert_none(problems)


# ------------------------------------------------------------------ the code itself

SOURCES = [*ROOT.glob("registry/**/*.py"), *ROOT.glob("api/**/*.py")]
TEMPLATES = list(ROOT.glob("templates/**/*.html"))


def test_csrf_is_never_exempted_and_nothing_is_marked_safe():
    offenders = []
    for path in SOURCES + TEMPLATES:
        text = path.read_text()
        for needle in ("csrf_exempt", "mark_safe", "|safe", "autoescape off", "SafeString"):
            if needle in text:
                offenders.append((str(path.relative_to(ROOT)), needle))
    assert offenders == []
    from django.conf import settings

    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE


def test_raw_sql_never_formats_user_input():
    """Raw SQL only formats table names and constants; values always go as parameters."""
    pattern = re.compile(r"(execute|executemany|raw|extra|RawSQL)\(\s*f?[\"'].*\{(?P<expr>[^}]+)\}")
    # Quoted identifiers and constants; `staged`: the upsert's temporary table
    # (registry/derive/upsert.py), a quoted name made of a model's table and a digest.
    allowed = {"quoted", "LOCK_TIMEOUT_MS", "ImportJob._meta.db_table", "quote(table)", "staged"}
    found = []
    for path in SOURCES:
        for line in path.read_text().splitlines():
            m = pattern.search(line)
            if m and m.group("expr") not in allowed:
                found.append((str(path.relative_to(ROOT)), line.strip()))
    assert found == []


def test_csrf_is_enforced_on_page_posts(world):
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(world.users["clinician"])
    url = reverse("progression_new", args=[world.mine.patient.pk])
    before = _fact_counts()
    response = client.post(url, {"date": "2006-05-01", "note": "x"})
    assert response.status_code == 403
    response = client.post(
        reverse("api-clinical-progression-list"),
        {"patient": world.mine.patient.pk, "date": "2006-05-01"},
        content_type="application/json",
    )
    assert response.status_code == 403  # a session-authenticated API write needs the token too
    assert _fact_counts() == before


# ------------------------------------------------------------------ extreme stored values


def test_extreme_stored_facts_never_break_a_page(world):
    """Dates at the calendar's ends and the largest plausible values, entered as facts.

    Dates before 1900 are refused by the models (every path: forms, API, import),
    since the recompute's look-back windows would overflow on them; what is stored
    recomputes without error, and no page, export or API answer fails.
    """
    clinician = world.users["clinician"]
    patient = world.mine.patient
    course = models.Course.objects.get(pk=world.mine.facts["course"])
    stored: dict[str, list] = {"kept": [], "refused": []}

    def keep(fact):
        try:
            stored["kept"].append(save_fact(fact, by=clinician))
        except ValidationError:
            stored["refused"].append(fact)
            return None
        return fact

    days = (dt.date(1, 1, 1), dt.date(1899, 12, 31), dt.date(1900, 1, 1), dt.date(9999, 12, 31))
    for day in days:
        keep(models.Cycle(course=course, date=day, administered_gbq=15.0))
        keep(
            models.LabResult(
                patient=patient, date=day, analyte="platelets", value=5000.0, unit="10^9/L"
            )
        )
        scan = keep(models.Scan(patient=patient, date=day, modality="CT"))
        if scan is not None:
            keep(models.LesionMeasurement(scan=scan, lesion="L1", organ="liver", long_mm=1000.0))
        keep(models.ClinicalProgression(patient=patient, date=day))
        keep(models.AdverseEvent(patient=patient, term="x" * 200, grade=5, onset=day))
    assert len(stored["refused"]) == 3 * 5  # three of the four days, every dated fact
    patient.weight_kg = 500.0
    patient.diagnosis_date = dt.date(1900, 1, 1)
    keep(patient)
    assert recompute_patient(patient.pk) == "done"
    assert models.PatientState.objects.get(patient=patient).last_error == ""
    problems = []
    for role in ("clinician", "research", "admin"):
        client = client_for(world, role)
        for route in ROUTES:
            if route.name in ("logout",):
                continue
            url = url_for(route, world, "mine")
            response = client.get(url)
            if response.status_code >= 500:
                problems.append((role, url))
            else:
                body_of(response)  # a streamed export fails while it is read
    assert_none(problems)


def test_an_infinite_number_in_an_import_is_a_400_naming_its_path(world):
    """`1e309` in an import document used to be a 500 on PostgreSQL (jsonb refuses it)."""
    client = client_for(world, "clinician")
    before = models.ImportJob.objects.count()
    response = client.post(
        reverse("api-import-list"),
        '{"format": "lutetia-cohort/1", "patients": [{"study_id": "X", "ki67_percent": 1e309}]}',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json() == {"patients[0].ki67_percent": ["This number is too large."]}
    assert models.ImportJob.objects.count() == before


def test_nul_characters_in_the_patient_search_are_harmless(world):
    """`?q=%00` used to be a 500 on PostgreSQL, which refuses NUL even in a comparison."""
    client = client_for(world, "clinician")
    for params in ({"q": "MINE\x00"}, {"site": "\x00ROT"}):
        response = client.get(reverse("patient_list"), params)
        assert response.status_code == 200 and b"MINE-0001" in response.content


def test_dates_before_1900_are_a_field_error_on_every_path(world):
    """0001-01-01 used to be stored (API, import) and break the patient's recompute for good,
    and the cycle form and its warnings panel answered 500 on it."""
    client = client_for(world, "clinician")
    patient = world.mine.patient
    response = client.post(
        reverse("cycle_new", args=[patient.pk]),
        {"course": world.mine.facts["course"], "date": "0001-01-01", "administered_gbq": "7.4"},
    )
    assert response.status_code == 200 and b"before 1900" in response.content
    response = client.get(reverse("cycle_check", args=[patient.pk]), {"date": "0001-01-01"})
    assert response.status_code == 200
    response = client.post(
        reverse("api-cycle-list"),
        {"course": world.mine.facts["course"], "date": "0001-01-01", "activity_gbq": 7.4},
        content_type="application/json",
    )
    assert response.status_code == 400 and "date" in response.json()
    response = client.patch(
        reverse("api-lab-detail", args=[world.mine.facts["lab"]]),
        {"date": "1899-12-31"},
        content_type="application/json",
    )
    assert response.status_code == 400 and "date" in response.json()
    assert models.PatientState.objects.get(patient=patient).last_error == ""


def test_huge_ids_in_api_filters_and_bodies_are_400_or_empty(world):
    """`?course=<beyond 64 bits>` and a JSON `1e309` id used to answer 500."""
    client = client_for(world, "clinician")
    for name in ("api-cycle-list", "api-response-override-list"):
        response = client.get(reverse(name), {"course": "9" * 30})
        assert response.status_code == 200 and response.json()["count"] == 0
    response = client.post(
        reverse("api-course-list"),
        '{"patient": 1e309, "phase": "salvage"}',
        content_type="application/json",
    )
    assert response.status_code == 400 and "patient" in response.json()
