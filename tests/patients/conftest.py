"""Procedure visits for the shared clinic: booked through the booking service, recorded through ours."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from booking import services
from booking.scheduling.availability import STAFF_POLICY
from booking.services import InjectateInput, SiteInput, record_procedure
from patients.models import Muscle, Substance
from tests.factories import make_provider_login

LIDOCAINE = InjectateInput(
    substance=Substance.LOCAL_ANAESTHETIC, name="lidocaine", strength_percent=Decimal("1"), volume_ml=Decimal("3")
)


def book_visit(clinic, start: datetime, *, patient=None, provider=None, visit_type=None, series=None, number=None):
    """A visit booked by the desk a month before it starts (so past visits can be booked too)."""
    return services.book_appointment(
        patient=patient or clinic.alice,
        provider=provider or clinic.dr_alvarez,
        visit_type=visit_type or clinic.tpi,
        location=clinic.location,
        start=start,
        by=None,
        policy=STAFF_POLICY,
        series=series,
        session_number=number,
        now=start - timedelta(days=30),
    )


def muscles(*names: str) -> list[Muscle]:
    by_name = {m.name: m for m in Muscle.objects.filter(name__in=names)}
    return [by_name[name] for name in names]


def record(appointment, *, names=("Trapezius",), before=7, after=3, injectates=(LIDOCAINE,), by=None):
    """Record a visit half an hour after it started."""
    sites = [SiteInput(muscle=m, side="left", injections=2) for m in muscles(*names)]
    return record_procedure(
        appointment=appointment,
        sites=sites,
        injectates=list(injectates),
        pain_before=before,
        pain_after=after,
        by=by,
        now=appointment.start + timedelta(minutes=30),
    )


@pytest.fixture
def alvarez_user(clinic):
    return make_provider_login(clinic.dr_alvarez, "alvarez")


@pytest.fixture
def chen_user(clinic):
    return make_provider_login(clinic.dr_chen, "chen")
