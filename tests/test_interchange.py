"""`lutetia-cohort/1` import and export: round trip, idempotence, updates, queries."""

from __future__ import annotations

import copy
from unittest import mock

import pytest
from django.apps import apps

from registry import models as m
from registry.interchange import importing
from registry.interchange.demo import build_demo_document
from registry.interchange.documents import export_document, import_document, validate_document
from tests import factories
from tests.services import need_postgres

pytestmark = pytest.mark.django_db


def history_count() -> int:
    return sum(
        model.objects.count()
        for model in apps.get_app_config("registry").get_models()
        if model.__name__.startswith("Historical")
    )


def _empty_registry() -> None:
    m.Patient.objects.all().delete()
    m.Site.objects.all().delete()


def test_shared_example_imports_cleanly(reference):
    doc = reference("example_cohort.json")
    assert validate_document(doc) == []
    result = import_document(doc)
    assert (result.created, result.updated, result.unchanged, result.errors) == (2, 0, 0, [])
    anna = m.Patient.objects.get(study_id="EX-001")
    assert anna.identity.name == "Anna Example"
    hb = anna.labs.get(analyte="hemoglobin", date="2007-03-05")
    assert (hb.value, hb.unit) == (7.9, "mmol/L")
    assert hb.canonical_value == pytest.approx(7.9 * 1.611)
    salvage = anna.courses.get(phase="salvage")
    assert [c.administered_gbq for c in salvage.cycles.order_by("date")] == [7.4, 7.4]
    assert m.Patient.objects.get(study_id="EX-002").identity.name == ""  # absent -> blank


def _round_trip(doc) -> None:
    assert import_document(doc).ok
    first = export_document()
    _empty_registry()
    assert import_document(first).created == len(first["patients"])
    assert export_document() == first


def test_round_trip_of_the_example_is_identical(reference):
    _round_trip(reference("example_cohort.json"))


def test_round_trip_of_a_demo_cohort_is_identical():
    _round_trip(build_demo_document(12, seed=5))


def test_round_trip_on_postgresql(reference):
    need_postgres()
    _round_trip(build_demo_document(8, seed=9))


def test_export_keeps_blank_as_null_and_orders_facts(reference):
    import_document(reference("example_cohort.json"))
    doc = export_document()
    assert doc["format"] == "lutetia-cohort/2"
    assert doc["sites"] == [{"code": "DEMO", "name": "Example centre"}]
    ex2 = doc["patients"][1]
    assert ex2["name"] is None and ex2["hospital_number"] is None
    assert ex2["clinical_progressions"] == [{"date": "2006-10-30", "note": None}]
    anna = doc["patients"][0]
    assert [c["phase"] for c in anna["courses"]] == ["regular", "salvage"]
    keys = [(lab["date"], lab["analyte"]) for lab in anna["labs"]]
    assert keys == sorted(keys)
    assert validate_document(doc) == []


def test_deidentified_export_has_no_identifiers(reference):
    import_document(reference("example_cohort.json"))
    for patient in export_document(deidentified=True)["patients"]:
        assert (patient["name"], patient["hospital_number"], patient["birth_date"]) == (
            None,
            None,
            None,
        )


def test_export_of_one_site_lists_only_that_site():
    import_document(build_demo_document(10, seed=2, sites=["AAA", "BBB"]))
    doc = export_document(m.Patient.objects.filter(site__code="BBB"))
    assert doc["sites"] == [{"code": "BBB", "name": "BBB"}]
    assert doc["patients"] and {p["site"] for p in doc["patients"]} == {"BBB"}


def test_export_runs_a_fixed_number_of_queries(django_assert_num_queries):
    import_document(build_demo_document(3, seed=1))
    # nine per chunk of patients (facts.load_facts), the sites and the custom fields
    with django_assert_num_queries(12) as few:
        export_document()
    import_document(build_demo_document(9, seed=7, sites=["XYZ"]))
    with django_assert_num_queries(len(few.captured_queries)):
        export_document()


def test_second_import_changes_nothing_and_writes_no_history():
    doc = build_demo_document(6, seed=4)
    first = import_document(doc)
    assert first.created == 6
    before = (
        history_count(),
        export_document(),
        list(m.LabResult.objects.values_list("id", "version")),
    )
    with mock.patch.object(importing, "schedule_recompute") as recompute:
        second = import_document(copy.deepcopy(doc))
    assert (second.created, second.updated, second.unchanged) == (0, 0, 6)
    after = (
        history_count(),
        export_document(),
        list(m.LabResult.objects.values_list("id", "version")),
    )
    assert after == before
    recompute.assert_not_called()


def test_changed_patient_is_updated_in_place_and_others_left_alone(clinician):
    doc = build_demo_document(3, seed=11)
    import_document(doc)
    target = doc["patients"][1]
    study_id = target["study_id"]
    patient = m.Patient.objects.get(study_id=study_id)
    kept_course_ids = set(patient.courses.values_list("id", flat=True))
    history_before = history_count()

    changed = copy.deepcopy(doc)
    p = changed["patients"][1]
    p["primary_site"] = "bronchial"
    p["labs"][0]["value"] = p["labs"][0]["value"] + 1
    p["labs"].append({"date": "2001-01-01", "analyte": "alt", "value": 30, "unit": "U/L"})
    p["courses"][0]["cycles"][0]["activity_gbq"] = 7.0
    p["adverse_events"] = []
    with mock.patch.object(importing, "schedule_recompute") as recompute:
        result = import_document(changed, by=clinician)
    assert (result.created, result.updated, result.unchanged) == (0, 1, 2)
    recompute.assert_called_once_with([patient.pk])

    patient.refresh_from_db()
    assert patient.primary_site == "bronchial" and patient.version == 2
    assert set(patient.courses.values_list("id", flat=True)) == kept_course_ids
    first_cycle = m.Cycle.objects.get(
        course__patient=patient, date=p["courses"][0]["cycles"][0]["date"]
    )
    assert first_cycle.administered_gbq == 7.0 and first_cycle.version == 2
    assert patient.labs.filter(analyte="alt").count() == 1
    assert not patient.adverse_events.exists()
    # Exactly the document's patient: the export equals it.
    exported = export_document(m.Patient.objects.filter(study_id=study_id))["patients"][0]
    assert exported == export_document(m.Patient.objects.filter(pk=patient.pk))["patients"][0]
    assert exported["primary_site"] == "bronchial"
    # The update left an audit trail with the importer: patient, cycle, two labs, ...
    assert history_count() > history_before
    assert import_document(changed).unchanged == 3


def test_import_reports_progress_up_to_one():
    seen: list[float] = []
    import_document(build_demo_document(4, seed=3), progress=seen.append)
    assert seen and seen == sorted(seen) and seen[-1] == 1.0
    assert all(0 <= f <= 1 for f in seen)


def test_recompute_is_scheduled_once_for_every_new_patient():
    with mock.patch.object(importing, "schedule_recompute") as recompute:
        import_document(build_demo_document(5, seed=8))
    recompute.assert_called_once()
    assert sorted(recompute.call_args.args[0]) == sorted(
        m.Patient.objects.values_list("id", flat=True)
    )


def test_existing_site_is_not_renamed_and_missing_one_is_created():
    factories.SiteFactory(code="ROT", name="Erasmus MC")
    import_document(build_demo_document(4, seed=1, sites=["ROT", "NEW"]))
    assert m.Site.objects.get(code="ROT").name == "Erasmus MC"
    assert m.Site.objects.get(code="NEW").name == "NEW"


def test_new_ids_follow_deleted_ones_without_reuse():
    import_document(build_demo_document(2, seed=1))
    highest = m.LabResult.objects.order_by("-id").first().id
    m.Patient.objects.all().delete()
    import_document(build_demo_document(2, seed=2))
    assert m.LabResult.objects.order_by("id").first().id > highest
