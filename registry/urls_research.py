"""Research dashboards, cohort reports and exports (issue 7)."""

urlpatterns: list = []
