"""Security review, finding 7: HTML typed into a study ID or a site code is chart text,
never a link or styling inside a Plotly figure."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from registry.research import figures, model_figures
from registry.research.figures import SwimLane, WaterfallBar

EVIL = '<a href="//ev.il">click</a><span style="font-size:99px">x</span>'


def test_text_escapes_what_plotly_would_read_as_html():
    assert figures.text(EVIL) == (
        '&lt;a href="//ev.il"&gt;click&lt;/a&gt;&lt;span style="font-size:99px"&gt;x&lt;/span&gt;'
    )
    assert figures.text("ROT-001") == "ROT-001"


def test_km_incidence_and_forest_labels_are_escaped():
    group = {"label": EVIL, "n": 1, "events": 1, "median": None, "table": []}
    km = figures.km_figure({"groups": [group], "endpoint": "ttp"})
    incidence = model_figures.incidence_figure(
        {"groups": [{**group, "progressions": 0, "deaths": 0}]}
    )
    forest = model_figures.forest_figure(
        {"terms": [{"term": EVIL, "hr": 1.0, "ci95": [0.5, 2.0]}], "univariable": []}
    )
    for figure in (km, incidence, forest):
        assert "<a " not in json.dumps(figure) and "<span" not in json.dumps(figure)


@pytest.mark.django_db
def test_the_dashboard_draws_an_html_site_code_as_text(
    admin_user, django_capture_on_commit_callbacks
):
    """Study IDs can no longer hold HTML (tests/test_study_id_characters.py); a site code,
    typed by an admin, still can, and it labels the curves of `strata=site`."""
    from registry.interchange.demo import build_demo_document
    from registry.interchange.documents import import_document
    from registry.models import Site

    document = build_demo_document(12, seed=2, sites=("ROT",))
    with django_capture_on_commit_callbacks(execute=True):
        import_document(document, validate=False)
    Site.objects.filter(code="ROT").update(code='<a href="//e">')
    client = Client()
    client.force_login(admin_user)
    page = client.get("/research/", {"strata": "site"}).content.decode()
    scripts = [part.split("</script>")[0] for part in page.split('type="application/json">')[1:]]
    assert scripts and not any("<a " in s or "\\u003Ca " in s for s in scripts)
    # json_script writes & as \u0026: the escaped tag, as text.
    assert any("\\u0026lt;a href" in s for s in scripts)


def test_waterfall_and_swimmer_take_the_escaped_ids():
    bar = WaterfallBar(figures.text(EVIL), -40.0, "PR")
    lane = SwimLane(figures.text(EVIL), 10.0, [0.0], [], None, None)
    for figure in (figures.waterfall_figure([bar], "swog"), figures.swimmer_figure([lane])):
        assert "<a " not in json.dumps(figure)
