"""Forms of the desk calendar: book into an empty time (finding or creating the patient), move,
cancel. Times are posted as ISO 8601 with the location's offset, or as a local date and time."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from booking.forms import DateInput, TimeInput
from booking.scheduling.series import TimeNote, wall_instant
from clinic.forms import form_field
from clinic.models import Location, Provider, VisitType
from patients.models import Patient

NEW_PATIENT_FIELDS = ("first_name", "last_name", "date_of_birth", "phone", "email")


def parse_start(value: str) -> datetime | None:
    """An ISO 8601 instant with its offset, or None."""
    try:
        start = datetime.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        return None
    return None if timezone.is_naive(start) else start


class CompactForm(forms.Form):
    """Small Bootstrap inputs for the side panel; a field with an error points at its message."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field.widget, forms.Select):
                field.widget.attrs.setdefault("class", "form-select form-select-sm")
            elif not isinstance(field.widget, forms.HiddenInput):
                field.widget.attrs.setdefault("class", "form-control form-control-sm")

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                attrs["aria-describedby"] = f"{self[name].auto_id}_error"
                attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()


class StartField(forms.CharField):
    """An instant posted as ISO 8601 text with an offset (what the calendar's cells carry)."""

    widget = forms.HiddenInput

    def to_python(self, value: Any) -> datetime | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        start = parse_start(text)
        if start is None:
            raise ValidationError(_("The time is not valid; pick it again in the calendar."), code="invalid_start")
        return start


class BookForm(CompactForm):
    """Who, what and when: an existing patient (picked from the search) or a new one typed in."""

    start = StartField(label=_("Start"))
    provider = forms.ModelChoiceField(queryset=Provider.objects.filter(is_active=True), label=_("Provider"))
    visit_type = forms.ModelChoiceField(queryset=VisitType.objects.filter(is_active=True), label=_("Visit type"))
    patient = forms.ModelChoiceField(queryset=Patient.objects.all(), required=False, label=_("Patient"))
    first_name = forms.CharField(label=_("First name"), max_length=80, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=80, required=False)
    date_of_birth = forms.DateField(label=_("Date of birth"), required=False, widget=DateInput())
    phone = forms.CharField(label=_("Mobile phone"), max_length=40, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)

    def __init__(self, *args: Any, location: Location, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.location = location
        form_field(self, "provider", forms.ModelChoiceField).queryset = Provider.objects.filter(
            is_active=True, locations=location
        )
        form_field(self, "visit_type", forms.ModelChoiceField).queryset = VisitType.objects.filter(
            is_active=True
        ).order_by("kind", "name")

    @property
    def creates_patient(self) -> bool:
        return self.is_bound and not self.data.get("patient") and any(self.data.get(f) for f in NEW_PATIENT_FIELDS)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("patient") is not None or self.errors:
            return data
        if not any(data.get(f) for f in NEW_PATIENT_FIELDS):
            raise ValidationError(_("Find the patient, or type in a new patient's details."), code="no_patient")
        for name in ("first_name", "last_name", "date_of_birth"):
            if not data.get(name):
                self.add_error(name, _("Needed for a new patient."))
        return data

    def new_patient_values(self) -> dict[str, Any]:
        return {f: self.cleaned_data[f] for f in NEW_PATIENT_FIELDS if self.cleaned_data.get(f) is not None}


class MoveForm(CompactForm):
    """The new provider and local date and time; or `start` as ISO text (an alternative, a drop)."""

    provider = forms.ModelChoiceField(queryset=Provider.objects.filter(is_active=True), label=_("Provider"))
    date = forms.DateField(label=_("Date"), required=False, widget=DateInput())
    time = forms.TimeField(label=_("Time"), required=False, widget=TimeInput())
    start = StartField(required=False)
    reason = forms.CharField(label=_("Reason (optional)"), max_length=200, required=False)

    def __init__(self, *args: Any, location: Location, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tz: ZoneInfo = location.tz
        form_field(self, "provider", forms.ModelChoiceField).queryset = Provider.objects.filter(
            is_active=True, locations=location
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.errors or data.get("start"):
            return data
        if not (data.get("date") and data.get("time")):
            raise ValidationError(_("Choose the new date and time."), code="no_time")
        start, note = wall_instant(data["date"], data["time"].replace(second=0, microsecond=0), self.tz)
        if note == TimeNote.NONEXISTENT:
            self.add_error("time", _("That time does not exist on that day: the clocks go forward. Pick another."))
            return data
        data["start"] = start
        return data


class CancelForm(CompactForm):
    reason = forms.CharField(label=_("Reason"), max_length=200)
