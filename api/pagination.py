"""Pagination of every list: `{"count", "next", "previous", "results"}` (CONTRACT.md)."""

from rest_framework.pagination import LimitOffsetPagination


class RegistryPagination(LimitOffsetPagination):
    """`?limit=&offset=`; a limit above `max_limit` is cut to it, a bad one means the default."""

    default_limit = 50
    max_limit = 500
