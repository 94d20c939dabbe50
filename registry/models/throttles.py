"""Request counters for the API throttles when the cache is the database."""

from django.db import models


class ThrottleWindow(models.Model):
    """How many requests one client made in the window its first request opened.

    Only used when no Redis cache is configured (settings.CACHES): the counter is
    raised by a single UPDATE, so concurrent worker processes cannot both read the
    same count and each let one more request through (api.throttling).
    """

    key = models.CharField(max_length=200, primary_key=True)
    opened_at = models.FloatField(db_index=True)  # seconds since the epoch
    count = models.PositiveIntegerField()

    def __str__(self):
        return f"{self.key}: {self.count}"
