"""Small things every visitor and REST client meets: the favicon, and a page size above
the maximum answered with a 400 instead of a silent cap (CONTRACT.md)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


def test_the_favicon_is_served_without_a_login_and_linked_from_every_page(clinician):
    response = Client().get("/favicon.ico")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file
    client = Client()
    client.force_login(clinician)
    assert 'rel="icon"' in client.get("/patients/").content.decode()


@pytest.mark.parametrize("limit", ["501", "5000"])
def test_a_limit_above_the_maximum_is_a_400_naming_it(clinician, limit):
    response = client_for(clinician).get("/api/v1/labs/", {"limit": limit})
    assert response.status_code == 400
    assert response.json() == {"limit": ["At most 500 per page."]}


def test_the_maximum_itself_is_fine_and_documented(clinician):
    client = client_for(clinician)
    assert client.get("/api/v1/labs/", {"limit": "500"}).status_code == 200
    schema = client.get("/api/v1/schema/?format=json").json()
    limit = next(
        p for p in schema["paths"]["/api/v1/labs/"]["get"]["parameters"] if p["name"] == "limit"
    )
    assert limit["schema"]["maximum"] == 500
