"""Derived results: what the registry computed from a patient's facts.

These rows are replaced as a whole by `recompute_patient` (issue 4) and are
never edited by hand; pages, exports and reports read them. Field names carry
the criteria where results differ by criteria, so cohort filters stay plain SQL.
"""

from django.db import models

from registry.models.base import QuickLoad
from registry.models.events import Criteria, ResponseCode
from registry.models.imaging import Scan
from registry.models.patients import Patient
from registry.models.treatment import Course, Phase


class PatientState(QuickLoad, models.Model):
    """Per patient: whether derived results are current, and patient-level results."""

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="state")
    stale = models.BooleanField(default=True)
    stale_since = models.DateTimeField(null=True, blank=True)
    # Grows by one every time a write marks the patient stale. A recompute
    # notes it before loading the facts and clears `stale` only if it has not
    # moved since, so a recompute that raced a newer write never hides it.
    stale_generation = models.PositiveBigIntegerField(default=0)
    computed_at = models.DateTimeField(null=True, blank=True)
    cumulative_activity_gbq = models.FloatField(default=0)
    # [{"code": …, "message": …, "course": id|None, "scan": id|None}, …] (CLINICAL.md §8)
    quality_findings = models.JSONField(default=list, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            # The periodic sweep looks for patients still stale after a while.
            models.Index(
                fields=["stale_since"], name="state_stale_since", condition=models.Q(stale=True)
            ),
        ]

    def __str__(self) -> str:
        return f"state of {self.patient_id}"


class CourseOutcome(QuickLoad, models.Model):
    """Per course: response, toxicity, endpoints and activity (CLINICAL.md §1–§5)."""

    course = models.OneToOneField(Course, on_delete=models.CASCADE, related_name="outcome")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="course_outcomes")
    phase = models.CharField(max_length=8, choices=Phase.choices)
    round = models.PositiveSmallIntegerField()
    start = models.DateField()
    last_cycle = models.DateField()
    window_end = models.DateField(null=True, blank=True)  # day before the next course
    cycles = models.PositiveSmallIntegerField()
    activity_gbq = models.FloatField()
    intended_activity_reached = models.BooleanField(null=True)
    cumulative_activity_before_gbq = models.FloatField(default=0)

    # Best overall response as computed, and as reported (override applied).
    best_swog = models.CharField(max_length=2, choices=ResponseCode.choices)
    best_swog_computed = models.CharField(max_length=2, choices=ResponseCode.choices)
    best_swog_reason = models.TextField(blank=True)
    best_swog_pct_change = models.FloatField(null=True, blank=True)
    best_recist = models.CharField(max_length=2, choices=ResponseCode.choices)
    best_recist_computed = models.CharField(max_length=2, choices=ResponseCode.choices)
    best_recist_reason = models.TextField(blank=True)
    best_recist_pct_change = models.FloatField(null=True, blank=True)
    overridden = models.BooleanField(default=False)

    # Worst CTCAE grade in the toxicity window; null = not assessed.
    grade_hematologic = models.PositiveSmallIntegerField(null=True, blank=True)
    grade_hemoglobin = models.PositiveSmallIntegerField(null=True, blank=True)
    grade_platelets = models.PositiveSmallIntegerField(null=True, blank=True)
    grade_wbc = models.PositiveSmallIntegerField(null=True, blank=True)
    grade_neutrophils = models.PositiveSmallIntegerField(null=True, blank=True)
    grade_lymphocytes = models.PositiveSmallIntegerField(null=True, blank=True)
    grade_creatinine = models.PositiveSmallIntegerField(null=True, blank=True)
    grade_alt = models.PositiveSmallIntegerField(null=True, blank=True)
    grade_ast = models.PositiveSmallIntegerField(null=True, blank=True)
    grade_bilirubin = models.PositiveSmallIntegerField(null=True, blank=True)

    # Endpoints (§3), in months (days / 30.4375), per progression criteria.
    progression_date_swog = models.DateField(null=True, blank=True)
    progression_date_recist = models.DateField(null=True, blank=True)
    ttp_swog_months = models.FloatField(null=True, blank=True)
    ttp_swog_event = models.BooleanField(default=False)
    ttp_recist_months = models.FloatField(null=True, blank=True)
    ttp_recist_event = models.BooleanField(default=False)
    pfs_swog_months = models.FloatField(null=True, blank=True)
    pfs_swog_event = models.BooleanField(default=False)
    pfs_recist_months = models.FloatField(null=True, blank=True)
    pfs_recist_event = models.BooleanField(default=False)
    os_months = models.FloatField(null=True, blank=True)
    os_event = models.BooleanField(default=False)
    follow_up_months = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["patient", "start"]
        indexes = [
            # Cohort reports select one phase and round across all patients.
            models.Index(fields=["phase", "round"], name="outcome_phase_round"),
            # The course whose window holds a date (exports' `course_id`, the labs CSV):
            # the patient's latest start on or before it, one index probe.
            models.Index(fields=["patient", "start"], name="outcome_patient_start"),
        ]

    def __str__(self) -> str:
        return f"outcome of course {self.course_id}"


class TimePointResponse(QuickLoad, models.Model):
    """One follow-up scan's response under one criteria, with its numbers and reason (§2)."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="time_points")
    scan = models.ForeignKey(Scan, on_delete=models.CASCADE, related_name="time_points")
    criteria = models.CharField(max_length=8, choices=Criteria.choices)
    response = models.CharField(max_length=2, choices=ResponseCode.choices)
    reason = models.TextField(blank=True)
    total_mm = models.FloatField(null=True, blank=True)  # SPD (mm²) or SoD (mm)
    pct_vs_baseline = models.FloatField(null=True, blank=True)
    pct_vs_nadir = models.FloatField(null=True, blank=True)
    days_from_start = models.IntegerField()

    class Meta:
        ordering = ["course", "scan__date", "criteria"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "scan", "criteria"], name="time_point_once_per_scan_criteria"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.criteria} {self.response} on scan {self.scan_id}"
