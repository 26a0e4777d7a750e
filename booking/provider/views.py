"""The provider's pages: the daily list and the procedure record.

Providers see their own list and record for their own appointments; clinic admins see and
record for every provider. Front desk and patients get a 404, as if the pages did not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _

from booking.models import Appointment, Status
from booking.provider.forms import InjectateFormSet, RecordForm, SiteFormSet, muscle_choices
from booking.services import record_procedure
from clinic import roles
from clinic.access import is_clinic_admin, patients_viewed, role_names
from clinic.errors import DomainError
from clinic.http import AuthenticatedHttpRequest
from clinic.models import Provider
from patients.charts import TrendChart
from patients.history import RecordSummary, last_before, load_history, trend_for
from patients.models import Muscle, ProcedureRecord, Screening

DAY_LIST = "booking/provider/day.html"
RECORD_FORM = "booking/provider/record_form.html"
# A provider's list shows the visits that happen (or did not): not cancelled, expired or held.
LISTED = (Status.BOOKED, Status.CHECKED_IN, Status.COMPLETED, Status.NO_SHOW)


def provider_pages(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Providers and clinic admins only; anyone else gets a 404.

    A provider sees their own visits only (`own_only`), a clinic admin every provider's. The
    provider row itself is read with the visits (one query less on the daily list).
    """

    @login_required
    @wraps(view)
    def wrapper(request: AuthenticatedHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_active:
            raise Http404
        if not (is_clinic_admin(request.user) or roles.PROVIDER in role_names(request.user)):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def own_only(request: AuthenticatedHttpRequest) -> bool:
    """Behind `provider_pages`: True for a provider (their own visits only), False for a clinic admin."""
    return not is_clinic_admin(request.user)


def _own(request: AuthenticatedHttpRequest) -> dict[str, Any]:
    """The filter on appointments that keeps a provider to their own visits."""
    return {"provider__user": request.user, "provider__is_active": True}


def appointment_for_recording(request: AuthenticatedHttpRequest, appointment_id: int) -> Appointment:
    """The appointment, if this user may record for it (their own, or any for an admin); else 404."""
    appointments = Appointment.objects.select_related("patient", "provider", "location", "visit_type", "series")
    if own_only(request):
        appointments = appointments.filter(**_own(request))
    return get_object_or_404(appointments, pk=appointment_id)


# --- the daily list ---------------------------------------------------------------------------


@dataclass
class DayEntry:
    appointment: Appointment
    when: str
    session: str
    flags: list[str]
    screened: bool
    last: RecordSummary | None
    current: RecordSummary | None
    trend: TrendChart
    trend_label: str


def _parse_day(text: str | None) -> date | None:
    """The day asked for, or None for today (each visit's own location decides what today is)."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise Http404 from exc


def _admin_choice(request: AuthenticatedHttpRequest) -> tuple[Provider, list[Provider]]:
    """Clinic admins: `?provider=<id>` among the active providers (their own row, else the first)."""
    choices = list(Provider.objects.filter(is_active=True).order_by("display_name"))
    if not choices:
        raise Http404
    by_id = {str(p.pk): p for p in choices}
    mine = next((p for p in choices if p.user_id == request.user.pk), choices[0])
    return by_id.get(request.GET.get("provider", ""), mine), choices


def day_appointments(day: date | None, **whose: Any) -> list[Appointment]:
    """Visits on `day` (None: today) in each visit's local wall time, in time order (one query).

    `whose` filters the visits (a provider). The server's clock runs in UTC while the clinics do
    not, so "today" is decided per visit, in its location's zone.
    """
    now = timezone.now()
    # Every IANA offset lies within ±14 h of UTC: read a window wide enough, keep the local day.
    if day is None:
        low, high = now - timedelta(hours=38), now + timedelta(hours=38)
    else:
        low = datetime.combine(day, time.min, tzinfo=UTC) - timedelta(hours=14)
        high = datetime.combine(day, time.max, tzinfo=UTC) + timedelta(hours=14)
    rows: QuerySet[Appointment] = (
        Appointment.objects.filter(**whose, status__in=LISTED, start__gte=low, start__lte=high)
        .select_related("patient", "visit_type", "location", "series", "room", "provider")
        .order_by("start", "id")
    )

    def wanted(a: Appointment) -> bool:
        tz = a.location.tz
        return timezone.localtime(a.start, tz).date() == (day or timezone.localtime(now, tz).date())

    return [a for a in rows if wanted(a)]


def _provider_and_day(
    request: AuthenticatedHttpRequest, day: date | None
) -> tuple[Provider, list[Provider], list[Appointment]]:
    if not own_only(request):
        provider, choices = _admin_choice(request)
        return provider, choices, day_appointments(day, provider=provider)
    appointments = day_appointments(day, **_own(request))
    own = (
        appointments[0].provider if appointments else Provider.objects.filter(user=request.user, is_active=True).first()
    )
    if own is None:
        raise Http404  # a Provider-role login not linked to a provider
    return own, [], appointments


def _entry(appointment: Appointment, history: list[RecordSummary], screening: Screening | None) -> DayEntry:
    series = appointment.series
    session = ""
    if series is not None and appointment.session_number:
        session = _("Session %(k)s of %(n)s") % {"k": appointment.session_number, "n": series.sessions_planned}
    current = next((r for r in history if r.appointment_id == appointment.pk), None)
    trend = trend_for(history, series_id=appointment.series_id)
    return DayEntry(
        appointment=appointment,
        when=dateformat.format(timezone.localtime(appointment.start, appointment.location.tz), "H:i T"),
        session=session,
        flags=screening.flags if screening else [],
        screened=screening is not None,
        last=last_before(history, appointment.start),
        current=current,
        trend=trend,
        trend_label=_("Pain trend, this series") if series is not None else _("Pain trend, all recorded visits"),
    )


@provider_pages
def provider_day(request: AuthenticatedHttpRequest, day: str | None = None) -> HttpResponse:
    """One provider's visits on one day, with what matters for each patient; printable."""
    asked = _parse_day(day)
    provider, choices, appointments = _provider_and_day(request, asked)
    if asked is not None:
        shown_day = asked
    elif appointments:
        shown_day = appointments[0].local_start().date()
    else:
        shown_day = timezone.localdate()
    patient_ids = {a.patient_id for a in appointments}
    history = load_history(patient_ids) if patient_ids else {}
    screenings = Screening.objects.latest_per_patient(patient_ids) if patient_ids else {}
    patients_viewed(request, patient_ids)
    entries = [_entry(a, history.get(a.patient_id, []), screenings.get(a.patient_id)) for a in appointments]
    context = {
        "provider": provider,
        "choices": choices,
        "day": shown_day,
        "previous_day": shown_day - timedelta(days=1),
        "next_day": shown_day + timedelta(days=1),
        "asked_day": asked is not None,
        "entries": entries,
    }
    return render(request, DAY_LIST, context)


# --- recording a procedure --------------------------------------------------------------------


def _initial(record: ProcedureRecord | None) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    if record is None:
        return {}, [], []
    main = {k: getattr(record, k) for k in ("pain_before", "pain_after", "notes", "complications")}
    sites = [{"muscle": s.muscle_id, "side": s.side, "injections": s.injections} for s in record.sites.all()]
    given = [
        {k: getattr(i, k) for k in ("substance", "name", "strength_percent", "volume_ml", "dose")}
        for i in record.injectates.all()
    ]
    return main, sites, given


def _record_page(request: AuthenticatedHttpRequest, appointment: Appointment) -> dict[str, Any]:
    """The form (filled from the record when there is one) and what the provider should know."""
    record = ProcedureRecord.objects.filter(appointment=appointment).prefetch_related("sites", "injectates").first()
    muscles = Muscle.objects.filter(is_active=True) if record is None else Muscle.objects.all()
    initial, site_rows, injectate_rows = _initial(record)
    data = request.POST if request.method == "POST" else None
    if data is not None:
        # Rows equal to their initial values would count as untouched (and be skipped) when posted.
        site_rows, injectate_rows = [], []
    patient_id = appointment.patient_id
    screening = Screening.objects.latest_per_patient([patient_id]).get(patient_id)
    earlier = load_history([patient_id], before=appointment.start).get(patient_id, [])
    return {
        "appointment": appointment,
        "record": record,
        "form": RecordForm(data, initial=initial),
        "sites": SiteFormSet(
            data,
            prefix="sites",
            initial=site_rows,
            form_kwargs={"muscles": muscles, "choices": muscle_choices(list(muscles))},
        ),
        "given": InjectateFormSet(data, prefix="injectates", initial=injectate_rows),
        "flags": screening.flags if screening else [],
        "screened": screening is not None,
        "last": earlier[-1] if earlier else None,
        "when": dateformat.format(appointment.local_start(), "D j M Y, H:i T"),
    }


@provider_pages
def record_procedure_page(request: AuthenticatedHttpRequest, appointment_id: int) -> HttpResponse:
    """The provider records sites, injectates and pain; saving completes the visit (or edits the record)."""
    appointment = appointment_for_recording(request, appointment_id)
    patients_viewed(request, [appointment.patient_id])
    context = _record_page(request, appointment)
    form, sites, given = context["form"], context["sites"], context["given"]
    if request.method != "POST":
        return render(request, RECORD_FORM, context)
    if not (form.is_valid() and sites.is_valid() and given.is_valid()):
        return render(request, RECORD_FORM, context, status=422)
    try:
        saved = record_procedure(
            appointment=appointment,
            sites=sites.sites(),
            injectates=given.injectates(),
            **form.cleaned_data,
            by=request.user,
        )
    except DomainError as exc:
        return render(request, RECORD_FORM, {**context, "error": exc.detail}, status=exc.status)
    messages.success(request, _("Procedure saved: CPT %(code)s.") % {"code": saved.cpt_code})
    url = reverse("booking:provider_day", args=[appointment.local_start().date().isoformat()])
    if not own_only(request):
        url += f"?provider={appointment.provider_id}"
    return redirect(f"{url}#appointment-{appointment.pk}")
