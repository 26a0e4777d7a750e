"""The staff "Messages" page: what went out to patients, what is waiting, what failed and why,
and "send again".

Staff only (front desk, providers, clinic admins); anyone else gets a 404. Hook it up in
booking/urls.py with `*messages_views.urlpatterns` (names `booking:message_list` and
`booking:message_resend`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from booking.messaging import planning
from booking.models import Reminder, ReminderStatus
from clinic.access import patients_viewed, staff_only
from clinic.http import AuthenticatedHttpRequest

PAGE_SIZE = 50
# The filter tabs: failed first, since that is what staff must act on.
FILTERS = {
    "failed": [ReminderStatus.FAILED],
    "waiting": [ReminderStatus.PENDING, ReminderStatus.SENDING],
    "sent": [ReminderStatus.SENT],
    "not_sent": [ReminderStatus.SKIPPED, ReminderStatus.CANCELLED],
    "all": [],
}
RESENDABLE = (ReminderStatus.FAILED, ReminderStatus.SKIPPED, ReminderStatus.SENT, ReminderStatus.CANCELLED)


@staff_only
def message_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Messages newest first, filtered by what happened to them."""
    shown = request.GET.get("show", "failed")
    if shown not in FILTERS:
        shown = "failed"
    rows = Reminder.objects.select_related(
        "appointment__patient", "appointment__location", "offer__entry__patient", "offer__location"
    ).order_by("-send_at", "-id")
    if FILTERS[shown]:
        rows = rows.filter(status__in=FILTERS[shown])
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    patients_viewed(request, [reminder.patient.pk for reminder in page])
    context = {
        "page": page,
        "rows": [_message_row(reminder) for reminder in page],
        "shown": shown,
        "filters": [(key, _label(key)) for key in FILTERS],
        "failed_count": Reminder.objects.filter(status=ReminderStatus.FAILED).count(),
    }
    return render(request, "booking/messages/list.html", context)


@dataclass(frozen=True)
class MessageRow:
    reminder: Reminder
    local_send_at: str  # the location's time, not the server's
    can_resend: bool


def _message_row(reminder: Reminder) -> MessageRow:
    local = timezone.localtime(reminder.send_at, reminder.location.tz)
    return MessageRow(
        reminder=reminder,
        local_send_at=f"{local:%Y-%m-%d %H:%M} {local.tzname()}",
        can_resend=reminder.status in RESENDABLE,
    )


def _label(key: str) -> str:
    return {
        "failed": _("Failed"),
        "waiting": _("Waiting"),
        "sent": _("Sent"),
        "not_sent": _("Skipped or cancelled"),
        "all": _("All"),
    }[key]


@staff_only  # first: anyone else gets 404 whatever the method, not a 405 that shows the page exists
@require_POST
def message_resend(request: AuthenticatedHttpRequest, reminder_id: int) -> HttpResponse:
    """Send one message again (a new idempotency key, so the gateway does not drop it)."""
    reminder = get_object_or_404(Reminder, pk=reminder_id)
    if reminder.status in RESENDABLE and planning.resend(reminder):
        messages.success(request, _("The message will be sent again within a minute."))
    else:
        messages.warning(request, _("This message is being sent right now; it was left alone."))
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(back)
    return redirect("booking:message_list")


urlpatterns = [
    path("desk/messages/", message_list, name="message_list"),
    path("desk/messages/<int:reminder_id>/resend", message_resend, name="message_resend"),
]
