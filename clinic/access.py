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
        # Logins through clinic.auth.RoleAwareBackend arrive with their roles read with the user;
        # anyone else (a user object built elsewhere) costs this one query.
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._clinic_roles = cached
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
