"""Who may call what: one permission class reading what the view declares (STYLE.md, pretix).

Which *objects* a caller sees is decided elsewhere, by
`registry.access.visible_patients`, from which every queryset starts; another
site's object is therefore a 404, never a 403 that would confirm it exists.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from registry.access import role_of
from registry.models import Role

CLINICAL_WRITERS: tuple[str, ...] = (Role.CLINICIAN, Role.ADMIN)


class RegistryRole(BasePermission):
    """Reads for every role; writes for the roles in the view's `write_roles`.

    Research staff read (without identifiers) and never write; a user without
    a staff profile has no role and gets nothing.
    """

    message = "Your role may not do this."

    def has_permission(self, request, view) -> bool:
        role = role_of(request.user)
        if role is None:
            return False
        if request.method in SAFE_METHODS:
            return True
        return role in getattr(view, "write_roles", CLINICAL_WRITERS)
