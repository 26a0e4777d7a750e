"""Forms for the clinic's set-up screens, and a typed look-up of a form's fields for every app."""

from collections import defaultdict
from datetime import time
from typing import TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.forms.formsets import DELETION_FIELD_NAME
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext as _

from clinic.models import Weekday

_Field = TypeVar("_Field", bound=forms.Field)


def form_field(form: forms.BaseForm, name: str, kind: type[_Field]) -> _Field:
    """The form's own copy of a declared field, as the kind it was declared, to narrow its
    queryset or choices per request (`form.fields` is typed as holding plain Fields)."""
    field = form.fields[name]
    if not isinstance(field, kind):
        raise TypeError(f"{type(form).__name__}.{name} is a {type(field).__name__}, not a {kind.__name__}")
    return field


class WorkingHoursFormSet(BaseInlineFormSet):
    """A provider's working hours edited together; refuses ranges that overlap one another.

    WorkingHours.clean() only compares a row with rows already saved, so two new rows in
    one submission (or two edited rows) could overlap unnoticed without this check.
    """

    def clean(self) -> None:
        super().clean()
        ranges_by_day: dict[int, list[tuple[time, time, str]]] = defaultdict(list)
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or not form.cleaned_data or form.cleaned_data.get(DELETION_FIELD_NAME):
                continue
            weekday = form.cleaned_data.get("weekday")
            start = form.cleaned_data.get("start")
            end = form.cleaned_data.get("end")
            if weekday is None or start is None or end is None or end <= start:
                continue  # the row's own errors already say what is missing or reversed
            location = form.cleaned_data.get("location")
            ranges_by_day[int(weekday)].append((start, end, str(location) if location else ""))

        clashes = []
        for weekday, ranges in sorted(ranges_by_day.items()):
            ranges.sort()
            # Compare each range with the one reaching latest so far, so a long range that
            # covers several short ones is caught too. Half-open: 08:00–12:00 and 12:00–17:00 touch.
            start_a, end_a, place_a = ranges[0]
            for start_b, end_b, place_b in ranges[1:]:
                if start_b < end_a:
                    clashes.append(
                        ValidationError(
                            _(
                                "%(day)s %(start_a)s–%(end_a)s at %(place_a)s overlaps %(day)s "
                                "%(start_b)s–%(end_b)s at %(place_b)s for this provider. Ranges on the same "
                                "day must not overlap; enter a lunch break as two ranges, "
                                "e.g. 08:00–12:00 and 13:00–17:00."
                            ),
                            params={
                                "day": Weekday(weekday).label,
                                "start_a": f"{start_a:%H:%M}",
                                "end_a": f"{end_a:%H:%M}",
                                "place_a": place_a,
                                "start_b": f"{start_b:%H:%M}",
                                "end_b": f"{end_b:%H:%M}",
                                "place_b": place_b,
                            },
                            code="overlapping_hours",
                        )
                    )
                if end_b > end_a:
                    start_a, end_a, place_a = start_b, end_b, place_b
        if clashes:
            raise ValidationError(clashes)
