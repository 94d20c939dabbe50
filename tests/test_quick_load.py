"""`QuickLoad.from_db` builds the instance Django's own `from_db` would (issue 17)."""

from __future__ import annotations

import pytest
from django.db.models import Model, signals

from registry import models as m
from registry.models.base import QuickLoad
from tests import factories

pytestmark = pytest.mark.django_db

QUICK = [
    model
    for model in (m.Patient, m.PatientIdentity, m.Course, m.Cycle, m.LabResult, m.Site,
                  m.CourseOutcome, m.PatientState)
    if issubclass(model, QuickLoad)
]  # fmt: skip


def state(instance: Model) -> dict:
    return {k: v for k, v in instance.__dict__.items() if k != "_state"}


def django_built(model, instance: Model) -> Model:
    """The same row through `Model.from_db`, Django's path."""
    names = [f.attname for f in model._meta.concrete_fields]
    return Model.from_db.__func__(model, "default", names, [instance.__dict__[n] for n in names])


def test_every_model_the_cohort_reads_loads_quickly():
    assert {m.Patient, m.PatientIdentity, m.Course, m.Site, m.CourseOutcome} <= set(QUICK)


def test_an_instance_read_quickly_equals_djangos(db):
    lab = factories.LabFactory()
    for model, pk in ((m.LabResult, lab.pk), (m.Patient, lab.patient_id),
                      (m.Site, lab.patient.site_id)):  # fmt: skip
        quick = model.objects.get(pk=pk)
        slow = django_built(model, quick)
        assert state(quick) == state(slow)
        assert not quick._state.adding and quick._state.db == "default"
        assert quick == slow and hash(quick) == hash(slow)


def test_deferred_columns_load_on_access_and_relations_are_cached():
    lab = factories.LabFactory(value=123)
    quick = m.LabResult.objects.defer("value").select_related("patient__site").get(pk=lab.pk)
    assert "value" not in quick.__dict__
    assert quick.value == 123  # loaded on first access, as Django does
    assert quick.patient.site.code == lab.patient.site.code  # no query: cached by select_related


def test_a_quick_instance_saves_and_refreshes_as_any_other():
    patient = m.Patient.objects.get(pk=factories.PatientFactory().pk)
    patient.ki67_percent = 12.5
    patient.save(update_fields=["ki67_percent"])
    patient.refresh_from_db()
    assert patient.ki67_percent == 12.5


def test_a_model_with_init_receivers_takes_djangos_path():
    seen = []

    def noted(sender, instance, **kwargs):
        seen.append(instance)

    factories.SiteFactory()
    signals.post_init.connect(noted, sender=m.Site)
    try:
        site = m.Site.objects.first()
    finally:
        signals.post_init.disconnect(noted, sender=m.Site)
    assert seen == [site]


# ------------------------------------------------------------------ unsaved rows


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (m.TimePointResponse, {"course_id": 1, "scan_id": 2, "criteria": "swog", "total_mm": 4.5}),
        (m.CourseOutcome, {"course_id": 1, "patient_id": 2, "phase": "salvage", "round": 1}),
        (m.PatientState, {"patient_id": 3}),  # JSON default: a callable, called for each
    ],
)
def test_an_unsaved_instance_equals_djangos(model, values):
    quick, slow = model.unsaved(**values), model(**values)
    assert state(quick) == state(slow)
    assert quick._state.adding and quick._state.db is None and quick.pk is None
    if model is m.PatientState:
        assert model.unsaved(**values).quality_findings is not quick.quality_findings


def test_an_unsaved_instance_saves_and_a_wrong_name_raises_as_in_django():
    patient = factories.PatientFactory()
    state_row = m.PatientState.objects.filter(patient=patient).first()
    if state_row:
        state_row.delete()
    made = m.PatientState.unsaved(patient_id=patient.pk, stale=True)
    made.save()
    assert m.PatientState.objects.get(patient=patient).stale is True
    with pytest.raises(TypeError, match="nope"):
        m.CourseOutcome.unsaved(nope=1)
