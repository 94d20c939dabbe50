from django.conf import settings
from django.db import models

from registry.models.base import QuickLoad


class Site(QuickLoad, models.Model):
    """A treatment centre. Users see the patients of their own sites only."""

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Role(models.TextChoices):
    CLINICIAN = "clinician", "Clinician"
    RESEARCH = "research", "Research staff"
    MONITOR = "monitor", "Monitor"
    ADMIN = "admin", "Administrator"


class StaffProfile(models.Model):
    """A user's role and sites.

    Clinicians read and write their sites' patients; research staff read them
    without direct identifiers and write no clinical facts; admins (and
    superusers) see every site.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CLINICIAN)
    sites = models.ManyToManyField(Site, blank=True, related_name="staff")
    # Units a clinician last used per analyte on the blood-count panel.
    preferred_units = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=["clinician", "research", "monitor", "admin"]),
                name="staffprofile_role_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"
