"""Who someone is in the clinic: roles from groups, the staff-only gate, and what they were shown.

The patient record behind a login is the patients app's (patients.access.patient_for).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse

from clinic import roles

# Set on a user object by token authentication (clinic.api), which reads the staff role with the
# token in one query; read here instead of the user's groups.
STAFF_ATTRIBUTE = "_clinic_is_staff"


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
    known = getattr(user, STAFF_ATTRIBUTE, None)
    if known is not None:
        return bool(known)
    return bool(user.is_superuser or role_names(user) & set(roles.STAFF_ROLES))


def is_clinic_admin(user: Any) -> bool:
    return bool(getattr(user, "is_superuser", False) or roles.CLINIC_ADMIN in role_names(user))


def staff_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Front desk, providers and clinic admins; anyone else gets a 404, as if the page did not exist."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_staff_member(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


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
