"""Who may see which patients: the one place that decides (STYLE.md rule 5)."""

from __future__ import annotations

from django.db import connection
from django.db.models import Q, QuerySet
from django.http import Http404

from registry.models import Patient, Role, Site


def role_of(user) -> str | None:
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.ADMIN
    profile = getattr(user, "staff_profile", None)
    return profile.role if profile else None


def sees_all_sites(user) -> bool:
    return role_of(user) == Role.ADMIN


def may_see_identifiers(user) -> bool:
    """Research staff never see direct identifiers (name, hospital number, birth date);
    a monitor reads like a clinician (CONTRACT.md: source verification needs them)."""
    return role_of(user) in (Role.CLINICIAN, Role.MONITOR, Role.ADMIN)


def may_export_pseudonymised(user) -> bool:
    """Exports with exact dates: those who see identifiers anyway (clinicians, monitors,
    admins), and research staff an admin granted `registry.export_pseudonymised` to."""
    if may_see_identifiers(user):
        return True
    return role_of(user) is not None and user.has_perm("registry.export_pseudonymised")


def may_write_clinical(user) -> bool:
    return role_of(user) in (Role.CLINICIAN, Role.ADMIN)


def visible_sites(user) -> QuerySet[Site]:
    if sees_all_sites(user):
        return Site.objects.all()
    if role_of(user) is None:
        return Site.objects.none()
    return Site.objects.filter(staff__user=user)


def visible_patients(user) -> QuerySet[Patient]:
    """The patients of the user's sites (all of them for admins, none for strangers)."""
    if sees_all_sites(user):
        return Patient.objects.all()
    if role_of(user) is None:
        return Patient.objects.none()
    return Patient.objects.filter(site__staff__user=user)


def patient_site_filter(user, path: str = "patient") -> Q:
    """A filter of rows by their patient's (`path`; "" for patients) site, to what the
    user may see.

    The same rows as `{path}__in=visible_patients(user)`, written as the visible sites'
    ids: PostgreSQL estimates `site_id IN (…)` from the column's statistics, where it
    estimated the join through the user's staff profile at 450 of 30,000 patients, and
    sorted the research cohort's 22,818 rows on disk after nested loops (issue 17).
    Nothing for those who see every site; no row for those who see none.
    """
    if sees_all_sites(user):
        return Q()
    sites = list(visible_sites(user).values_list("pk", flat=True))
    prefix = f"{path}__" if path else ""
    return Q(**{f"{prefix}site__in": sites}) if sites else Q(pk__in=[])


def patient_rows_filter(user, path: str = "patient") -> Q:
    """A filter of rows by their patient (`path`), to what the user may see.

    Nothing for those who see every site. On PostgreSQL the visible patients'
    ids go as a list: the planner estimates an IN list from the column's
    statistics and hashes it, where the subquery of `visible_patients` was
    estimated at a hundred patients and made it sort every lab of a large
    registry for a deep page (issue 17: 0.17x a bare view). Elsewhere (SQLite,
    whose queries hold at most 32,766 parameters) it stays a subquery.
    """
    if sees_all_sites(user):
        return Q()
    patients = visible_patients(user)
    if connection.vendor == "postgresql":
        return Q(**{f"{path}__in": list(patients.values_list("pk", flat=True))})
    return Q(**{f"{path}__in": patients})


def get_patient_for(user, **lookup) -> Patient:
    """A patient this user may see, or 404 — never 403, which would confirm it exists."""
    try:
        return visible_patients(user).get(**lookup)
    except (Patient.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such patient.") from exc
