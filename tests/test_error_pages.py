"""Unknown URLs answer in the caller's language: JSON under /api/, HTML elsewhere."""

import pytest
from django.test import override_settings


@override_settings(DEBUG=False)
@pytest.mark.parametrize("path", ["/api/v1/nothing-here/", "/api/v1/patients/not-a-number/"])
def test_api_404_is_json(client, clinician, path):
    client.force_login(clinician)
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "Not found."}


@override_settings(DEBUG=False)
def test_page_404_is_html(client, clinician):
    client.force_login(clinician)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
