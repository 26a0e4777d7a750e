"""Who someone is in the clinic: roles from groups, and the patient record behind a login."""

from __future__ import annotations

from typing import Any

from clinic import roles


def role_names(user: Any) -> frozenset[str]:
    """The user's role groups, read once per request and kept on the user object."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_clinic_roles", None)
    if cached is None:
        # One query for the role names and the roles' permissions: Django's ModelBackend reads the
        # latter from `_group_perm_cache`, so a page that checks `perms` (the nav) needs no second query.
        rows = list(user.groups.values_list("name", "permissions__content_type__app_label", "permissions__codename"))
        cached = frozenset(name for name, _app, _codename in rows)
        user._clinic_roles = cached
        if not user.is_superuser and not hasattr(user, "_group_perm_cache"):
            user._group_perm_cache = {f"{app}.{codename}" for _name, app, codename in rows if codename}
    return cached


def is_staff_member(user: Any) -> bool:
    """Front desk, providers and clinic admins (and superusers) run the calendar."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    known = getattr(user, "_clinic_is_staff", None)  # set by token authentication
    if known is not None:
        return bool(known)
    return bool(user.is_superuser or role_names(user) & set(roles.STAFF_ROLES))


def is_clinic_admin(user: Any) -> bool:
    return bool(getattr(user, "is_superuser", False) or roles.CLINIC_ADMIN in role_names(user))


def patient_for(user: Any) -> Any:
    """The Patient linked to this login, or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    from patients.models import Patient

    return Patient.objects.filter(user=user).first()


def patients_viewed(request: Any, patient_ids: Any) -> None:
    """Note that this request showed these patients' data to a staff member.

    Every staff page or API call that shows patient data calls this with the ids it showed;
    the access log (who looked at which patients, when, from where) is written from what is
    noted here once the response is ready.
    """
    noted = getattr(request, "viewed_patient_ids", None)
    if noted is None:
        noted = set()
        request.viewed_patient_ids = noted
    noted.update(int(pk) for pk in patient_ids)
