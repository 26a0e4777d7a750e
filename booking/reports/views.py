"""Reports for the clinic admin: per provider and location, for a chosen period; CSV export.

Clinic admins only: the figures judge providers' and locations' performance, which the front
desk and providers do not need for their work (anyone else gets a 404).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from booking.forms import DateInput
from booking.reports.build import MAX_DAYS, ReportRow, build_report
from clinic.access import is_clinic_admin
from clinic.http import AuthenticatedHttpRequest
from clinic.models import Location


def clinic_admin_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not (request.user.is_active and is_clinic_admin(request.user)):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


class ReportForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("From"), widget=DateInput(attrs={"class": "form-control"}))
    end = forms.DateField(label=gettext_lazy("To (inclusive)"), widget=DateInput(attrs={"class": "form-control"}))
    location = forms.ModelChoiceField(
        label=gettext_lazy("Location"),
        queryset=Location.objects.filter(is_active=True),
        required=False,
        empty_label=gettext_lazy("All locations"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", _("The end must not be before the start."))
        elif start and end and (end - start).days >= MAX_DAYS:
            self.add_error("end", _("Choose a period of at most %(days)s days.") % {"days": MAX_DAYS})
        return data


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


COLUMNS = [
    (gettext_lazy("Location"), lambda r: r.location.name),
    (gettext_lazy("Provider"), lambda r: r.provider.display_name),
    (gettext_lazy("Working hours"), lambda r: f"{r.working_hours:.2f}"),
    (gettext_lazy("Booked hours"), lambda r: f"{r.booked_hours:.2f}"),
    (gettext_lazy("Utilisation %"), lambda r: _percent(r.utilisation)),
    (gettext_lazy("Visits due"), lambda r: r.due),
    (gettext_lazy("No-shows"), lambda r: r.no_shows),
    (gettext_lazy("No-show rate %"), lambda r: _percent(r.no_show_rate)),
    (gettext_lazy("Visits booked"), lambda r: r.visits),
    (gettext_lazy("Late cancellations"), lambda r: r.late_cancellations),
    (gettext_lazy("Late-cancellation rate %"), lambda r: _percent(r.late_cancellation_rate)),
    (gettext_lazy("Series started"), lambda r: r.series_started),
    (gettext_lazy("Series completed"), lambda r: r.series_completed),
]


def table(rows: list[ReportRow]) -> list[list[Any]]:
    return [[value(row) for _label, value in COLUMNS] for row in rows]


@clinic_admin_only
def reports(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The table for the chosen period (default: the last four weeks); `?format=csv` downloads it."""
    today = timezone.localdate()
    form = ReportForm(request.GET or {"start": today - timedelta(days=27), "end": today})
    if not form.is_valid():
        return render(request, "booking/reports.html", {"form": form, "rows": None}, status=400)
    data = form.cleaned_data
    rows = build_report(data["start"], data["end"], location=data["location"])
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="report-{data["start"]}-{data["end"]}.csv"'
        writer = csv.writer(response)
        writer.writerow([str(label) for label, _value in COLUMNS])
        writer.writerows(table(rows))
        return response
    context = {
        "form": form,
        "headers": [label for label, _value in COLUMNS],
        "rows": table(rows),
        "csv_query": urlencode(
            {"start": data["start"], "end": data["end"], "location": data["location"].pk if data["location"] else ""}
        ),
    }
    return render(request, "booking/reports.html", context)
