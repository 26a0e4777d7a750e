"""The navigation each role sees, from the roles already read for the request (no extra query)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from clinic import roles
from clinic.access import is_clinic_admin, is_staff_member, role_names

register = template.Library()

# (URL name, label, who sees it): "staff" every staff role, a role name that role (clinic admins
# and superusers see every staff link), "patient" a patient login.
LINKS: list[tuple[str, Any, str]] = [
    ("booking:calendar_home", _("Calendar"), "staff"),
    ("booking:desk_home", _("Front desk"), "staff"),
    ("booking:provider_today", _("My day"), roles.PROVIDER),
    ("patients:review_list", _("Reviews"), "staff"),
    ("booking:desk_waitlist", _("Waitlist"), "staff"),
    ("booking:message_list", _("Messages"), "staff"),
    ("booking:reports", _("Reports"), roles.CLINIC_ADMIN),
    ("booking:book_start", _("Book"), "patient"),
    ("booking:my_appointments", _("My appointments"), "patient"),
    ("booking:my_series_list", _("My series"), "patient"),
    ("booking:my_waitlist", _("My waitlist"), "patient"),
    ("patients:profile", _("Profile"), "patient"),
]


@register.simple_tag(takes_context=True)
def nav_links(context: dict[str, Any]) -> list[dict[str, Any]]:
    """The links for the logged-in user, each with whether it is the current page."""
    request = context.get("request")
    user = getattr(request, "user", None)  # none on a page answered before the auth middleware (a 429)
    if request is None or user is None or not user.is_authenticated:
        return []
    names = role_names(user)
    staff, admin = is_staff_member(user), is_clinic_admin(user)
    patient = roles.PATIENT in names and not staff
    path = request.path
    links = []
    for url_name, label, who in LINKS:
        if who == "patient":
            shown = patient
        elif who == "staff":
            shown = staff
        else:
            shown = staff and (admin or who in names)
        if shown:
            links.append({"url": reverse(url_name), "label": label, "current": False})
    # The current page is the link with the longest matching path (/desk/calendar/ over /desk/).
    matching = [link for link in links if path.startswith(link["url"])]
    if matching:
        max(matching, key=lambda link: len(link["url"]))["current"] = True
    return links


@register.filter
def records_procedures(user: Any) -> bool:
    """Providers and clinic admins record procedures (the record page checks whose visit it is)."""
    return bool(is_clinic_admin(user) or roles.PROVIDER in role_names(user))
