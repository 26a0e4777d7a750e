"""Forms of the series pages: what the desk plans, what a patient chooses, the operations."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row
from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from booking.models import PartOfDay
from booking.scheduling.series import SessionChoice
from booking.services import MAX_GAP_DAYS, MAX_SERIES_SESSIONS, MAX_TOLERANCE_DAYS
from clinic.forms import form_field
from clinic.models import Location, Provider, VisitKind, VisitType


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", **kwargs)


# A plan reaches at most 52 sessions × 90 days past its first date; dates further out are typos.
MAX_YEARS_AHEAD = 3


def not_too_far(value: date | None) -> None:
    if value is not None and value > timezone.localdate() + timedelta(days=366 * MAX_YEARS_AHEAD):
        raise ValidationError(_("Choose a date within %(years)s years from today.") % {"years": MAX_YEARS_AHEAD})


def _no_form_tag(*rows: Any) -> FormHelper:
    helper = FormHelper()
    helper.form_tag = False  # the page's <form> also holds the preview and its choices
    helper.disable_csrf = True
    if rows:
        helper.layout = Layout(*rows)
    return helper


class SeriesForm(forms.Form):
    """The parameters of a series, as the desk plans it for one patient."""

    provider = forms.ModelChoiceField(queryset=Provider.objects.filter(is_active=True), label=_("Provider"))
    visit_type = forms.ModelChoiceField(
        queryset=VisitType.objects.filter(is_active=True, kind=VisitKind.PROCEDURE), label=_("Visit type")
    )
    location = forms.ModelChoiceField(queryset=Location.objects.filter(is_active=True), label=_("Location"))
    sessions = forms.IntegerField(label=_("Sessions"), min_value=1, max_value=MAX_SERIES_SESSIONS, initial=6)
    gap_days = forms.IntegerField(label=_("Gap (days)"), min_value=1, max_value=MAX_GAP_DAYS, initial=14)
    tolerance_days = forms.IntegerField(
        label=_("Tolerance (± days)"),
        min_value=0,
        max_value=MAX_TOLERANCE_DAYS,
        initial=2,
        help_text=_("How far a session may move from its target date."),
    )
    taper_days = forms.CharField(
        label=_("Taper (days)"),
        required=False,
        help_text=_("Optional growing gaps, e.g. 14, 21, 28."),
    )
    preferred_time = forms.TimeField(label=_("Preferred time"), widget=TimeInput(), initial=time(9))
    first_date = forms.DateField(
        label=_("First date"),
        widget=DateInput(),
        required=False,
        validators=[not_too_far],
        help_text=_("Target date of session 1. Not needed to prescribe."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = _no_form_tag(
            Row(Column("provider", css_class="col-md-4"), Column("visit_type", css_class="col-md-4"),
                Column("location", css_class="col-md-4")),
            Row(Column("sessions", css_class="col-6 col-md-2"), Column("gap_days", css_class="col-6 col-md-2"),
                Column("tolerance_days", css_class="col-6 col-md-3"), Column("taper_days", css_class="col-6 col-md-5")),
            Row(Column("preferred_time", css_class="col-6 col-md-3"), Column("first_date", css_class="col-6 col-md-3")),
        )  # fmt: skip

    def clean_taper_days(self) -> list[int]:
        text = self.cleaned_data["taper_days"].strip()
        if not text:
            return []
        try:
            gaps = [int(part) for part in text.replace(";", ",").split(",") if part.strip()]
        except ValueError:
            raise ValidationError(_("Write the gaps as whole days separated by commas, e.g. 14, 21, 28.")) from None
        if len(gaps) > MAX_SERIES_SESSIONS or any(not 1 <= gap <= MAX_GAP_DAYS for gap in gaps):
            raise ValidationError(_("Each gap is 1 to %(max)s days.") % {"max": MAX_GAP_DAYS})
        return gaps

    def require_first_date(self) -> bool:
        """Planning needs session 1's date (prescribing does not); say so on the field."""
        if self.cleaned_data.get("first_date") is None:
            self.add_error("first_date", _("Choose the target date of session 1."))
            return False
        return True

    def signature(self) -> str:
        """The parameters a preview was made for: a booking must match the preview it confirms."""
        data = self.cleaned_data
        first = data.get("first_date")
        return "|".join(
            str(part)
            for part in (
                data["provider"].pk,
                data["visit_type"].pk,
                data["location"].pk,
                data["sessions"],
                data["gap_days"],
                data["tolerance_days"],
                ",".join(map(str, data["taper_days"])),
                data["preferred_time"].strftime("%H:%M"),
                first.isoformat() if first else "",
            )
        )

    def series_values(self) -> dict[str, Any]:
        """The cleaned parameters as the series services take them."""
        data = self.cleaned_data
        names = ("provider", "visit_type", "location", "sessions", "gap_days", "tolerance_days", "taper_days")
        return {**{name: data[name] for name in names}, "preferred_time": data["preferred_time"]}


class FirstDateForm(forms.Form):
    """A prescribed series: the one thing left to choose is when it starts."""

    first_date = forms.DateField(
        label=_("Date of your first session"),
        widget=DateInput(),
        validators=[not_too_far],
        help_text=_("The next sessions follow on the same weekday and at the same time where possible."),
    )

    def __init__(self, *args: Any, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["first_date"].widget.attrs["min"] = today.isoformat()
        self.helper = _no_form_tag()

    def clean_first_date(self) -> date:
        first_date: date = self.cleaned_data["first_date"]
        if first_date < self.today:
            raise ValidationError(_("Choose a date from today on."))
        return first_date

    def signature(self) -> str:
        return self.cleaned_data["first_date"].isoformat()


class CancelRemainingForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200)

    def __init__(self, data: QueryDict | None = None, **kwargs: Any) -> None:
        super().__init__(data, prefix="cancel", **kwargs)
        self.helper = _no_form_tag()


class ExtendForm(forms.Form):
    sessions = forms.IntegerField(label=_("More sessions"), min_value=1, max_value=MAX_SERIES_SESSIONS, initial=2)

    def __init__(self, data: QueryDict | None = None, **kwargs: Any) -> None:
        super().__init__(data, prefix="extend", **kwargs)
        self.helper = _no_form_tag()


class MoveSessionForm(forms.Form):
    session_number = forms.TypedChoiceField(label=_("Session"), coerce=int)
    date = forms.DateField(label=_("New date"), widget=DateInput(), validators=[not_too_far])
    time = forms.TimeField(label=_("New time"), widget=TimeInput())
    replan_later = forms.BooleanField(label=_("Re-plan the later sessions from the new date"), required=False)
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)

    def __init__(self, data: QueryDict | None = None, *, sessions: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(data, prefix="move", **kwargs)
        form_field(self, "session_number", forms.ChoiceField).choices = sessions
        self.helper = _no_form_tag()


class PatientSearchForm(forms.Form):
    q = forms.CharField(label=_("Find a patient"), required=False, help_text=_("Name, phone, e-mail or YYYY-MM-DD"))


# --- choices picked in a preview --------------------------------------------------------------
# A previewed session is posted back as `pin_<k>` and a picked alternative as `choice_<k>`, both
# "<ISO start with offset>|<provider id>", so that a booking is exactly what the preview showed.


def choice_value(start: datetime, provider_id: int) -> str:
    return f"{start.isoformat()}|{provider_id}"


def posted_choices(data: Any, prefix: str, numbers: range) -> dict[int, SessionChoice]:
    """Session number -> choice from `<prefix><k>` fields; malformed ones and other sessions are dropped."""
    picked: dict[int, SessionChoice] = {}
    for key in data:
        number_text = key.removeprefix(prefix)
        if key == number_text or not number_text.isdigit() or int(number_text) not in numbers:
            continue
        start_text, _sep, provider_text = str(data[key]).partition("|")
        try:
            start = datetime.fromisoformat(start_text)
        except ValueError:
            continue
        if start.tzinfo is None:
            continue
        picked[int(number_text)] = SessionChoice(start, int(provider_text) if provider_text.isdigit() else None)
    return picked


# --- a patient's own changes ------------------------------------------------------------------

CANCEL_REASONS = {
    "cannot_come": (_("I cannot come at that time"), "cannot come at that time"),
    "feel_better": (_("I feel better"), "feels better"),
    "elsewhere": (_("I am being treated elsewhere"), "treated elsewhere"),
    "other": (_("Another reason"), "another reason"),
}


class PatientCancelForm(forms.Form):
    """Why a patient cancels; kept in English for the clinic, with the patient's own words."""

    reason = forms.ChoiceField(
        label=_("Why are you cancelling?"),
        choices=[(code, label) for code, (label, _english) in CANCEL_REASONS.items()],
        widget=forms.RadioSelect,
    )
    detail = forms.CharField(
        label=_("Anything the clinic should know (optional)"), required=False, max_length=150, strip=True
    )

    def reason_text(self) -> str:
        english = CANCEL_REASONS[self.cleaned_data["reason"]][1]
        detail = self.cleaned_data.get("detail", "")
        return f"patient: {english}" + (f" ({detail})" if detail else "")


class MoveForm(forms.Form):
    """The free slot a patient picked: "<provider id>@<ISO start with offset>"."""

    slot = forms.CharField(max_length=80, error_messages={"required": _("Please choose a new time.")})

    def __init__(self, *args: Any, provider_ids: set[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.provider_ids = provider_ids

    def clean_slot(self) -> tuple[int, datetime]:
        provider, _sep, start_text = self.cleaned_data["slot"].partition("@")
        try:
            provider_id = int(provider)
            start = datetime.fromisoformat(start_text)
        except ValueError:
            raise ValidationError(_("Please choose one of the times shown."), code="invalid_slot") from None
        if provider_id not in self.provider_ids or timezone.is_naive(start):
            raise ValidationError(_("Please choose one of the times shown."), code="invalid_slot")
        return provider_id, start


# --- the waitlist -------------------------------------------------------------------------------


class WaitlistEntryForm(forms.Form):
    """What a patient waits for: visit, place, optionally a provider, dates and times of day."""

    visit_type = forms.ModelChoiceField(queryset=VisitType.objects.filter(is_active=True), label=_("Visit type"))
    location = forms.ModelChoiceField(queryset=Location.objects.filter(is_active=True), label=_("Location"))
    provider = forms.ModelChoiceField(
        queryset=Provider.objects.filter(is_active=True),
        label=_("Provider"),
        required=False,
        empty_label=_("Any provider"),
    )
    earliest_date = forms.DateField(label=_("From date"), required=False, widget=DateInput(), validators=[not_too_far])
    latest_date = forms.DateField(label=_("Until date"), required=False, widget=DateInput(), validators=[not_too_far])
    parts_of_day = forms.MultipleChoiceField(
        label=_("Times of day"),
        choices=PartOfDay.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Leave all unticked for any time."),
    )
    time_from = forms.TimeField(label=_("Not before"), required=False, widget=TimeInput())
    time_to = forms.TimeField(label=_("Done by"), required=False, widget=TimeInput())
    note = forms.CharField(label=_("Note for the desk"), required=False, max_length=200)

    def __init__(self, *args: Any, patient_facing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if patient_facing:
            del self.fields["note"]
            form_field(self, "visit_type", forms.ModelChoiceField).queryset = VisitType.objects.filter(
                is_active=True, bookable_online=True
            )
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            Row(
                Column("visit_type", css_class="col-md-4"),
                Column("location", css_class="col-md-4"),
                Column("provider", css_class="col-md-4"),
            ),
            Row(Column("earliest_date", css_class="col-6 col-md-3"), Column("latest_date", css_class="col-6 col-md-3")),
            "parts_of_day",
            Row(Column("time_from", css_class="col-6 col-md-3"), Column("time_to", css_class="col-6 col-md-3")),
            *(["note"] if "note" in self.fields else []),
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        first, last = data.get("earliest_date"), data.get("latest_date")
        if first and last and last < first:
            self.add_error("latest_date", _("The last date is before the first date."))
        if last and last < timezone.localdate():
            self.add_error("latest_date", _("The last date is in the past."))
        start, end = data.get("time_from"), data.get("time_to")
        if start and end and end <= start:
            self.add_error("time_to", _("This must be after the 'not before' time."))
        return data

    def entry_values(self) -> dict[str, Any]:
        data = self.cleaned_data
        values = {
            name: data.get(name) for name in ("visit_type", "location", "provider", "earliest_date", "latest_date")
        }
        values |= {
            "parts_of_day": data.get("parts_of_day") or [],
            "time_from": data.get("time_from"),
            "time_to": data.get("time_to"),
        }
        if "note" in self.fields:
            values["note"] = data.get("note") or ""
        return values


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), required=False, max_length=200)


class HandOfferForm(forms.Form):
    """One of the free times listed for an entry: "<ISO start>|<provider id>"."""

    slot = forms.CharField()

    def clean_slot(self) -> tuple[datetime, int]:
        raw = self.cleaned_data["slot"]
        start_text, _sep, provider_text = raw.partition("|")
        try:
            start = datetime.fromisoformat(start_text)
            provider_id = int(provider_text)
        except ValueError:
            raise ValidationError(_("Pick one of the times listed.")) from None
        if timezone.is_naive(start):
            raise ValidationError(_("Pick one of the times listed."))
        return start, provider_id
