"""Reads for the clinician pages: the patient list and everything on one patient's page.

Every function here runs a fixed number of queries whatever the number of
patients or facts (tests/test_pages_clinic.py asserts it): the list reads the
derived rows through subqueries, the patient page through prefetches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import (
    Exists,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    prefetch_related_objects,
)

from registry.access import may_see_identifiers, visible_patients, visible_sites
from registry.clinical import plausibility, vocabularies
from registry.models import (
    AdverseEvent,
    ClinicalProgression,
    Course,
    CourseOutcome,
    Cycle,
    LabResult,
    LesionMeasurement,
    Patient,
    PatientIdentity,
    PatientState,
    PriorTreatment,
    ResponseOverride,
    Scan,
    Site,
    TimePointResponse,
)
from registry.models.custom import stored_definitions
from registry.records.custom_display import custom_changes
from registry.records.scan_selectors import ScanView, scan_views

STATUS_FILTERS: dict[str, str] = {
    "alive": "Alive",
    "dead": "Deceased",
    "on_treatment": "On treatment",
    "stale": "Recomputing",
}


# ------------------------------------------------------------------ patient list


def _latest_outcome(column: str) -> Subquery:
    latest = CourseOutcome.objects.filter(patient=OuterRef("pk")).order_by("-start", "-id")
    return Subquery(latest.values(column)[:1])


def _last_scan_response(criteria: str) -> Subquery:
    """The time-point response at the patient's latest evaluated follow-up scan."""
    latest = TimePointResponse.objects.filter(
        course__patient=OuterRef("pk"), criteria=criteria
    ).order_by("-scan__date", "-id")
    return Subquery(latest.values("response")[:1])


def _outcome_aggregate(expression) -> Subquery:
    per_patient = (
        CourseOutcome.objects.filter(patient=OuterRef("pk"))
        .order_by()
        .values("patient")
        .annotate(value=expression)
        .values("value")
    )
    return Subquery(per_patient[:1], output_field=IntegerField())


def patient_list(
    user, *, query: str = "", site_code: str = "", status: str = ""
) -> QuerySet[Patient]:
    """The user's patients matching the list's search and filters, by study ID.

    Hospital numbers are searched only for users who may see identifiers, so a
    research user cannot probe for them by search.
    """
    patients = visible_patients(user)
    query = query.strip()
    if query:
        match = Q(study_id__icontains=query)
        if may_see_identifiers(user):
            match |= Q(identity__hospital_number__iexact=query)
        patients = patients.filter(match)
    if site_code:
        patients = patients.filter(site__code=site_code)
    if status == "alive":
        patients = patients.filter(death_date__isnull=True)
    elif status == "dead":
        patients = patients.filter(death_date__isnull=False)
    elif status == "on_treatment":
        # Decision: "on treatment" = alive with a course that has no stop reason yet.
        open_course = Course.objects.filter(patient=OuterRef("pk"), stop_reason="")
        patients = patients.filter(Exists(open_course), death_date__isnull=True)
    elif status == "stale":
        patients = patients.filter(Q(state__isnull=True) | Q(state__stale=True))
    return patients.order_by("study_id")


def patient_list_rows(patient_ids: list[int]) -> list[Patient]:
    """One page of the list with its columns, annotated from the derived rows.

    The page's ids are chosen first (`patient_list` + a paginator over ids), so
    a deep page costs no more than the first: the subqueries run for the 50
    rows shown, never for the rows an OFFSET skips.
    """
    rows = Patient.objects.filter(pk__in=patient_ids).select_related("site", "state")
    rows = rows.annotate(
        current_phase=_latest_outcome("phase"),
        current_round=_latest_outcome("round"),
        latest_swog=_latest_outcome("best_swog"),
        latest_recist=_latest_outcome("best_recist"),
        last_scan_swog=_last_scan_response("swog"),
        last_scan_recist=_last_scan_response("recist"),
        total_cycles=_outcome_aggregate(Sum("cycles")),
        worst_hematologic=_outcome_aggregate(Max("grade_hematologic")),
    )
    return sorted(rows, key=lambda p: p.study_id)


def sites_for_filter(user) -> QuerySet[Site]:
    return visible_sites(user).order_by("code")


# ------------------------------------------------------------------ patient page

GRADE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("hematologic", "Haematologic"),
    ("hemoglobin", "Hemoglobin"),
    ("platelets", "Platelets"),
    ("wbc", "WBC"),
    ("neutrophils", "Neutrophils"),
    ("lymphocytes", "Lymphocytes"),
    ("creatinine", "Creatinine"),
    ("alt", "ALT"),
    ("ast", "AST"),
    ("bilirubin", "Bilirubin"),
)


@dataclass
class CycleRow:
    cycle: Cycle
    lifetime_gbq: float  # cumulative activity of the patient after this cycle


@dataclass
class CourseView:
    course: Course
    outcome: CourseOutcome | None
    cycles: list[CycleRow]
    activity_gbq: float
    overrides: dict[str, ResponseOverride]  # by criteria
    start: date | None

    @property
    def grades(self) -> list[tuple[str, int | None]]:
        if self.outcome is None:
            return []
        return [(label, getattr(self.outcome, f"grade_{key}")) for key, label in GRADE_COLUMNS]

    @property
    def endpoints(self) -> list[tuple[str, float | None, bool]]:
        o = self.outcome
        if o is None:
            return []
        return [
            ("TTP", o.ttp_swog_months, o.ttp_swog_event),
            ("PFS", o.pfs_swog_months, o.pfs_swog_event),
            ("OS", o.os_months, o.os_event),
        ]


@dataclass
class PatientPage:
    patient: Patient
    identity: PatientIdentity | None  # None also when the user may not see it
    state: PatientState | None
    courses: list[CourseView]
    labs: list[LabResult]
    scans: list[ScanView]
    progressions: list[ClinicalProgression]
    adverse_events: list[AdverseEvent]
    prior_treatments: list[PriorTreatment] = field(default_factory=list)
    custom_definitions: dict = field(default_factory=dict)
    cumulative_gbq: float = 0.0
    all_cycles: list[Cycle] = field(default_factory=list)
    # For computed ages (kidney function) only; never rendered as a date, so
    # it is filled for research users too.
    birth_date_for_age: date | None = None

    @property
    def stale(self) -> bool:
        return self.state is None or self.state.stale

    @property
    def quality_findings(self) -> list[dict]:
        return list(self.state.quality_findings) if self.state else []


def _one_to_one(patient: Patient, name: str):
    try:
        return getattr(patient, name)
    except (PatientState.DoesNotExist, PatientIdentity.DoesNotExist):
        return None


def patient_page(patient: Patient, *, user) -> PatientPage:
    """Everything the patient page shows, in a fixed number of queries.

    `patient` comes from `access.get_patient_for`; this only adds its facts.
    """
    prefetch_related_objects(
        [patient],
        Prefetch(
            "courses",
            queryset=Course.objects.select_related("outcome").prefetch_related(
                Prefetch("cycles", queryset=Cycle.objects.order_by("date")),
                Prefetch(
                    "overrides", queryset=ResponseOverride.objects.select_related("decided_by")
                ),
            ),
        ),
        Prefetch("labs", queryset=LabResult.objects.order_by("date", "analyte")),
        Prefetch(
            "scans",
            queryset=Scan.objects.order_by("date").prefetch_related(
                Prefetch("lesions", queryset=LesionMeasurement.objects.order_by("lesion")),
                Prefetch(
                    "time_points",
                    queryset=TimePointResponse.objects.select_related("course").order_by(
                        "course_id", "criteria"
                    ),
                ),
            ),
        ),
        "clinical_progressions",
        "adverse_events",
        Prefetch("prior_treatments", queryset=PriorTreatment.objects.order_by("start", "id")),
    )
    state = _one_to_one(patient, "state")
    full_identity = _one_to_one(patient, "identity")
    identity = full_identity if may_see_identifiers(user) else None

    all_cycles = sorted(
        (cycle for course in patient.courses.all() for cycle in course.cycles.all()),
        key=lambda c: (c.date, c.pk),
    )
    running, lifetime = 0.0, {}
    for cycle in all_cycles:
        running = round(running + cycle.administered_gbq, 6)
        lifetime[cycle.pk] = running

    courses = []
    for course in patient.courses.all():
        cycles = list(course.cycles.all())
        courses.append(
            CourseView(
                course=course,
                outcome=course.outcome if _has_outcome(course) else None,
                cycles=[CycleRow(c, lifetime[c.pk]) for c in cycles],
                activity_gbq=round(sum(c.administered_gbq for c in cycles), 6),
                overrides={o.criteria: o for o in course.overrides.all()},
                start=cycles[0].date if cycles else None,
            )
        )
    # Courses without cycles (just created) go last.
    courses.sort(key=lambda cv: (cv.start is None, cv.start or date.min, cv.course.pk))

    return PatientPage(
        patient=patient,
        identity=identity,
        state=state,
        courses=courses,
        labs=list(patient.labs.all()),
        scans=scan_views(list(patient.scans.all()), courses),
        progressions=list(patient.clinical_progressions.all()),
        adverse_events=list(patient.adverse_events.all()),
        prior_treatments=list(patient.prior_treatments.all()),
        custom_definitions=stored_definitions(),
        cumulative_gbq=running,
        all_cycles=all_cycles,
        birth_date_for_age=full_identity.birth_date if full_identity else None,
    )


def _has_outcome(course: Course) -> bool:
    try:
        course.outcome  # noqa: B018 - select_related filled it (or cached its absence)
    except CourseOutcome.DoesNotExist:
        return False
    return True


def latest_labs(patient: Patient, *, until: date | None = None) -> list[LabResult]:
    """The patient's labs up to `until` (inclusive), oldest first: eligibility reads these."""
    labs = LabResult.objects.filter(patient=patient)
    if until is not None:
        labs = labs.filter(date__lte=until)
    return list(labs.order_by("date", "id"))


def lab_history(patient: Patient, *, exclude: int | None = None) -> list[tuple[date, str, float]]:
    """(date, analyte, canonical value) of the patient's labs that §6 checks for jumps."""
    labs = LabResult.objects.filter(patient=patient, analyte__in=plausibility.USUAL_RANGE).exclude(
        pk=exclude
    )
    return list(labs.values_list("date", "analyte", "canonical_value"))


def patient_cycles(patient: Patient) -> list[Cycle]:
    return list(
        Cycle.objects.filter(course__patient=patient).select_related("course").order_by("date")
    )


# ------------------------------------------------------------------ change history

HISTORY_LIMIT = 50
_SKIP_FIELDS = {"id", "created_at", "updated_at", "version", "canonical_value"}
# Free text a clinician typed (names get typed into it): hidden from research roles.
FREE_TEXT_FIELDS = {"note", "warning_reason", "reason"}
HIDDEN = "(free text)"


@dataclass
class HistoryEntry:
    when: object
    who: str
    action: str  # "created" | "changed" | "deleted"
    what: str
    changes: list[tuple[str, object, object]]
    reason: str = ""  # the change reason given on a correction or deletion


def _history_sources(patient_id: int) -> list[tuple[str, QuerySet]]:
    # Child rows are found through the *historical* parent ids, so a deleted
    # course still shows its cycles in the history.
    course_ids = Course.history.filter(patient_id=patient_id).values("id")
    scan_ids = Scan.history.filter(patient_id=patient_id).values("id")
    return [
        ("Patient", Patient.history.filter(id=patient_id)),
        ("Identity", PatientIdentity.history.filter(patient_id=patient_id)),
        ("Course", Course.history.filter(patient_id=patient_id)),
        ("Cycle", Cycle.history.filter(course_id__in=course_ids)),
        ("Lab", LabResult.history.filter(patient_id=patient_id)),
        ("Scan", Scan.history.filter(patient_id=patient_id)),
        ("Lesion", LesionMeasurement.history.filter(scan_id__in=scan_ids)),
        ("Clinical progression", ClinicalProgression.history.filter(patient_id=patient_id)),
        ("Adverse event", AdverseEvent.history.filter(patient_id=patient_id)),
        ("Prior treatment", PriorTreatment.history.filter(patient_id=patient_id)),
        ("Response override", ResponseOverride.history.filter(course_id__in=course_ids)),
    ]


def _diff(model_fields: list[str], before, after) -> list[tuple[str, object, object]]:
    return [
        (name, getattr(before, name), getattr(after, name))
        for name in model_fields
        if getattr(before, name) != getattr(after, name)
    ]


def patient_history(patient: Patient, *, user, limit: int = HISTORY_LIMIT) -> list[HistoryEntry]:
    """The latest changes to the patient's facts: who, when, what before and after.

    One query per audited model. Each query reads up to 4 × `limit` rows so
    the previous version of most changes is at hand for the diff; an older
    predecessor simply shows the change without its field list. Identity
    changes are left out for users who may not see identifiers, and free text
    (notes, reasons, change reasons) shows only that it changed.
    """
    show_identity = may_see_identifiers(user)
    entries: list[HistoryEntry] = []
    definitions = None
    for label, records in _history_sources(patient.pk):
        if label == "Identity" and not show_identity:
            continue
        rows = list(records.select_related("history_user").order_by("-history_id")[: 4 * limit])
        rows.reverse()
        model = records.model.instance_type
        names = [f.attname for f in model._meta.concrete_fields if f.attname not in _SKIP_FIELDS]
        previous: dict[int, object] = {}
        for row in rows:
            before = previous.get(row.id)
            action = {"+": "created", "~": "changed", "-": "deleted"}[row.history_type]
            changed = before is not None and action == "changed"
            changes = _diff(names, before, row) if changed else []
            previous[row.id] = row
            if changed and not changes:
                continue  # a save that changed nothing shown (a recompute's touch): no line
            custom = [c for c in changes if c[0] == "custom"]
            changes = [c for c in changes if c[0] != "custom"]
            if not show_identity:
                changes = [_for_research(name, old, new) for name, old, new in changes]
            # Words, not field names: "Ki-67 (%)" rather than ki67_percent.
            changes = [(field_label(model, name), old, new) for name, old, new in changes]
            for _, old, new in custom:  # one change per custom field, identifying ones hidden
                definitions = definitions if definitions is not None else stored_definitions()
                changes += custom_changes(old, new, definitions, show_identifiers=show_identity)
            entries.append(
                HistoryEntry(
                    when=row.history_date,
                    who=row.history_user.get_username() if row.history_user else "system",
                    action=action,
                    what=f"{label} {_describe(label, row, coded=not show_identity)}",
                    changes=changes,
                    reason=(row.history_change_reason or "") if show_identity else "",
                )
            )
    entries.sort(key=lambda e: e.when, reverse=True)
    return entries[:limit]


FIELD_WORDS = {
    "ki67_percent": "Ki-67 (%)",
    "weight_kg": "weight (kg)",
    "administered_gbq": "activity (GBq)",
    "intended_activity_gbq": "intended activity (GBq)",
    "long_mm": "longest diameter (mm)",
    "short_mm": "perpendicular diameter (mm)",
    "lln": "lower limit of normal",
    "uln": "upper limit of normal",
    "course_id": "course",
    "site_id": "site",
}


def field_label(model, name: str) -> str:
    """A changed field as the history shows it: our words, else the model's verbose name."""
    if name in FIELD_WORDS:
        return FIELD_WORDS[name]
    try:
        return str(model._meta.get_field(name.removesuffix("_id")).verbose_name)
    except Exception:  # an unknown name: shown as it is
        return name


def _for_research(name: str, old, new) -> tuple[str, object, object]:
    """A change as research roles see it: free text hidden, coded fields coded (finding 8)."""
    if name in FREE_TEXT_FIELDS:
        return name, HIDDEN, HIDDEN
    if coder := vocabularies.CODERS_BY_FIELD.get(name):
        return name, coder(old), coder(new)
    return name, old, new


def _describe(label: str, row, *, coded: bool = False) -> str:
    def shown(field: str):
        value = getattr(row, field)
        return vocabularies.CODERS_BY_FIELD[field](value) if coded else value

    if label == "Identity":
        return ""
    if label == "Patient":
        return row.study_id
    if label == "Lab":
        return f"{row.analyte} {row.date}"
    if label in ("Cycle", "Scan", "Clinical progression"):
        return str(row.date)
    if label == "Lesion":
        return shown("lesion")
    if label == "Adverse event":
        return f"{shown('term')} (grade {row.grade})"
    if label == "Response override":
        return f"{row.criteria} → {row.response}"
    return f"#{row.id}"
