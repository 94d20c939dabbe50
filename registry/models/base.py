import time
from datetime import date

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import signals
from django.db.models.base import ModelState
from django.utils import timezone

_today: tuple[float, date] | None = None


def today() -> date:
    """The local date, read at most once a second: an import checks every date of 100,000s
    of rows against it, and `timezone.localdate()` was a fifth of the import's checking."""
    global _today
    now = time.monotonic()
    if _today is None or now - _today[0] >= 1.0:
        _today = (now, timezone.localdate())
    return _today[1]


class QuickLoad:
    """Rows read from the database become instances without `Model.__init__`.

    Django's `from_db` calls `cls(*values)`, whose per-field loop and signals are
    most of the cost of reading many rows: at 30,000 patients the research
    cohort's rows (114,000 instances of five models) took 4.9 s that way and
    3.1 s this way (issue 17). This builds the same instance — the loaded values
    under their attribute names, a `ModelState` saying "from `db`, not new" —
    directly, as `Model.__init__` would leave it; a deferred column stays
    absent, so it loads on first access as usual. A model with `pre_init` or
    `post_init` receivers takes Django's own path, since this one sends no
    signals.
    """

    @classmethod
    def from_db(cls, db, field_names, values):
        # `has_listeners` looks the class up in each signal's cache, twice per instance
        # (the API's cohort report at 30,000 patients 1.09 → 0.99 s without it); with no
        # receiver at all, none listens.
        if (signals.pre_init.receivers or signals.post_init.receivers) and (
            signals.pre_init.has_listeners(cls) or signals.post_init.has_listeners(cls)
        ):
            return super().from_db(db, field_names, values)
        new = cls.__new__(cls)
        new.__dict__.update(zip(field_names, values, strict=True))
        state = new._state = ModelState()
        state.adding = False
        state.db = db
        return new

    @classmethod
    def unsaved(cls, **values):
        """A new, unsaved instance of `values` by attribute name (`course_id`, not `course`),
        every other column at its default, as `cls(**values)` makes it but without its
        per-field loop: a bulk recompute makes ~25 derived rows per patient, and
        `Model.__init__` was 44 % of storing them (issue 17). Takes Django's own path for
        a model with `pre_init` or `post_init` receivers, and for a name that is no
        column (so that it raises as Django does).
        """
        fixed, made = cls._unsaved_defaults()
        if not values.keys() <= fixed.keys() or (
            (signals.pre_init.receivers or signals.post_init.receivers)
            and (signals.pre_init.has_listeners(cls) or signals.post_init.has_listeners(cls))
        ):
            return cls(**values)
        new = cls.__new__(cls)
        attributes = new.__dict__
        attributes.update(fixed)
        for attname, field in made:
            if attname not in values:
                attributes[attname] = field.get_default()  # a callable default, called
        attributes.update(values)
        new._state = ModelState()
        return new

    @classmethod
    def _unsaved_defaults(cls) -> tuple[dict, list]:
        """Every concrete column by attribute name with its default (None for a callable
        one), and the columns whose default is callable, called for each instance."""
        cached = cls.__dict__.get("_unsaved_defaults_cache")
        if cached is None:
            fields = cls._meta.concrete_fields
            made = [(f.attname, f) for f in fields if f.has_default() and callable(f.default)]
            called = {attname for attname, _ in made}
            fixed = {f.attname: None if f.attname in called else f.get_default() for f in fields}
            cached = cls._unsaved_defaults_cache = (fixed, made)
        return cached


class ClinicalRecord(QuickLoad, models.Model):
    """Bookkeeping shared by every clinical fact.

    `version` grows by one on every update made through the services; the API
    turns it into the resource's ETag, so a stale `If-Match` is refused with a
    conditional `UPDATE … WHERE version = n` that must hit exactly one row.
    """

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    # Clinical event dates that cannot lie in the future (checked in `clean`).
    not_future_dates: tuple[str, ...] = ()
    # Nor before this: a year such as 0001 is a typing error, and the clinical engine's
    # look-back windows would step outside Python's dates (the recompute would fail).
    earliest_date = date(1900, 1, 1)

    class Meta:
        abstract = True

    def clean(self) -> None:
        super().clean()
        if errors := self.date_errors(
            {name: getattr(self, name) for name in self.not_future_dates}
        ):
            raise ValidationError(errors)

    @classmethod
    def date_errors(cls, dates: dict[str, date | None]) -> dict[str, list[str]]:
        """What `clean` says of these event dates: none in the future, none before 1900."""
        now = today()
        errors = {}
        for name, value in dates.items():
            if value is None:
                continue
            if value > now:
                errors[name] = [
                    f"{cls._meta.get_field(name).verbose_name} {value} is in the future."
                ]
            elif value < cls.earliest_date:
                errors[name] = [f"{cls._meta.get_field(name).verbose_name} {value} is before 1900."]
        return errors

    @property
    def etag(self) -> str:
        return f'"{self._meta.model_name}-{self.pk}-v{self.version}"'
