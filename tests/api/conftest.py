"""Fixtures of the REST API tests: token clients per role and a small two-site registry."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from registry import models
from registry.derive import recompute
from tests import factories

START = dt.date(2005, 6, 1)


@pytest.fixture(autouse=True)
def no_throttling(monkeypatch):
    """The configured rates would throttle a test run; the throttle test sets its own.

    DRF copies the rates into the throttle class at import, so the class is
    patched rather than the setting.
    """
    from django.core.cache import cache
    from rest_framework.throttling import SimpleRateThrottle

    rates = {"anon": "100000/minute", "user": "100000/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    # The database cache's table outlives a transactional test; a test with no
    # database access has no counters to clear.
    with contextlib.suppress(RuntimeError):
        cache.clear()


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def clin(clinician):
    return client_for(clinician)


@pytest.fixture
def other(other_clinician):
    return client_for(other_clinician)


@pytest.fixture
def res(researcher):
    return client_for(researcher)


@pytest.fixture
def adm(admin_user):
    return client_for(admin_user)


@dataclass
class World:
    """One patient with one of every fact at each of two sites."""

    mine: models.Patient
    theirs: models.Patient

    def objects(self, patient: models.Patient) -> dict[str, int]:
        """Resource path -> id of that patient's record."""
        course = patient.courses.first()
        return {
            "sites": patient.site_id,
            "patients": patient.pk,
            "courses": course.pk,
            "cycles": course.cycles.first().pk,
            "labs": patient.labs.first().pk,
            "scans": patient.scans.first().pk,
            "clinical-progressions": patient.clinical_progressions.first().pk,
            "adverse-events": patient.adverse_events.first().pk,
            "response-overrides": course.overrides.first().pk,
        }


def full_patient(site, study_id: str, *, decided_by=None) -> models.Patient:
    patient = factories.PatientFactory(
        site=site, study_id=study_id, last_follow_up=dt.date(2008, 1, 1)
    )
    factories.IdentityFactory(patient=patient, name=f"Name of {study_id}")
    course = factories.CourseFactory(patient=patient)
    factories.CycleFactory(course=course, date=START)
    factories.CycleFactory(course=course, date=START + dt.timedelta(days=56))
    baseline = factories.ScanFactory(patient=patient, date=START - dt.timedelta(days=10))
    factories.LesionFactory(scan=baseline, lesion="L1", long_mm=40, short_mm=30)
    follow_up = factories.ScanFactory(patient=patient, date=START + dt.timedelta(days=120))
    factories.LesionFactory(scan=follow_up, lesion="L1", long_mm=30, short_mm=25)
    factories.LabFactory(patient=patient, date=START + dt.timedelta(days=30), value=60.0)
    models.ClinicalProgression.objects.create(patient=patient, date=dt.date(2007, 3, 1))
    models.AdverseEvent.objects.create(
        patient=patient, term="Nausea", grade=1, onset=START + dt.timedelta(days=1)
    )
    models.ResponseOverride.objects.create(
        course=course, criteria="recist", response="SD", reason="Reviewed", decided_by=decided_by
    )
    recompute.recompute_patient(patient.pk)
    return patient


@pytest.fixture
def world(site, other_site, clinician) -> World:
    return World(
        mine=full_patient(site, "ROT-001", decided_by=clinician),
        theirs=full_patient(other_site, "OTH-001"),
    )
