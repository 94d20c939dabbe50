"""What an export covers and how it hides who the patients are.

`ExportScope` is the one object the tables, writers and jobs read: which
patients and courses (the whole registry the user may see, or the cohort of
the current filter), the de-identification level, who exported it and when.

De-identification levels (chosen at export, written in the README):

- `pseudonymised`: the study ID and exact calendar dates. Re-identifiable
  with the hospital's records, so a research role needs an admin's grant
  (`registry.export_pseudonymised`); clinicians and admins, who see the
  identifiers anyway, may choose it.
- `shifted`: every date of a patient moves back by the same secret number of
  days, 1–364 (REDCap's "shift dates" option). Every interval — TTP, OS,
  cycle gaps, days from start — is exact; no calendar date is the real one.
  The offset is an HMAC of the patient's key with the server's secret, so it
  is the same in every export of that server (two exports can be joined) and
  cannot be recomputed without the secret.
- `relative`: no calendar dates at all; every date becomes the number of
  days from the patient's first cycle (day 0), and date columns are renamed
  `…_day`. A patient without a cycle has no dates in this level.

Ages in completed years (from the real dates) are given at every level; the
birth date itself never leaves the registry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import metadata

from django.conf import settings
from django.db.models import Min, QuerySet, TextChoices
from django.utils import timezone
from django.utils.crypto import salted_hmac

from registry.access import visible_patients
from registry.models import CourseOutcome, Cycle, Patient
from registry.research.cohort import Cohort, regular_ttp_by_patient
from registry.research.filters import ResearchFilter, parse_filter, ttp_regular_group


class Level(TextChoices):
    SHIFTED = "shifted", "Dates shifted (one secret offset per patient)"
    RELATIVE = "relative", "Relative (days from the patient's first cycle, no dates)"
    PSEUDONYMISED = "pseudonymised", "Pseudonymised (study ID and exact dates)"


class Coverage(TextChoices):
    COHORT = "cohort", "The current filter's cohort"
    REGISTRY = "registry", "The whole registry (every course, phase and round)"


MAX_SHIFT_DAYS = 364


def date_shift_days(patient_id: int) -> int:
    """The patient's secret date offset, 1–364 days back (never 0: no date stays real)."""
    return _shift(settings.SECRET_KEY, patient_id)


@lru_cache(maxsize=65536)
def _shift(secret: str, patient_id: int) -> int:
    # Cached: an export shifts every date of a patient's ~160 labs by the same offset, and
    # an HMAC per cell was a seventh of a lab export's time. Keyed on the secret as well.
    digest = salted_hmac("lutetia.export.date-shift", str(patient_id), secret=secret).digest()
    return int.from_bytes(digest[:8], "big") % MAX_SHIFT_DAYS + 1


def lutetia_version() -> str:
    try:
        return metadata.version("lutetia")
    except metadata.PackageNotFoundError:  # pragma: no cover - a checkout without install
        return "unknown"


@dataclass
class ExportScope:
    """The patients and courses of one export, its level, and its provenance."""

    user: object
    filter: ResearchFilter
    coverage: str = Coverage.COHORT
    level: str = Level.SHIFTED
    created_at: dt.datetime = field(default_factory=timezone.now)

    @property
    def whole_registry(self) -> bool:
        return self.coverage == Coverage.REGISTRY

    @property
    def criteria(self) -> str:
        return self.filter.cohort.criteria

    @cached_property
    def cohort(self) -> Cohort:
        return Cohort(self.user, self.filter)

    @cached_property
    def outcomes(self) -> QuerySet[CourseOutcome]:
        """The cohort's course rows, or every course row of the visible patients."""
        if self.whole_registry:
            return CourseOutcome.objects.filter(patient__in=visible_patients(self.user))
        return self.cohort.queryset

    @cached_property
    def patients(self) -> QuerySet:
        """The export's patient ids, as a subquery (never materialised in Python)."""
        if self.whole_registry:
            return visible_patients(self.user).values("pk")
        return Patient.objects.filter(pk__in=self.outcomes.values("patient_id")).values("pk")

    @cached_property
    def index_courses(self) -> frozenset[int]:
        """The cohort's course of each patient (empty for a whole-registry export)."""
        if self.whole_registry:
            return frozenset()
        return frozenset(self.outcomes.values_list("course_id", flat=True))

    @cached_property
    def regular_ttp(self) -> dict[int, tuple[float, bool]]:
        return regular_ttp_by_patient(self.patients, self.criteria)

    def regular_ttp_group(self, patient_id: int) -> str | None:
        return ttp_regular_group(self.regular_ttp.get(patient_id), self.filter.ttp_regular_cutoff)

    @cached_property
    def first_cycle(self) -> dict[int, dt.date]:
        """Each patient's first cycle date: day 0 of a relative export (one query)."""
        rows = (
            Cycle.objects.filter(course__patient__in=self.patients)
            .values("course__patient_id")
            .annotate(first=Min("date"))
            .values_list("course__patient_id", "first")
        )
        return dict(rows)

    def date_value(self, patient_id: int | None, value: dt.date | None):
        """A date as this level writes it: itself, shifted, or days from the first cycle."""
        if value is None or patient_id is None or self.level == Level.PSEUDONYMISED:
            return value
        if self.level == Level.SHIFTED:
            return value - dt.timedelta(days=date_shift_days(patient_id))
        origin = self.first_cycle.get(patient_id)
        return None if origin is None else (value - origin).days

    # --- naming and provenance ------------------------------------------------

    @property
    def slug(self) -> str:
        """The cohort in file names: `registry`, `salvage-r1`, or `salvage-r1-<hash>` when
        narrowed further, so two different cohorts never share a file name."""
        if self.whole_registry:
            return "registry"
        cohort = self.filter.cohort
        base = f"{cohort.phase}-r{cohort.round}"
        default = parse_filter({}).as_params()
        narrowing = {
            k: v
            for k, v in self.filter.as_params().items()
            if k not in ("phase", "round", "endpoint", "strata", "conf_type")
            and default.get(k) != v
        }
        if not narrowing:
            return base
        digest = hashlib.sha256(repr(sorted(narrowing.items())).encode()).hexdigest()[:6]
        return f"{base}-{digest}"

    def file_name(self, part: str, suffix: str) -> str:
        """`lutetia-salvage-r1-2026-12-01-patients.csv` and the like."""
        day = timezone.localtime(self.created_at).date().isoformat()
        return f"lutetia-{self.slug}-{day}-{part}{suffix}"

    @property
    def version(self) -> str:
        return lutetia_version()
