"""Clinician pages (issue 6)."""

from django.urls import path

from registry.records.views import corrections, entry, patients, verification

# URL segment and kind (registry.views.corrections.KINDS) of each correctable fact.
FACT_SEGMENTS = [
    ("courses", "course"),
    ("cycles", "cycle"),
    ("labs", "lab"),
    ("scans", "scan"),
    ("progressions", "progression"),
    ("adverse-events", "adverse"),
    ("prior-treatments", "prior"),
    ("overrides", "override"),
]

urlpatterns = [
    path("patients/", patients.patient_list, name="patient_list"),
    path("patients/new/", entry.patient_form, name="patient_new"),
    path("patients/<int:pk>/", patients.patient_detail, name="patient_detail"),
    path("patients/<int:pk>/status/", patients.patient_status, name="patient_status"),
    path("patients/<int:pk>/edit/", entry.patient_form, name="patient_edit"),
    path("patients/<int:pk>/courses/new/", entry.course_form, name="course_new"),
    path("patients/<int:pk>/cycles/new/", entry.cycle_form, name="cycle_new"),
    path("patients/<int:pk>/cycles/check/", entry.cycle_check, name="cycle_check"),
    path("patients/<int:pk>/labs/new/", entry.blood_panel_form, name="labs_new"),
    path("patients/<int:pk>/scans/new/", entry.scan_form, name="scan_new"),
    path("patients/<int:pk>/progressions/new/", entry.progression_form, name="progression_new"),
    path("patients/<int:pk>/adverse-events/new/", entry.adverse_event_form, name="adverse_new"),
    path("patients/<int:pk>/overrides/new/", entry.override_form, name="override_new"),
    path(
        "patients/<int:pk>/prior-treatments/new/",
        entry.prior_treatment_form,
        name="prior_new",
    ),
    # Corrections: edit and delete pages for recorded facts.
    *[
        path(
            f"patients/<int:pk>/{segment}/<int:fact_id>/delete/",
            corrections.delete,
            {"kind": kind},
            name=f"{kind}_delete",
        )
        for segment, kind in FACT_SEGMENTS
    ],
    *[
        path(
            f"patients/<int:pk>/{segment}/<int:fact_id>/edit/",
            corrections.edit,
            {"kind": kind},
            name=f"{kind}_edit",
        )
        for segment, kind in FACT_SEGMENTS
        if kind in ("course", "lab", "progression", "adverse", "prior")
    ],
    path("patients/<int:pk>/cycles/<int:fact_id>/edit/", corrections.cycle_edit, name="cycle_edit"),
    path("patients/<int:pk>/scans/<int:fact_id>/edit/", corrections.scan_edit, name="scan_edit"),
    path(
        "patients/<int:pk>/overrides/<int:fact_id>/edit/",
        corrections.override_edit,
        name="override_edit",
    ),
    # Record status (incomplete / complete / verified) and data queries.
    path(
        "patients/<int:pk>/courses/<int:fact_id>/status/",
        verification.course_status,
        {"kind": "course"},
        name="course_status",
    ),
    path("patients/<int:pk>/queries/new/", verification.query_open, name="query_open"),
    path(
        "patients/<int:pk>/queries/<int:fact_id>/answer/",
        verification.query_answer,
        {"kind": "query"},
        name="query_answer",
    ),
    path(
        "patients/<int:pk>/queries/<int:fact_id>/close/",
        verification.query_close,
        {"kind": "query"},
        name="query_close",
    ),
]
