"""Staff accounts: a user with a role and the sites whose patients they see."""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from registry.models import Role, Site, StaffProfile


def save_staff_user(
    username: str, *, role: str, site_codes: Sequence[str] = (), password: str | None = None
):
    """Create or update `username` with `role` and exactly `site_codes`; returns (user, created).

    Clinicians and research staff need at least one site; admins see every
    site and need none, and are made staff superusers: the Django admin is
    where they manage users, roles, sites and the audit trail (DESIGN.md), and
    Django's per-model permissions would add nothing to "sees everything".
    `password=None` keeps an existing user's password. Raises
    `ValidationError` naming the problem (unknown role or site, weak password).
    """
    if role not in Role.values:
        raise ValidationError(
            {"role": [f"Unknown role {role!r}; one of {', '.join(Role.values)}."]}
        )
    codes = list(dict.fromkeys(site_codes))
    sites = list(Site.objects.filter(code__in=codes))
    unknown = sorted(set(codes) - {s.code for s in sites})
    if unknown:
        known = ", ".join(Site.objects.values_list("code", flat=True)) or "none yet"
        raise ValidationError(
            {"sites": [f"Unknown site code(s): {', '.join(unknown)} (known: {known})."]}
        )
    if role != Role.ADMIN and not sites:
        raise ValidationError({"sites": [f"A {role} user needs at least one --site."]})

    User = get_user_model()
    with transaction.atomic():
        user = User.objects.filter(username=username).first()
        created = user is None
        if created:
            user = User(username=username)
        if password is not None:
            validate_password(password, user)
            user.set_password(password)
        elif created:
            raise ValidationError({"password": ["A new user needs a password."]})
        user.is_staff = user.is_superuser = role == Role.ADMIN
        user.is_active = True
        user.save()
        profile, _ = StaffProfile.objects.update_or_create(user=user, defaults={"role": role})
        profile.sites.set(sites)
    return user, created
