"""The cohort of one filter, read once per request.

`Cohort(user, filter)` holds the derived course rows a filter selects among
the patients the user may see (`select_course_outcomes`) and everything that
reports, analyses, figures, drill-downs and exports read about them: the
rows with their patient, site, course and birth date, the stale count, the
TTP after regular therapy of each patient, and the worst grades in any
toxicity window. Each is read on first use and kept, in a constant number of
queries whatever the cohort's size; nothing downstream selects the rows
again. `queryset` is the same selection unevaluated, for exports that stream
related tables through it as a subquery.

Results are read from the derived rows (`CourseOutcome`), never recomputed
per request, with one exception: a toxicity window other than the setting the
rows were computed with (`LUTETIA_TOXICITY_WINDOW_DAYS`) is graded on the fly
from the selected courses' labs by the same `registry.clinical.ctcae` code.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable
from functools import cached_property
from operator import attrgetter
from typing import TypeVar

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet

from registry.access import patient_site_filter
from registry.clinical import ctcae
from registry.clinical.facts import CourseFact, CycleFact, LabFact
from registry.derive.outcomes import TOXICITY_KEYS
from registry.models import (
    AdverseEvent,
    CourseOutcome,
    Cycle,
    LabResult,
    Patient,
    Phase,
    PriorTreatment,
)
from registry.models.lookups import IdArray
from registry.research import record_filters
from registry.research.ahead import ahead, concurrent
from registry.research.filters import (
    DISEASE_CONTROL,
    CohortFilter,
    ResearchFilter,
    regular_ttp_columns,
)

T = TypeVar("T")

UNREAD_COLUMNS = (
    *(f"{owner}__{name}" for owner in ("course", "patient", "patient__identity")
      for name in ("created_at", "updated_at", "version")),
    "course__status_changed_at",
    "patient__identity__name",
    "patient__identity__hospital_number",
)  # fmt: skip


# What `Cohort.rows` reads with each row by default: what reports and figures show.
ALL_RELATED = ("course", "patient__identity", "patient__site")


def _prefixes(path: str) -> list[str]:
    """The relation and those it goes through: `patient__identity` gives `patient` too."""
    parts = path.split("__")
    return ["__".join(parts[: i + 1]) for i in range(len(parts))]


class Cohort:
    """The selected courses of one filter and what is known about them, each read once."""

    def __init__(
        self,
        user,
        research_filter: ResearchFilter | CohortFilter,
        related: tuple[str, ...] = ALL_RELATED,
        columns: tuple[str, ...] | None = None,
    ):
        if isinstance(research_filter, CohortFilter):
            research_filter = ResearchFilter(
                cohort=research_filter,
                strata=research_filter.strata,
                ttp_regular_cutoff=research_filter.ttp_regular_cutoff,
            )
        self.user = user
        self.filter = research_filter
        # THE selection: the contract's filter plus the research pages' narrowing.
        self.selection: CohortFilter = research_filter.selected
        self.queryset: QuerySet[CourseOutcome] = select_course_outcomes(user, self.selection)
        self.related = related
        self.columns = columns
        self._grades: dict[int, dict[int, dict[str, int | None]]] = {}
        self._ahead = None  # see read_ahead

    @property
    def criteria(self) -> str:
        return self.selection.criteria

    @cached_property
    def rows(self) -> list[CourseOutcome]:
        """The cohort's course rows, one per patient, ordered by study ID (one query).

        Without the bookkeeping columns no analysis reads (at 10,000 patients, parsing
        their timestamps was a fifth of the query's time) nor the direct identifiers,
        which research pages never show. With `related` narrower than ALL_RELATED only
        those rows' relations are read with them (a reader that needs only the derived
        columns, such as the API's cohort report, skips three quarters of the instances).
        With `columns`, only those (and the ids of the patient, the course and the relations
        read) are read: a reader that names what it reads, such as the API's survival
        analysis, parses 3 columns a row instead of ~60. A column it then reads without
        naming it costs a query per row, which the query-count tests catch.
        """
        rows = self.queryset.select_related(None)
        if self.related:  # select_related() without a name would follow every relation
            rows = rows.select_related(*self.related)
        read = {owner for path in self.related for owner in _prefixes(path)}
        if self.columns is not None:
            return list(rows.only("patient", "course", *read, *self.columns))
        return list(rows.defer(*(c for c in UNREAD_COLUMNS if c.rsplit("__", 1)[0] in read)))

    @cached_property
    def stale_patients(self) -> int:
        return self._read_ahead(
            "stale_patients", lambda: stale_patient_count(self.user, self.selection)
        )

    def read_ahead(self) -> None:
        """Start the reads that need no rows — the TTP after regular therapy, the late
        events, the stale count — on a second connection (`registry.research.ahead`),
        so PostgreSQL answers them while this process reads and builds the rows. They
        name the cohort's patients by its selection as a subquery (the rows' ids are not
        read yet). Where `ahead` would run them here anyway (a transaction, SQLite) this
        does nothing: each is read when first used, as without it.
        """
        if not concurrent() or self._ahead is not None:
            return
        user, selection, criteria = self.user, self.selection, self.criteria
        patients = self.queryset.values("patient_id")

        def read() -> dict:
            return {
                "regular_ttp": regular_ttp_by_patient(patients, criteria),
                "late_events": late_events_by_patient(patients),
                "stale_patients": stale_patient_count(user, selection),
            }

        self._ahead = ahead(read)

    def _read_ahead(self, name: str, read: Callable[[], T]) -> T:
        """What `read_ahead` read for `name` (waiting for it if need be), else `read()`."""
        return read() if self._ahead is None else self._ahead()[name]

    @cached_property
    def patient_ids(self) -> IdArray | QuerySet:
        """The rows' patients, for the queries below: on PostgreSQL one array of the ids
        already read (`__any`), not the cohort's selection again as a subquery (30,000
        patients: regular TTP 0.18 → 0.14 s, prior treatments 0.17 → 0.12 s); elsewhere
        that subquery, which no parameter limit bounds (SQLite allows 32,766)."""
        if connection.vendor == "postgresql":
            return IdArray(row.patient_id for row in self.rows)
        return self.queryset.values("patient_id")

    @cached_property
    def regular_ttp(self) -> dict[int, tuple[float, bool]]:
        """(months, event) of each patient's first regular course, where it has a TTP."""
        return self._read_ahead(
            "regular_ttp", lambda: regular_ttp_by_patient(self.patient_ids, self.criteria)
        )

    @cached_property
    def late_events(self) -> dict[int, list[tuple[str, dt.date]]]:
        """(category, onset) of each patient's categorised adverse events (late toxicity)."""
        return self._read_ahead("late_events", lambda: late_events_by_patient(self.patient_ids))

    @cached_property
    def prior_treatments(self) -> dict[int, list[tuple[str, dt.date | None]]]:
        """(type, start) of each patient's prior treatments."""
        found: dict[int, list[tuple[str, dt.date | None]]] = defaultdict(list)
        rows = PriorTreatment.objects.filter(patient_id__any=self.patient_ids)
        for patient_id, kind, start in rows.order_by().values_list("patient_id", "type", "start"):
            found[patient_id].append((kind, start))
        return found

    def late_categories(self, row: CourseOutcome) -> set[str]:
        """The late-toxicity categories of a row's patient from the course start on.

        **Decision**: open-ended (MDS appears years after PRRT); events before the
        course belong to earlier treatment.
        """
        return {
            category
            for category, onset in self.late_events.get(row.patient_id, ())
            if row.start is None or onset >= row.start
        }

    def prior_kinds(self, row: CourseOutcome) -> set[str]:
        """The kinds of treatment a row's patient had before the course (a treatment
        without a start date counts: it was recorded as prior)."""
        return {
            kind
            for kind, start in self.prior_treatments.get(row.patient_id, ())
            if start is None or row.start is None or start < row.start
        }

    def grade_counts(self, window_days: int | None = None) -> Counter[tuple[str, int | None]]:
        """How many courses have each worst grade of each toxicity key: (key, grade) → n.
        From the stored columns directly, one key at a time, when the window is theirs."""
        window = self.selection.window_days if window_days is None else window_days
        if stored_window(window):
            counts: Counter[tuple[str, int | None]] = Counter()
            for key in TOXICITY_KEYS:
                for grade, n in Counter(map(attrgetter(f"grade_{key}"), self.rows)).items():
                    counts[key, grade] = n
            return counts
        grades = self.worst_grades(window).values()
        return Counter(pair for worst in grades for pair in worst.items())

    def worst_grades(self, window_days: int | None = None) -> dict[int, dict[str, int | None]]:
        """Worst grade per toxicity key of each course, in `window_days` (default: the filter's)."""
        window = self.selection.window_days if window_days is None else window_days
        if window not in self._grades:
            self._grades[window] = worst_grades_by_course(self.rows, window)
        return self._grades[window]


def stored_window(window_days: int) -> bool:
    """Whether a toxicity window is the one the derived rows' grades were computed with
    (`LUTETIA_TOXICITY_WINDOW_DAYS`); any other is graded again from the labs."""
    return window_days == settings.LUTETIA_TOXICITY_WINDOW_DAYS


def combined_reads(*reads: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """What several readers read together, as `Cohort`'s `related` and `columns`: the
    union of theirs, or the whole rows (`{}`) if any of them reads them whole."""
    if not all(reads):
        return {}
    return {
        "related": tuple(dict.fromkeys(path for r in reads for path in r["related"])),
        "columns": tuple(dict.fromkeys(column for r in reads for column in r["columns"])),
    }


def age_at(birth: dt.date | None, on: dt.date | None) -> int | None:
    """Age in completed years (the de-identified stand-in for the birth date)."""
    if birth is None or on is None:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def birth_date(row: CourseOutcome) -> dt.date | None:
    identity = getattr(row.patient, "identity", None)
    return identity.birth_date if identity else None


# ------------------------------------------------------------------- selection


def _patient_filter(cohort: CohortFilter, prefix: str = "") -> Q:
    q = record_filters.patient_q(cohort, prefix)
    if cohort.primary_site:
        q &= Q(**{f"{prefix}primary_site__in": cohort.primary_site})
    if cohort.site:
        q &= Q(**{f"{prefix}site__code__in": cohort.site})
    return q


def select_course_outcomes(user, cohort: CohortFilter) -> QuerySet[CourseOutcome]:
    """The derived course rows of a cohort, among the patients `user` may see.

    One row per patient at most: a patient has one course of a phase and round.
    """
    rows = CourseOutcome.objects.filter(
        _patient_filter(cohort, "patient__"),
        patient_site_filter(user),
        phase=cohort.phase,
        round=cohort.round,
    )
    if cohort.disease_control is not None:
        in_control = Q(**{f"best_{cohort.criteria}__in": DISEASE_CONTROL})
        rows = rows.filter(in_control if cohort.disease_control else ~in_control)
    if course_q := record_filters.course_q(cohort):
        rows = rows.filter(course_q)
    if cohort.extra is not None:
        rows = rows.filter(cohort.extra)
    return rows.select_related("patient__site").order_by("patient__study_id", "id")


def stale_patient_count(user, cohort: CohortFilter) -> int:
    """Patients of the cohort's sites and primary sites whose results are being recomputed.

    Reports say so instead of showing stale numbers silently (DESIGN.md, step 5);
    a patient never computed counts as stale too.
    """
    patients = Patient.objects.filter(patient_site_filter(user, ""), _patient_filter(cohort))
    return patients.filter(Q(state__isnull=True) | Q(state__stale=True)).count()


# --------------------------------------------------------------------- toxicity


def worst_grades_by_course(
    rows: list[CourseOutcome], window_days: int
) -> dict[int, dict[str, int | None]]:
    """Worst grade per toxicity key for each row's course, in a toxicity window of `window_days`.

    The stored columns when the window is the one they were computed with;
    otherwise graded again from the labs (two queries for the whole cohort).
    """
    if stored_window(window_days):
        stored = attrgetter(*(f"grade_{key}" for key in TOXICITY_KEYS))  # `stored_grades`
        return {row.course_id: dict(zip(TOXICITY_KEYS, stored(row), strict=True)) for row in rows}
    course_ids = [row.course_id for row in rows]
    patient_ids = {row.patient_id for row in rows}
    cycles: dict[int, list[CycleFact]] = defaultdict(list)
    for course_id, day, gbq in Cycle.objects.filter(course_id__any=course_ids).values_list(
        "course_id", "date", "administered_gbq"
    ):
        cycles[course_id].append(CycleFact(day, gbq))
    labs: dict[int, list[LabFact]] = defaultdict(list)
    lab_rows = LabResult.objects.filter(
        patient_id__any=list(patient_ids), analyte__in=ctcae.GRADED_ANALYTES
    ).values_list("patient_id", "date", "analyte", "value", "unit", "canonical_value", "lln", "uln")
    for patient_id, *fields in lab_rows:
        labs[patient_id].append(LabFact(*fields))
    grades: dict[int, dict[str, int | None]] = {}
    for row in rows:
        course = CourseFact(key=row.course_id, phase=row.phase, cycles=tuple(cycles[row.course_id]))
        worst = ctcae.worst_grades(
            course,
            labs[row.patient_id],
            sex=row.patient.sex or None,
            window_end=row.window_end,
            toxicity_window_days=window_days,
        )
        grades[row.course_id] = {key: worst.get(key) for key in TOXICITY_KEYS}
    return grades


def late_events_by_patient(patient_ids) -> dict[int, list[tuple[str, dt.date]]]:
    events: dict[int, list[tuple[str, dt.date]]] = defaultdict(list)
    rows = AdverseEvent.objects.filter(patient_id__any=patient_ids).exclude(category="")
    # Unordered, as in regular_ttp_by_patient: the models' default order (by patient, so
    # by study ID) joins the patients and sorts, for lists read into a dict (30,000
    # patients: the regular TTP's query 0.15 → 0.10 s).
    for patient_id, category, onset in rows.order_by().values_list(
        "patient_id", "category", "onset"
    ):
        events[patient_id].append((category, onset))
    return events


def regular_ttp_by_patient(patient_ids, criteria: str) -> dict[int, tuple[float, bool]]:
    months, event = regular_ttp_columns(criteria)
    rows = CourseOutcome.objects.filter(
        phase=Phase.REGULAR, round=1, patient_id__any=patient_ids, **{f"{months}__isnull": False}
    ).order_by()
    return {pid: (float(m), bool(e)) for pid, m, e in rows.values_list("patient_id", months, event)}
