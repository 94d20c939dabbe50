"""`field__any=[…]`: `IN (…)` that stays one parameter on PostgreSQL (issue 17).

Django writes `field__in=ids` as `IN (%s, %s, …)`: for the research cohort's
22,800 course ids that is 22,800 placeholders for psycopg to rewrite and
PostgreSQL to parse and plan: reading the cohort's cycles took 0.86–1.03 s
that way and 0.64–0.67 s with `= ANY(%s)` and the ids as one array (30,000
patients). `any`
matches exactly the rows `in` matches (None never matches; an empty list
matches nothing); on other databases it is `in` itself.
"""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet
from django.db.models import Field, ForeignObject
from django.db.models.fields.related_lookups import RelatedIn
from django.db.models.lookups import In


class _OneArray:
    lookup_name = "any"

    def as_postgresql(self, compiler, connection):
        if not self.rhs_is_direct_value():  # a subquery or expressions: as `in`
            return super().as_sql(compiler, connection)
        values = [value for value in self.rhs if value is not None]
        if not values:
            raise EmptyResultSet
        lhs, lhs_params = self.process_lhs(compiler, connection)
        _, prepared = self.get_db_prep_lookup(values, connection)
        return f"{lhs} = ANY(%s)", (*lhs_params, list(prepared))


@Field.register_lookup
class AnyOf(_OneArray, In):
    """On a plain column."""


@ForeignObject.register_lookup
class RelatedAnyOf(_OneArray, RelatedIn):
    """On a foreign key (`course_id__any`, `course__any`): ids or instances, as `in`."""
