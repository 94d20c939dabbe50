"""The database itself refuses bad rows: one test per constraint in registry/models.

Each case writes past Django's validation (`bulk_create` or `update`) so that
only the constraint stands in the way. A coverage test fails when a model
gains a constraint that has no case here. The last tests check the friendly
face of the same rules: validation messages that name the field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from registry import models as m
from tests import factories

pytestmark = pytest.mark.django_db


def _patient(**overrides) -> m.Patient:
    return m.Patient(
        study_id=overrides.pop("study_id", "BAD-1"),
        site=factories.SiteFactory(code="CON"),
        primary_site="pancreas",
        **overrides,
    )


def _insert(obj) -> Callable[[], None]:
    return lambda: type(obj).objects.bulk_create([obj])


def _course(**kw) -> m.Course:
    return m.Course(patient=factories.PatientFactory(), phase="salvage", **kw)


def _cycle(**kw) -> m.Cycle:
    values = {"date": dt.date(2005, 6, 1), "administered_gbq": 7.4, **kw}
    return m.Cycle(course=factories.CourseFactory(), **values)


def _query(**kw) -> m.DataQuery:
    fields = {"fact_kind": "patient", "fact_id": 1, "subject": "s", "text": "t", **kw}
    return m.DataQuery(patient=factories.PatientFactory(), **fields)


def _lab(**kw) -> m.LabResult:
    values = {
        "date": dt.date(2005, 7, 1),
        "analyte": "platelets",
        "value": 100.0,
        "unit": "10^9/L",
        "canonical_value": 100.0,
        **kw,
    }
    return m.LabResult(patient=factories.PatientFactory(), **values)


def _lesion(**kw) -> m.LesionMeasurement:
    return m.LesionMeasurement(scan=factories.ScanFactory(), **{"lesion": "L1", **kw})


def _override(**kw) -> m.ResponseOverride:
    values = {"criteria": "swog", "response": "PR", "reason": "radiology review", **kw}
    return m.ResponseOverride(course=factories.CourseFactory(), **values)


def _event(**kw) -> m.AdverseEvent:
    values = {"term": "Nausea", "grade": 1, "onset": dt.date(2005, 1, 1), **kw}
    return m.AdverseEvent(patient=factories.PatientFactory(), **values)


def _prior(**kw) -> m.PriorTreatment:
    return m.PriorTreatment(patient=factories.PatientFactory(), **kw)


def _field(**kw) -> m.CustomField:
    values = {"code": "gs", "level": "patient", "type": "number", "label": "GS", **kw}
    return m.CustomField(**values)


def _duplicate_cycle() -> None:
    cycle = factories.CycleFactory()
    m.Cycle.objects.bulk_create(
        [m.Cycle(course=cycle.course, date=cycle.date, administered_gbq=7.4)]
    )


def _duplicate_lesion() -> None:
    lesion = factories.LesionFactory()
    m.LesionMeasurement.objects.bulk_create(
        [m.LesionMeasurement(scan=lesion.scan, lesion=lesion.lesion)]
    )


def _duplicate_override() -> None:
    first = _override()
    first.save()
    m.ResponseOverride.objects.bulk_create(
        [m.ResponseOverride(course=first.course, criteria="swog", response="SD", reason="again")]
    )


def _duplicate_time_point() -> None:
    course = factories.CourseFactory()
    scan = factories.ScanFactory(patient=course.patient)
    row = {"course": course, "scan": scan, "criteria": "swog", "response": "SD"}
    m.TimePointResponse.objects.create(**row, days_from_start=60)
    m.TimePointResponse.objects.bulk_create([m.TimePointResponse(**row, days_from_start=61)])


def _bad_role() -> None:
    user = factories.UserFactory(role="clinician")
    m.StaffProfile.objects.filter(user=user).update(role="superhero")


BAD_ROWS: dict[str, Callable[[], Callable[[], None] | None]] = {
    "patient_death_not_before_diagnosis": lambda: _insert(
        _patient(diagnosis_date=dt.date(2005, 1, 1), death_date=dt.date(2004, 12, 31))
    ),
    "patient_ki67_percent_range": lambda: _insert(_patient(ki67_percent=101)),
    "patient_weight_plausible": lambda: _insert(_patient(weight_kg=0)),
    "patient_sex_valid": lambda: _insert(_patient(sex="X")),
    "patient_primary_site_valid": lambda: _insert(
        m.Patient(study_id="BAD-2", site=factories.SiteFactory(code="CON"), primary_site="liver")
    ),
    "patient_study_id_characters": lambda: _insert(_patient(study_id="<a href=//e>")),
    "course_intended_activity_range": lambda: _insert(_course(intended_activity_gbq=0)),
    "course_phase_valid": lambda: _insert(m.Course(patient=factories.PatientFactory(), phase="x")),
    "course_stop_reason_valid": lambda: _insert(_course(stop_reason="boredom")),
    "course_record_status_valid": lambda: _insert(_course(record_status="signed")),
    "dataquery_status_valid": lambda: _insert(_query(status="pending")),
    "dataquery_fact_kind_valid": lambda: _insert(_query(fact_kind="lesion")),
    "cycle_activity_range": lambda: _insert(_cycle(administered_gbq=15.5)),
    "cycle_one_per_course_date": lambda: _duplicate_cycle,
    "adverse_event_grade_range": lambda: _insert(
        m.AdverseEvent(
            patient=factories.PatientFactory(), term="Nausea", grade=6, onset=dt.date(2005, 1, 1)
        )
    ),
    "override_once_per_course_criteria": lambda: _duplicate_override,
    "override_reason_required": lambda: _insert(_override(reason="")),
    "override_response_valid": lambda: _insert(_override(response="XX")),
    "override_criteria_valid": lambda: _insert(_override(criteria="who")),
    "override_no_mr_in_recist": lambda: _insert(_override(criteria="recist", response="MR")),
    "scan_modality_valid": lambda: _insert(
        m.Scan(patient=factories.PatientFactory(), date=dt.date(2005, 1, 1), modality="XR")
    ),
    "lesion_once_per_scan": lambda: _duplicate_lesion,
    "lesion_long_mm_range": lambda: _insert(_lesion(long_mm=1001)),
    "lesion_short_mm_range": lambda: _insert(_lesion(short_mm=-1)),
    "lesion_status_valid": lambda: _insert(_lesion(target=False, status="growing")),
    "importjob_progress_range": lambda: _insert(m.ImportJob(progress=1.5)),
    "exportjob_progress_range": lambda: _insert(m.ExportJob(progress=-0.1)),
    "lab_value_not_negative": lambda: _insert(_lab(value=-1)),
    "lab_canonical_not_negative": lambda: _insert(_lab(canonical_value=-1)),
    "lab_lln_not_negative": lambda: _insert(_lab(lln=-1)),
    "lab_uln_not_negative": lambda: _insert(_lab(uln=-1)),
    "lab_analyte_valid": lambda: _insert(_lab(analyte="glucose")),
    "time_point_once_per_scan_criteria": lambda: _duplicate_time_point,
    "staffprofile_role_valid": lambda: _bad_role,
    # lutetia-cohort/2 (issue 12)
    "patient_who_grade_valid": lambda: _insert(_patient(who_grade="G4")),
    "patient_functional_syndrome_valid": lambda: _insert(_patient(functional_syndrome="zes")),
    "patient_cause_of_death_valid": lambda: _insert(
        _patient(death_date=dt.date(2009, 1, 1), cause_of_death="age")
    ),
    "patient_cause_of_death_needs_death": lambda: _insert(_patient(cause_of_death="disease")),
    "course_ecog_range": lambda: _insert(_course(ecog=5)),
    "course_karnofsky_tens": lambda: _insert(_course(karnofsky=85)),
    "course_krenning_range": lambda: _insert(_course(krenning_score=5)),
    "course_uptake_modality_valid": lambda: _insert(_course(uptake_modality="CT")),
    "course_liver_load_valid": lambda: _insert(_course(liver_metastases=True, liver_load="75")),
    "course_liver_load_needs_liver": lambda: _insert(
        _course(liver_metastases=False, liver_load="gt50")
    ),
    "cycle_reduced_reason_valid": lambda: _insert(_cycle(reduced_reason="weather")),
    "adverse_event_category_valid": lambda: _insert(_event(category="cancer")),
    "adverse_event_attribution_valid": lambda: _insert(_event(attribution="maybe")),
    "adverse_event_resolved_not_before_onset": lambda: _insert(
        _event(resolved=dt.date(2004, 12, 31))
    ),
    "prior_treatment_type_valid": lambda: _insert(_prior(type="homeopathy")),
    "prior_treatment_end_not_before_start": lambda: _insert(
        _prior(type="surgery", start=dt.date(2003, 1, 2), end=dt.date(2003, 1, 1))
    ),
    "custom_field_code_pattern": lambda: _insert(_field(code="Bad Code")),
    "custom_field_level_valid": lambda: _insert(_field(level="lesion")),
    "custom_field_type_valid": lambda: _insert(_field(type="float")),
    "custom_field_range_ordered": lambda: _insert(_field(minimum=5, maximum=1)),
}

# Check constraints carry their name into the database's error message.
UNIQUE = {c for c in BAD_ROWS if "once_per" in c or c == "cycle_one_per_course_date"}


def _model_constraints() -> set[str]:
    return {
        constraint.name
        for model in apps.get_app_config("registry").get_models()
        for constraint in model._meta.constraints
    }


def test_every_constraint_has_a_case():
    assert _model_constraints() == set(BAD_ROWS)


@pytest.mark.parametrize("name", sorted(BAD_ROWS))
def test_database_refuses(name):
    write = BAD_ROWS[name]()  # setting up the good rows happens outside the failing block
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        write()
    if name not in UNIQUE:
        assert name in str(caught.value)


def test_study_id_is_unique_in_the_database():
    factories.PatientFactory(study_id="DUP-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        _insert(_patient(study_id="DUP-1"))()


# --- the friendly face: validation that names the field ---------------------------


def _field_errors(instance) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        instance.full_clean(exclude=["patient", "course", "scan", "site"])
    return caught.value.message_dict


def test_future_date_names_the_field():
    future = dt.date.today() + dt.timedelta(days=30)
    errors = _field_errors(m.Cycle(date=future, administered_gbq=7.4))
    assert "date" in errors and "future" in errors["date"][0]


def test_unknown_unit_names_the_field_and_lists_the_accepted_units():
    errors = _field_errors(
        m.LabResult(date=dt.date(2005, 1, 1), analyte="hemoglobin", value=8, unit="mg")
    )
    assert set(errors) == {"unit"}
    message = errors["unit"][0]
    for unit in ("g/dL", "g/L", "mmol/L"):
        assert unit in message


def test_implausible_value_names_the_field_and_the_limit():
    errors = _field_errors(
        m.LabResult(date=dt.date(2005, 1, 1), analyte="platelets", value=9000, unit="10^9/L")
    )
    assert set(errors) == {"value"}
    assert "5000" in errors["value"][0]


def test_death_before_diagnosis_names_the_field():
    patient = m.Patient(
        study_id="X-1",
        primary_site="midgut",
        diagnosis_date=dt.date(2005, 1, 1),
        death_date=dt.date(2004, 1, 1),
    )
    assert "death_date" in _field_errors(patient)
