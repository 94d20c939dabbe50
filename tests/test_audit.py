"""Every clinical write records who, when, why, before and after."""

from __future__ import annotations

import copy

import pytest

from registry import models as m
from registry.interchange.documents import import_document
from registry.records.facts import save_fact

pytestmark = pytest.mark.django_db


def test_import_writes_history_rows_with_the_user_and_the_reason(reference, clinician):
    import_document(reference("example_cohort.json"), by=clinician)
    for model in (
        m.Patient,
        m.PatientIdentity,
        m.Course,
        m.Cycle,
        m.LabResult,
        m.Scan,
        m.LesionMeasurement,
        m.ClinicalProgression,
        m.AdverseEvent,
    ):
        rows = model.history.all()
        assert rows.count() == model.objects.count() > 0, model.__name__
        assert set(rows.values_list("history_user", "history_change_reason", "history_type")) == {
            (clinician.pk, "import", "+")
        }, model.__name__
    # A history row is the record as it was written.
    lab = m.LabResult.objects.filter(unit="mmol/L").first()
    snapshot = lab.history.get()
    assert (snapshot.value, snapshot.unit, snapshot.canonical_value, snapshot.date) == (
        lab.value,
        lab.unit,
        lab.canonical_value,
        lab.date,
    )


def test_import_update_and_delete_are_audited_with_the_user(reference, clinician, admin_user):
    doc = reference("example_cohort.json")
    import_document(doc, by=clinician)
    changed = copy.deepcopy(doc)
    changed["patients"][1]["adverse_events"] = []
    changed["patients"][1]["courses"][1]["stop_reason"] = "toxicity"
    assert import_document(changed, by=admin_user).updated == 1

    deleted = m.AdverseEvent.history.get(history_type="-")
    assert (deleted.history_user, deleted.history_change_reason, deleted.term) == (
        admin_user,
        "import",
        "Nausea",
    )
    course = m.Course.objects.get(patient__study_id="EX-002", phase="salvage")
    before, after = course.history.order_by("history_date", "history_id")
    assert (before.stop_reason, after.stop_reason) == ("progression", "toxicity")
    assert (after.history_type, after.history_user, after.history_change_reason) == (
        "~",
        admin_user,
        "import",
    )


def test_save_fact_records_before_and_after(reference, clinician):
    import_document(reference("example_cohort.json"))
    cycle = m.Cycle.objects.filter(course__patient__study_id="EX-001").order_by("date").first()
    cycle.administered_gbq = 7.0
    save_fact(
        cycle,
        by=clinician,
        reason="corrected from the pharmacy record",
        expected_version=cycle.version,
    )
    older, newer = cycle.history.order_by("history_date", "history_id")
    assert (older.administered_gbq, newer.administered_gbq) == (7.4, 7.0)
    assert newer.history_user == clinician
    assert newer.history_change_reason == "corrected from the pharmacy record"
    assert newer.version == older.version + 1
    delta = newer.diff_against(older)
    assert [(c.field, c.old, c.new) for c in delta.changes if c.field == "administered_gbq"] == [
        ("administered_gbq", 7.4, 7.0)
    ]
