"""`field__any` matches exactly what `field__in` matches, on every backend (issue 17)."""

from __future__ import annotations

import pytest
from django.db import connection

from registry import models as m
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def labs():
    first, second = factories.PatientFactory(), factories.PatientFactory()
    return [
        factories.LabFactory(patient=first, analyte="platelets"),
        factories.LabFactory(patient=first, analyte="hemoglobin", value=12, unit="g/dL"),
        factories.LabFactory(patient=second, analyte="platelets"),
    ]


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("pk", "ids"),
        ("pk", []),
        ("pk", [None]),
        ("patient_id", "patients+none"),
        ("patient", "patient instances"),
        ("analyte", ["platelets", "sodium"]),
        ("date", "dates"),
    ],
)
def test_any_matches_what_in_matches(labs, field, values):
    named = {
        "ids": [labs[0].pk, labs[2].pk, 10**9],
        "patients+none": [labs[0].patient_id, None],
        "patient instances": [labs[2].patient],
        "dates": [labs[1].date],
    }
    values = named[values] if isinstance(values, str) else values
    found = set(m.LabResult.objects.filter(**{f"{field}__any": values}))
    assert found == set(m.LabResult.objects.filter(**{f"{field}__in": values}))


def test_on_postgresql_it_is_one_array_parameter(labs):
    sql, params = (
        m.LabResult.objects.filter(patient_id__any=[1, 2, 3]).values("pk").query.sql_with_params()
    )
    if connection.vendor == "postgresql":
        assert "= ANY(%s)" in sql and [1, 2, 3] in [list(p) for p in params]
    else:
        assert " IN (%s, %s, %s)" in sql


def test_a_subquery_is_as_in(labs):
    patients = m.Patient.objects.filter(pk=labs[0].patient_id).values("pk")
    assert m.LabResult.objects.filter(patient_id__any=patients).count() == 2
