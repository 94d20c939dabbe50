"""Pagination of every list: `{"count", "next", "previous", "results"}` (CONTRACT.md)."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination


class RegistryPagination(LimitOffsetPagination):
    """`?limit=&offset=`. A limit above `max_limit` is a 400 naming the maximum, never a
    silent cap (CONTRACT.md); a missing one means the default."""

    default_limit = 50
    max_limit = 500

    def get_limit(self, request):
        raw = request.query_params.get(self.limit_query_param)
        if raw is not None:
            try:
                asked = int(raw)
            except ValueError:
                asked = None
            if asked is not None and asked > self.max_limit:
                raise ValidationError({"limit": [f"At most {self.max_limit} per page."]})
        return super().get_limit(request)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.limit_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_limit)
                parameter["description"] = (
                    f"Results per page (default {self.default_limit}, at most "
                    f"{self.max_limit}; more is a 400)."
                )
        return parameters
