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
        ("patient_id", "patient ids"),
        ("patient_id", "patient ids as text"),
        ("patient", "patient ids"),
        ("analyte", ["platelets", "sodium"]),
        ("date", "dates"),
    ],
)
def test_any_matches_what_in_matches(labs, field, values):
    named = {
        "ids": [labs[0].pk, labs[2].pk, 10**9],
        "patients+none": [labs[0].patient_id, None],
        "patient instances": [labs[2].patient],
        "patient ids": [labs[2].patient_id, 10**9],
        "patient ids as text": [str(labs[2].patient_id)],
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


def test_plain_ints_on_an_integer_column_skip_preparing_each_value(labs, monkeypatch):
    """The fast path: neither the foreign key's nor its target's preparation runs per id,
    and the rows found are those `in` finds; text ids still go through preparation."""
    from django.db.models import BigAutoField

    ids = [labs[0].patient_id, labs[2].patient_id]
    expected = set(m.LabResult.objects.filter(patient_id__in=ids))
    prepared = []
    real = BigAutoField.get_prep_value
    monkeypatch.setattr(
        BigAutoField, "get_prep_value", lambda self, v: prepared.append(v) or real(self, v)
    )
    assert set(m.LabResult.objects.filter(patient_id__any=ids)) == expected
    assert set(m.LabResult.objects.filter(pk__any=[lab.pk for lab in labs])) == set(labs)
    assert prepared == []
    text = [str(i) for i in ids]
    assert set(m.LabResult.objects.filter(patient_id__any=text)) == expected
    assert prepared


def test_an_id_array_matches_what_its_ids_as_a_list_match(labs):
    """`IdArray`: the same rows as the list, on every backend and any integer column;
    on PostgreSQL one text literal, written once for every query that uses it."""
    from registry.models.lookups import IdArray

    ids = [labs[0].patient_id, 10**9]
    expected = set(m.LabResult.objects.filter(patient_id__in=ids))
    array = IdArray(ids)
    assert set(m.LabResult.objects.filter(patient_id__any=array)) == expected
    assert set(m.LabResult.objects.filter(patient__any=array)) == expected
    assert set(m.LabResult.objects.filter(pk__any=IdArray([labs[1].pk]))) == {labs[1]}
    assert not m.LabResult.objects.filter(patient_id__any=IdArray([])).exists()
    assert len(array) == 2 and list(array) == ids
    if connection.vendor == "postgresql":
        sql, params = (
            m.LabResult.objects.filter(patient_id__any=array).values("pk").query.sql_with_params()
        )
        assert "= ANY(%s::bigint[])" in sql and f"{{{ids[0]},{10**9}}}" in params
        assert array.literal is array.literal  # made once, kept


def test_an_id_array_holds_ints_only():
    from registry.models.lookups import IdArray

    with pytest.raises(TypeError):
        IdArray([1, "2"])
    with pytest.raises(TypeError):
        IdArray([1, None])
