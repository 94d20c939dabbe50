"""Pagination of every list: `{"count", "next", "previous", "results"}` (CONTRACT.md)."""

from django.core.exceptions import EmptyResultSet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

from registry.derive.version import data_version, kept, result_key


class RegistryPagination(LimitOffsetPagination):
    """`?limit=&offset=`. A limit above `max_limit` is a 400 naming the maximum, never a
    silent cap (CONTRACT.md); a missing one means the default."""

    default_limit = 50
    max_limit = 500

    def get_limit(self, request):
        asked = self._whole_number(request, self.limit_query_param, minimum=1)
        if asked is None:
            return self.default_limit
        if asked > self.max_limit:
            raise ValidationError({"limit": [f"At most {self.max_limit} per page."]})
        return asked

    def get_count(self, queryset) -> int:
        """The list's count, kept per data version: paging through 5M labs counted them
        all for every page. The key is the count's SQL, so it carries the user's scope and
        filters (`registry.derive.version`; LUTETIA_RESULT_CACHE_SECONDS, 0 = off)."""
        version = data_version() if hasattr(queryset, "query") else None
        if version is None:
            return super().get_count(queryset)
        try:
            sql, params = queryset.query.sql_with_params()
        except EmptyResultSet:
            return 0
        key = result_key("count", version, sql, repr(params))
        return kept(key, lambda: super(RegistryPagination, self).get_count(queryset))

    def get_offset(self, request):
        return self._whole_number(request, self.offset_query_param, minimum=0) or 0

    @staticmethod
    def _whole_number(request, name: str, *, minimum: int) -> int | None:
        """`?name=` as documented (a whole number >= minimum), None if absent; else a 400.

        DRF's own pagination reads `?offset=null` or `?limit=-3` as the default,
        which hides a client's mistake behind a page it did not ask for.
        """
        values = request.query_params.getlist(name)
        if not values:
            return None
        if len(values) > 1:
            raise ValidationError({name: ["Give it once."]})
        try:
            number = int(values[0])
        except ValueError:
            raise ValidationError({name: [f"A whole number, {minimum} or more."]}) from None
        if number < minimum:
            raise ValidationError({name: [f"A whole number, {minimum} or more."]})
        return number

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.limit_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_limit)
                parameter["description"] = (
                    f"Results per page (default {self.default_limit}, at most "
                    f"{self.max_limit}; more is a 400)."
                )
            if parameter["name"] == self.offset_query_param:
                parameter["schema"].update(minimum=0)
        return parameters
