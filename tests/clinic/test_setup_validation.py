"""Bad clinic set-up is refused with a message that says what is wrong; good set-up is accepted."""

from datetime import UTC, date, datetime, time

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.forms import inlineformset_factory
from django.urls import reverse

from clinic.forms import WorkingHoursFormSet
from clinic.models import Closure, Location, Provider, TimeOff, Weekday, WorkingHours
from tests.factories import make_hours, make_location, make_provider, make_user, make_visit_type, sign_in

pytestmark = pytest.mark.django_db


def messages_of(error: ValidationError) -> str:
    return " ".join(error.messages)


# --- Working hours: the model and the database ------------------------------------------------


def test_hours_that_end_before_they_start_are_refused_by_validation():
    provider = make_provider(locations=[make_location()])
    hours = WorkingHours(provider=provider, location=provider.locations.get(), weekday=Weekday.MONDAY)
    hours.start, hours.end = time(17), time(9)

    with pytest.raises(ValidationError) as refused:
        hours.full_clean()

    assert refused.value.message_dict["end"] == ["The end of working hours must be after the start."]


def test_hours_that_end_before_they_start_are_refused_by_the_database():
    provider = make_provider(locations=[make_location()])

    with pytest.raises(IntegrityError, match="clinic_workinghours_end_after_start"), transaction.atomic():
        WorkingHours.objects.create(
            provider=provider, location=provider.locations.get(), weekday=Weekday.MONDAY, start=time(17), end=time(9)
        )

    assert not WorkingHours.objects.exists()


def test_overlapping_hours_for_one_provider_and_day_are_refused():
    morning = make_hours(start=time(8), end=time(12))
    overlapping = WorkingHours(
        provider=morning.provider, location=morning.location, weekday=Weekday.MONDAY, start=time(11), end=time(15)
    )

    with pytest.raises(ValidationError) as refused:
        overlapping.full_clean()

    assert "overlap Monday 08:00–12:00 at Riverside Pain Clinic" in messages_of(refused.value)


def test_overlapping_hours_at_another_location_are_refused_too():
    morning = make_hours(start=time(8), end=time(12))
    elsewhere = make_location(name="Rocket City Pain & Spine", timezone="America/Chicago")
    overlapping = WorkingHours(
        provider=morning.provider, location=elsewhere, weekday=Weekday.MONDAY, start=time(9), end=time(10)
    )

    with pytest.raises(ValidationError, match="overlap"):
        overlapping.full_clean()


def test_a_lunch_break_as_two_ranges_is_accepted():
    morning = make_hours(start=time(8), end=time(12))
    afternoon = WorkingHours(
        provider=morning.provider, location=morning.location, weekday=Weekday.MONDAY, start=time(13), end=time(17)
    )

    afternoon.full_clean()
    afternoon.save()

    assert list(morning.provider.working_hours.values_list("start", "end")) == [
        (time(8), time(12)),
        (time(13), time(17)),
    ]


def test_back_to_back_ranges_do_not_overlap():
    morning = make_hours(start=time(8), end=time(12))
    afternoon = WorkingHours(
        provider=morning.provider, location=morning.location, weekday=Weekday.MONDAY, start=time(12), end=time(16)
    )

    afternoon.full_clean()


def test_the_same_hours_on_another_day_or_for_another_provider_are_accepted():
    monday = make_hours(start=time(8), end=time(12))
    tuesday = WorkingHours(
        provider=monday.provider, location=monday.location, weekday=Weekday.TUESDAY, start=time(8), end=time(12)
    )
    colleague = make_provider(display_name="James Whitfield", credentials="DO", locations=[monday.location])
    colleague_monday = WorkingHours(
        provider=colleague, location=monday.location, weekday=Weekday.MONDAY, start=time(8), end=time(12)
    )

    tuesday.full_clean()
    colleague_monday.full_clean()


# --- Working hours: the admin inline, where several new rows arrive at once ---------------------


def hours_formset_data(location: Location, rows: list[tuple[int, str, str]], provider: Provider | None = None) -> dict:
    data = {
        "working_hours-TOTAL_FORMS": str(len(rows)),
        "working_hours-INITIAL_FORMS": "0",
        "working_hours-MIN_NUM_FORMS": "0",
        "working_hours-MAX_NUM_FORMS": "1000",
    }
    for i, (weekday, start, end) in enumerate(rows):
        data |= {
            f"working_hours-{i}-id": "",
            f"working_hours-{i}-provider": str(provider.pk) if provider else "",
            f"working_hours-{i}-weekday": str(weekday),
            f"working_hours-{i}-start": start,
            f"working_hours-{i}-end": end,
            f"working_hours-{i}-location": str(location.pk),
        }
    return data


def provider_form_data(location: Location, visit_type, rows, provider: Provider | None = None) -> dict:
    return {
        "display_name": provider.display_name if provider else "Priya Raman",
        "credentials": provider.credentials if provider else "NP",
        "user": "",
        "is_active": "on",
        "locations": [str(location.pk)],
        "visit_types": [str(visit_type.pk)],
        "_save": "Save",
        **hours_formset_data(location, rows, provider),
    }


@pytest.fixture
def superuser_client(client):
    sign_in(client, make_user("root", is_staff=True, is_superuser=True))
    return client


def test_admin_refuses_two_new_overlapping_rows_in_one_submission(superuser_client):
    location, visit_type = make_location(), make_visit_type()
    provider = make_provider(locations=[location], visit_types=[visit_type])
    rows = [(Weekday.MONDAY, "08:00", "12:30"), (Weekday.MONDAY, "12:00", "17:00")]

    response = superuser_client.post(
        reverse("admin:clinic_provider_change", args=[provider.pk]),
        provider_form_data(location, visit_type, rows, provider),
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "Monday 08:00–12:30 at Riverside Pain Clinic overlaps Monday 12:00–17:00" in page
    assert "enter a lunch break as two ranges" in page
    assert not WorkingHours.objects.exists()


def test_admin_refuses_overlapping_rows_when_adding_a_provider(superuser_client):
    location, visit_type = make_location(), make_visit_type()
    rows = [(Weekday.FRIDAY, "09:00", "17:00"), (Weekday.FRIDAY, "13:00", "14:00")]

    response = superuser_client.post(
        reverse("admin:clinic_provider_add"), provider_form_data(location, visit_type, rows)
    )

    assert response.status_code == 200
    assert "Friday 09:00–17:00 at Riverside Pain Clinic overlaps Friday 13:00–14:00" in response.content.decode()
    assert not Provider.objects.exists()
    assert not WorkingHours.objects.exists()


def test_admin_saves_a_lunch_break_entered_as_two_new_rows(superuser_client):
    location, visit_type = make_location(), make_visit_type()
    provider = make_provider(locations=[location], visit_types=[visit_type])
    rows = [(Weekday.MONDAY, "08:00", "12:00"), (Weekday.MONDAY, "13:00", "17:00")]

    response = superuser_client.post(
        reverse("admin:clinic_provider_change", args=[provider.pk]),
        provider_form_data(location, visit_type, rows, provider),
    )

    assert response.status_code == 302
    assert list(provider.working_hours.values_list("start", "end")) == [(time(8), time(12)), (time(13), time(17))]


def test_admin_shows_reversed_hours_on_their_row(superuser_client):
    location, visit_type = make_location(), make_visit_type()
    provider = make_provider(locations=[location], visit_types=[visit_type])

    response = superuser_client.post(
        reverse("admin:clinic_provider_change", args=[provider.pk]),
        provider_form_data(location, visit_type, [(Weekday.MONDAY, "17:00", "09:00")], provider),
    )

    assert response.status_code == 200
    assert "The end of working hours must be after the start." in response.content.decode()
    assert not WorkingHours.objects.exists()


HoursFormSet = inlineformset_factory(
    Provider, WorkingHours, formset=WorkingHoursFormSet, fields=["weekday", "start", "end", "location"], extra=0
)


def test_formset_catches_a_long_range_that_covers_two_short_ones():
    location = make_location()
    provider = make_provider(locations=[location])
    rows = [(Weekday.MONDAY, "08:00", "17:00"), (Weekday.MONDAY, "09:00", "10:00"), (Weekday.MONDAY, "11:00", "12:00")]
    formset = HoursFormSet(hours_formset_data(location, rows, provider), instance=provider)

    assert not formset.is_valid()
    assert len(formset.non_form_errors()) == 2


def test_formset_ignores_a_row_marked_for_deletion():
    location = make_location()
    provider = make_provider(locations=[location])
    rows = [(Weekday.MONDAY, "08:00", "12:00"), (Weekday.MONDAY, "11:00", "15:00")]
    data = hours_formset_data(location, rows, provider) | {"working_hours-1-DELETE": "on"}

    assert HoursFormSet(data, instance=provider).is_valid()


# --- Locations, closures, time off --------------------------------------------------------------


def test_an_unknown_time_zone_is_refused():
    location = Location(name="Olympus Mons Pain Clinic", timezone="Mars/Olympus")

    with pytest.raises(ValidationError) as refused:
        location.full_clean()

    assert refused.value.message_dict["timezone"] == [
        "Mars/Olympus is not a known IANA time zone (for example America/New_York)."
    ]


def test_admin_shows_the_unknown_time_zone_and_saves_nothing(superuser_client):
    response = superuser_client.post(
        reverse("admin:clinic_location_add"),
        {
            "name": "Olympus Mons Pain Clinic",
            "timezone": "Mars/Olympus",
            "is_active": "on",
            "rooms-TOTAL_FORMS": "0",
            "rooms-INITIAL_FORMS": "0",
            "closures-TOTAL_FORMS": "0",
            "closures-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 200
    assert "Mars/Olympus is not a known IANA time zone" in response.content.decode()
    assert not Location.objects.exists()


def test_a_closure_that_ends_before_it_starts_is_refused():
    closure = Closure(location=make_location(), start_date=date(2026, 12, 26), end_date=date(2026, 12, 24))

    with pytest.raises(ValidationError) as refused:
        closure.full_clean()

    assert refused.value.message_dict["end_date"] == ["A closure cannot end before it starts."]


def test_a_closure_that_ends_before_it_starts_is_refused_by_the_database():
    location = make_location()

    with pytest.raises(IntegrityError, match="clinic_closure_end_not_before_start"), transaction.atomic():
        Closure.objects.create(
            location=location, start_date=date(2026, 12, 26), end_date=date(2026, 12, 24), reason="Typo"
        )


def test_a_one_day_closure_is_accepted():
    Closure(
        location=make_location(), start_date=date(2026, 12, 25), end_date=date(2026, 12, 25), reason="Christmas Day"
    ).full_clean()


def test_time_off_that_ends_before_it_starts_is_refused():
    time_off = TimeOff(
        provider=make_provider(),
        start=datetime(2026, 12, 3, 14, tzinfo=UTC),
        end=datetime(2026, 12, 3, 13, tzinfo=UTC),
    )

    with pytest.raises(ValidationError) as refused:
        time_off.full_clean()

    assert refused.value.message_dict["end"] == ["Time off must end after it starts."]
