"""Clinician pages (issue 6)."""

urlpatterns: list = []
