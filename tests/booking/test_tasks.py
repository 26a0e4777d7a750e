"""Celery tasks are thin wrappers around services; beat runs the sweeps."""

from datetime import timedelta

import pytest
from django.conf import settings

from booking import services, tasks
from booking.models import Status
from tests.conftest import MONDAY

pytestmark = pytest.mark.django_db


def test_the_hold_sweep_task_releases_holds_that_ran_out(clinic, frozen):
    hold = services.book_appointment(
        patient=clinic.alice,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=clinic.at(MONDAY, 9),
        by=None,
        hold=True,
    )
    frozen.shift(timedelta(minutes=settings.BOOKING_HOLD_MINUTES + 1))

    assert tasks.expire_holds.apply().get() == 1
    hold.refresh_from_db()
    assert hold.status == Status.EXPIRED
    assert tasks.expire_holds.apply().get() == 0  # running the sweep again changes nothing


def test_beat_runs_the_hold_sweep_every_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["expire-holds"]
    assert entry["task"] == tasks.expire_holds.name and entry["schedule"] == 60.0
