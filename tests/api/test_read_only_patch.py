"""Security review, finding 12: a PATCH of read-only fields only is a 400 naming them,
and writes no new version or audit row."""

from __future__ import annotations

import pytest

from registry import models
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


def test_a_patch_of_read_only_fields_only_changes_nothing(world, clinician):
    lab = models.LabResult.objects.filter(patient=world.mine).first()
    client = client_for(clinician)
    url = f"/api/v1/labs/{lab.pk}/"
    before = client.get(url)
    history = lab.history.count()
    response = client.patch(url, {"id": 999}, format="json")
    assert response.status_code == 400
    assert response.json() == {"id": ["Read-only: it cannot be changed."]}
    lab.refresh_from_db()
    assert lab.history.count() == history
    assert client.get(url)["ETag"] == before["ETag"]
    # A PATCH with a writable field alongside still works, the read-only one ignored.
    ok = client.patch(
        url, {"id": 999, "value": lab.value + 1}, format="json", HTTP_IF_MATCH=before["ETag"]
    )
    assert ok.status_code == 200 and ok.json()["id"] == lab.pk


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_is_not_a_number(world, clinician, value):
    patient = world.mine
    url = f"/api/v1/patients/{patient.pk}/"
    client = client_for(clinician)
    tag = client.get(url)["ETag"]
    response = client.patch(url, {"ki67_percent": value}, format="json", HTTP_IF_MATCH=tag)
    assert response.status_code == 400
    assert response.json() == {"ki67_percent": ["A number is required, not true or false."]}
