"""Which messages a booking change writes to the outbox, and when they are due.

The clinic (tests/conftest.py) is in New York. Default policy: a 48-hour e-mail reminder and a
24-hour SMS reminder, quiet hours 21:00-08:00 local time.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction

from booking import services
from booking.messaging import delivery, planning, policy, texts
from booking.models import MessageKind, Reminder, ReminderStatus, Status
from booking.scheduling.availability import STAFF_POLICY
from clinic.models import WorkingHours
from patients.models import ReminderChannel
from tests.conftest import MONDAY, NOW

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
K = MessageKind


def book(clinic, *, day=MONDAY, hour=9, minute=0, patient=None, now=NOW, **kwargs):
    return services.book_appointment(
        patient=patient or clinic.alice,
        provider=clinic.dr_alvarez,
        visit_type=kwargs.pop("visit_type", clinic.tpi),
        location=clinic.location,
        start=clinic.at(day, hour, minute),
        by=None,
        now=now,
        **kwargs,
    )


def rows(appointment) -> dict[tuple[str, str], Reminder]:
    return {(r.kind, r.channel): r for r in Reminder.objects.filter(appointment=appointment)}


def local(instant: datetime) -> datetime:
    return instant.astimezone(NY).replace(tzinfo=None)


def due_ids() -> set[int]:
    """What a sweep at the current (frozen) time hands out, without handing it out."""
    with transaction.atomic():
        ids = set(delivery.sweep_due(enqueue=lambda ids: None))
        transaction.set_rollback(True)
    return ids


# --- what a booking writes ------------------------------------------------------------------


def test_a_booking_writes_its_confirmation_and_reminders(clinic):
    appointment = book(clinic)  # Monday 7 December 09:00 EST, booked on Friday 10:00

    written = rows(appointment)
    assert set(written) == {(K.CONFIRMATION, "email"), (K.REMINDER_LONG, "email"), (K.REMINDER_SHORT, "email")}
    assert written[(K.CONFIRMATION, "email")].send_at == NOW
    assert local(written[(K.REMINDER_LONG, "email")].send_at) == datetime(2026, 12, 5, 9, 0)
    assert local(written[(K.REMINDER_SHORT, "email")].send_at) == datetime(2026, 12, 6, 9, 0)
    assert {r.status for r in written.values()} == {ReminderStatus.PENDING}
    assert all(r.idempotency_key == f"reminder-{r.pk}" for r in written.values())


def test_a_rolled_back_booking_writes_no_messages(clinic):
    with pytest.raises(RuntimeError), transaction.atomic():
        book(clinic)
        raise RuntimeError("the caller's transaction fails after the booking")

    assert not Reminder.objects.exists()


def test_a_hold_gets_its_messages_when_it_is_confirmed(clinic):
    hold = book(clinic, hold=True)
    assert not Reminder.objects.exists()

    services.confirm_hold(appointment=hold, by=None, now=NOW + timedelta(minutes=2))

    assert (K.CONFIRMATION, "email") in rows(hold)
    assert rows(hold)[(K.CONFIRMATION, "email")].send_at == NOW + timedelta(minutes=2)


def test_a_reminder_whose_time_has_passed_at_booking_is_recorded_as_skipped(clinic):
    appointment = book(clinic, now=NOW + timedelta(days=1, hours=12))  # booked Saturday 22:00 for Monday

    written = rows(appointment)
    assert written[(K.REMINDER_LONG, "email")].status == ReminderStatus.SKIPPED
    assert written[(K.REMINDER_LONG, "email")].last_error == "booked less than 48 h before the visit"
    assert written[(K.REMINDER_SHORT, "email")].status == ReminderStatus.PENDING


# --- channels -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (ReminderChannel.EMAIL, {(K.CONFIRMATION, "email"), (K.REMINDER_LONG, "email"), (K.REMINDER_SHORT, "email")}),
        (ReminderChannel.SMS, {(K.CONFIRMATION, "sms"), (K.REMINDER_LONG, "sms"), (K.REMINDER_SHORT, "sms")}),
        (
            ReminderChannel.BOTH,
            {(K.CONFIRMATION, "email"), (K.CONFIRMATION, "sms"), (K.REMINDER_LONG, "email"), (K.REMINDER_SHORT, "sms")},
        ),
        (ReminderChannel.NONE, {(K.CONFIRMATION, "email")}),
    ],
)
def test_the_patients_channel_choice_decides_the_channels(clinic, choice, expected):
    clinic.bob.reminder_channel = choice
    clinic.bob.save()

    assert set(rows(book(clinic, patient=clinic.bob))) == expected


def test_a_channel_the_patient_cannot_be_reached_on_falls_back_to_the_other(clinic):
    clinic.bob.reminder_channel = ReminderChannel.SMS
    clinic.bob.phone = ""
    clinic.bob.save()

    assert set(rows(book(clinic, patient=clinic.bob))) == {
        (K.CONFIRMATION, "email"),
        (K.REMINDER_LONG, "email"),
        (K.REMINDER_SHORT, "email"),
    }


def test_a_patient_who_opted_out_gets_no_reminder_even_if_booked_before(clinic):
    appointment = book(clinic)
    clinic.alice.reminder_channel = ReminderChannel.NONE
    clinic.alice.save()
    reminder = rows(appointment)[(K.REMINDER_LONG, "email")]

    assert delivery.deliver(reminder.pk, now=reminder.send_at) == ReminderStatus.SKIPPED
    reminder.refresh_from_db()
    assert reminder.last_error == "the patient opted out of reminders"


# --- "24 hours before" across daylight-saving changes -----------------------------------------
# Whole days count in the location's wall time: the reminder comes at the visit's local time of
# day, which is 23 or 25 elapsed hours when the clocks change in between.


def add_sunday_hours(clinic):
    WorkingHours.objects.create(
        provider=clinic.dr_alvarez, location=clinic.location, weekday=6, start=time(8), end=time(12)
    )


DST_CASES = [
    # (visit, booked at, kind, local send time, elapsed hours before the visit)
    # Spring forward, Sunday 8 March 2026 02:00 EST -> 03:00 EDT.
    ((2026, 3, 8, 10), datetime(2026, 3, 2, 15, tzinfo=UTC), K.REMINDER_SHORT, datetime(2026, 3, 7, 10), 23),
    ((2026, 3, 8, 10), datetime(2026, 3, 2, 15, tzinfo=UTC), K.REMINDER_LONG, datetime(2026, 3, 6, 10), 47),
    ((2026, 3, 9, 9), datetime(2026, 3, 2, 15, tzinfo=UTC), K.REMINDER_SHORT, datetime(2026, 3, 8, 9), 24),
    ((2026, 3, 9, 9), datetime(2026, 3, 2, 15, tzinfo=UTC), K.REMINDER_LONG, datetime(2026, 3, 7, 9), 47),
    # Fall back, Sunday 1 November 2026 02:00 EDT -> 01:00 EST.
    ((2026, 11, 1, 10), datetime(2026, 10, 26, 15, tzinfo=UTC), K.REMINDER_SHORT, datetime(2026, 10, 31, 10), 25),
    ((2026, 11, 1, 10), datetime(2026, 10, 26, 15, tzinfo=UTC), K.REMINDER_LONG, datetime(2026, 10, 30, 10), 49),
    ((2026, 11, 2, 9), datetime(2026, 10, 26, 15, tzinfo=UTC), K.REMINDER_SHORT, datetime(2026, 11, 1, 9), 24),
    ((2026, 11, 2, 9), datetime(2026, 10, 26, 15, tzinfo=UTC), K.REMINDER_LONG, datetime(2026, 10, 31, 9), 49),
]


@pytest.mark.parametrize(("visit", "booked_at", "kind", "send_local", "elapsed_hours"), DST_CASES)
def test_reminders_keep_the_visits_local_time_across_daylight_saving_changes(
    clinic, visit, booked_at, kind, send_local, elapsed_hours
):
    add_sunday_hours(clinic)
    clinic.alice.reminder_channel = ReminderChannel.BOTH
    clinic.alice.save()
    year, month, day, hour = visit
    appointment = book(clinic, day=date(year, month, day), hour=hour, now=booked_at)
    reminder = Reminder.objects.get(appointment=appointment, kind=kind)
    send_at = datetime.combine(send_local.date(), send_local.time(), tzinfo=NY).astimezone(UTC)

    assert reminder.send_at == send_at
    assert appointment.start - reminder.send_at == timedelta(hours=elapsed_hours)
    with time_machine.travel(send_at - timedelta(seconds=1), tick=False):
        assert reminder.pk not in due_ids()
    with time_machine.travel(send_at, tick=False):
        assert reminder.pk in due_ids()


SENT_ON_TRANSITION_DAYS = [
    # (visit, booked at, the last reminder's local send time, the visit's time as the text says it)
    # A visit on the transition day: the reminder the day before, 23 (spring) or 25 (fall) hours ahead.
    (
        (2026, 3, 8, 10),
        datetime(2026, 3, 2, 15, tzinfo=UTC),
        datetime(2026, 3, 7, 10),
        "Sunday, March 8, 2026 at 10:00 AM EDT",
    ),
    (
        (2026, 11, 1, 10),
        datetime(2026, 10, 26, 15, tzinfo=UTC),
        datetime(2026, 10, 31, 10),
        "Sunday, November 1, 2026 at 10:00 AM EST",
    ),
    # A visit the day after: the reminder goes on the transition day itself.
    (
        (2026, 3, 9, 9),
        datetime(2026, 3, 2, 15, tzinfo=UTC),
        datetime(2026, 3, 8, 9),
        "Monday, March 9, 2026 at 9:00 AM EDT",
    ),
    (
        (2026, 11, 2, 9),
        datetime(2026, 10, 26, 15, tzinfo=UTC),
        datetime(2026, 11, 1, 9),
        "Monday, November 2, 2026 at 9:00 AM EST",
    ),
]


@pytest.mark.parametrize(("visit", "booked_at", "send_local", "says"), SENT_ON_TRANSITION_DAYS)
def test_the_last_reminder_goes_at_its_local_time_across_each_transition_and_says_the_right_offset(
    clinic, visit, booked_at, send_local, says, django_capture_on_commit_callbacks, settings
):
    from booking import tasks
    from booking.messaging import sms

    settings.SMS_BACKEND = "locmem"
    add_sunday_hours(clinic)
    clinic.alice.reminder_channel = ReminderChannel.SMS
    clinic.alice.save()
    year, month, day, hour = visit
    appointment = book(clinic, day=date(year, month, day), hour=hour, now=booked_at)
    reminder = rows(appointment)[(K.REMINDER_SHORT, "sms")]
    send_at = datetime.combine(send_local.date(), send_local.time(), tzinfo=NY)
    sms.outbox.clear()

    def sweep_and_send() -> None:  # beat's sweep, then the worker's task, at the frozen time
        with django_capture_on_commit_callbacks(execute=True):
            delivery.sweep_due(enqueue=lambda ids: tasks.send_reminders.apply(args=[ids]))

    with time_machine.travel(send_at - timedelta(seconds=1), tick=False):
        sweep_and_send()
    assert [m for m in sms.outbox if m.idempotency_key == reminder.idempotency_key] == []
    with time_machine.travel(send_at, tick=False):
        sweep_and_send()

    [sent] = [m for m in sms.outbox if m.idempotency_key == reminder.idempotency_key]
    assert f"see you {says}." in sent.body
    reminder.refresh_from_db()
    assert (reminder.status, reminder.sent_at) == (ReminderStatus.SENT, send_at)
    sms.outbox.clear()


def test_a_reminder_time_in_the_spring_gap_moves_forward_and_an_ambiguous_one_is_the_first():
    spring = datetime(2026, 3, 9, 2, 30, tzinfo=NY)  # Monday 02:30 EDT; Sunday 02:30 does not exist
    autumn = datetime(2026, 11, 2, 1, 30, tzinfo=NY)  # Monday 01:30 EST; Sunday 01:30 happens twice

    assert policy.wall_clock_before(spring, timedelta(hours=24), NY) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert local(datetime(2026, 3, 8, 7, 30, tzinfo=UTC)) == datetime(2026, 3, 8, 3, 30)
    first = policy.wall_clock_before(autumn, timedelta(hours=24), NY)
    assert first == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, the first of the two
    assert policy.wall_clock_before(autumn, timedelta(hours=26), NY) == first - timedelta(hours=2)


# --- quiet hours ----------------------------------------------------------------------------


def at_ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY).astimezone(UTC)


EVENING = at_ny(2026, 12, 7, 20, 0)


@pytest.mark.parametrize(
    ("now", "due", "visit", "expected"),
    [
        (EVENING, at_ny(2026, 12, 8, 12, 0), None, at_ny(2026, 12, 8, 12, 0)),  # daytime: as due
        (EVENING, at_ny(2026, 12, 7, 23, 0), None, at_ny(2026, 12, 8, 8, 0)),  # night: next morning
        (EVENING, at_ny(2026, 12, 8, 6, 30), at_ny(2026, 12, 8, 8, 30), at_ny(2026, 12, 8, 8, 0)),  # 08:30 visit
        (EVENING, at_ny(2026, 12, 7, 21, 0), at_ny(2026, 12, 8, 8, 0), at_ny(2026, 12, 7, 20, 59)),  # 08:00 visit
        (at_ny(2026, 12, 8, 7, 0), at_ny(2026, 12, 8, 7, 0), at_ny(2026, 12, 8, 7, 30), None),  # too late
    ],
)
def test_quiet_hours_hold_a_message_back_to_their_end_but_never_past_the_visit(settings, now, due, visit, expected):
    settings.REMINDER_QUIET_HOURS = (time(21), time(8))

    assert policy.delivery_time(due, NY, now=now, before=visit) == expected


def test_a_short_reminder_in_the_early_morning_waits_for_the_end_of_quiet_hours(clinic, settings):
    settings.REMINDER_SCHEDULE = [("reminder_short", "sms", timedelta(hours=2))]
    clinic.bob.reminder_channel = ReminderChannel.SMS
    clinic.bob.save()

    appointment = book(clinic, patient=clinic.bob, hour=8, minute=30)  # due 06:30: quiet

    assert local(rows(appointment)[(K.REMINDER_SHORT, "sms")].send_at) == datetime(2026, 12, 7, 8, 0)


def test_quiet_hours_are_checked_again_when_the_message_is_sent(clinic, settings):
    appointment = book(clinic)
    services.complete_appointment(appointment=appointment, by=None, now=clinic.at(MONDAY, 9, 30))
    aftercare = rows(appointment)[(K.AFTERCARE, "email")]
    late = clinic.at(MONDAY, 22, 15).astimezone(UTC)  # say the worker was down until 22:15

    assert delivery.deliver(aftercare.pk, now=late) == ReminderStatus.PENDING
    aftercare.refresh_from_db()
    assert local(aftercare.send_at) == datetime(2026, 12, 8, 8, 0)
    assert aftercare.last_error == "waiting for quiet hours to end"


def test_a_confirmation_goes_at_once_even_at_night(clinic, mailoutbox):
    night = clinic.at(date(2026, 12, 4), 22, 30).astimezone(UTC)
    appointment = book(clinic, now=night)
    confirmation = rows(appointment)[(K.CONFIRMATION, "email")]

    assert confirmation.send_at == night
    assert delivery.deliver(confirmation.pk, now=night) == ReminderStatus.SENT
    assert len(mailoutbox) == 1


# --- moves, cancellations, completion -------------------------------------------------------


def test_moving_an_appointment_moves_its_reminders_and_tells_the_patient(clinic):
    appointment = book(clinic)
    confirmation = rows(appointment)[(K.CONFIRMATION, "email")]
    assert delivery.deliver(confirmation.pk, now=NOW) == ReminderStatus.SENT

    services.move_appointment(
        appointment=appointment, start=clinic.at(MONDAY + timedelta(days=2), 14), by=None, now=NOW
    )

    written = rows(appointment)
    assert local(written[(K.REMINDER_LONG, "email")].send_at) == datetime(2026, 12, 7, 14, 0)
    assert local(written[(K.REMINDER_SHORT, "email")].send_at) == datetime(2026, 12, 8, 14, 0)
    assert written[(K.CHANGE, "email")].status == ReminderStatus.PENDING
    assert written[(K.CONFIRMATION, "email")].status == ReminderStatus.SENT  # never sent twice


def test_a_move_before_the_confirmation_went_needs_no_change_message(clinic):
    appointment = book(clinic)
    services.move_appointment(appointment=appointment, start=clinic.at(MONDAY, 11), by=None, now=NOW)

    written = rows(appointment)
    assert (K.CHANGE, "email") not in written
    assert written[(K.CONFIRMATION, "email")].status == ReminderStatus.PENDING  # will say 11:00


def test_a_reminder_already_sent_is_armed_again_with_a_new_key_when_the_visit_moves_later(clinic):
    appointment = book(clinic)
    early = rows(appointment)[(K.REMINDER_LONG, "email")]
    assert delivery.deliver(early.pk, now=early.send_at) == ReminderStatus.SENT
    first_key = Reminder.objects.get(pk=early.pk).idempotency_key

    services.move_appointment(
        appointment=appointment, start=clinic.at(MONDAY + timedelta(days=4), 9), by=None, now=early.send_at
    )

    early.refresh_from_db()
    assert early.status == ReminderStatus.PENDING
    assert local(early.send_at) == datetime(2026, 12, 9, 9, 0)
    assert early.idempotency_key != first_key and early.generation == 1


def test_cancelling_cancels_what_is_waiting_and_writes_a_cancellation(clinic):
    appointment = book(clinic)

    services.cancel_appointment(appointment=appointment, by=None, reason="patient called", now=NOW)

    written = rows(appointment)
    assert written[(K.REMINDER_LONG, "email")].status == ReminderStatus.CANCELLED
    assert written[(K.REMINDER_SHORT, "email")].status == ReminderStatus.CANCELLED
    assert written[(K.CONFIRMATION, "email")].status == ReminderStatus.CANCELLED
    assert written[(K.CANCELLATION, "email")].status == ReminderStatus.PENDING


def test_a_released_hold_gets_no_message(clinic):
    hold = book(clinic, hold=True)

    services.cancel_appointment(appointment=hold, by=None, reason="changed mind", now=NOW)

    assert not Reminder.objects.filter(appointment=hold).exists()


def test_a_completed_procedure_gets_aftercare_and_an_evaluation_does_not(clinic):
    procedure = book(clinic)
    evaluation = book(clinic, hour=10, visit_type=clinic.evaluation)

    services.complete_appointment(appointment=procedure, by=None, now=clinic.at(MONDAY, 9, 30))
    services.complete_appointment(appointment=evaluation, by=None, now=clinic.at(MONDAY, 11))

    aftercare = rows(procedure)[(K.AFTERCARE, "email")]
    assert aftercare.status == ReminderStatus.PENDING and aftercare.send_at == clinic.at(MONDAY, 9, 30)
    assert (K.AFTERCARE, "email") not in rows(evaluation)


def test_a_series_gets_one_summary_and_reminders_for_each_session(clinic, desk_user):
    series = services.book_series(
        patient=clinic.alice,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        sessions=4,
        gap_days=14,
        tolerance_days=2,
        taper_days=[],
        preferred_time=time(9),
        first_date=MONDAY,
        by=desk_user,
        policy=STAFF_POLICY,
        now=NOW,
    )

    sessions = list(series.appointments.order_by("start"))
    summary = Reminder.objects.get(kind=K.SERIES_SUMMARY)
    assert summary.appointment == sessions[0]
    assert not Reminder.objects.filter(kind=K.CONFIRMATION).exists()
    assert Reminder.objects.filter(kind=K.REMINDER_SHORT).count() == 4
    subject, body = texts.render(summary, now=NOW)
    assert body.count("at 9:00 AM EST") == 4

    services.cancel_series_remaining(series=series, by=desk_user, reason="feeling better", now=NOW)
    assert Reminder.objects.filter(kind=K.CANCELLATION).count() == 4
    assert not Reminder.objects.filter(kind__in=planning.REMINDERS, status=ReminderStatus.PENDING).exists()


def test_a_checked_in_patient_gets_no_last_reminder(clinic):
    appointment = book(clinic)
    short = rows(appointment)[(K.REMINDER_SHORT, "email")]
    appointment.status = Status.CHECKED_IN  # as if the patient came early (test shortcut)
    appointment.save(update_fields=["status"])

    assert delivery.deliver(short.pk, now=short.send_at) == ReminderStatus.SKIPPED
