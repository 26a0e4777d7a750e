"""Waitlisted patients rushing to accept offers of one freed time, in real processes, on the
configured database (SQLite or PostgreSQL): exactly one booking, everyone else told kindly."""

import multiprocessing
import traceback
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connections

from booking import services
from booking.errors import OfferClosed
from booking.models import Appointment, OfferStatus, Status, WaitlistEntry, WaitlistOffer, WaitlistStatus
from booking.scheduling import waitlist as rules
from tests.booking.test_concurrency import overlapping_pairs
from tests.conftest import MONDAY, NOW, build_clinic
from tests.factories import make_patient

# Starts processes that race each other on a deadline: with `make test`'s `--dist loadgroup`, the
# tests of this group run one at a time on one xdist worker (see the Makefile).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.xdist_group("processes")]

WAITING = 8
CLICKS_PER_OFFER = 2  # every patient double-clicks: two processes per token


def _accept(token: str, barrier, results) -> None:
    outcome: Counter = Counter()
    try:
        barrier.wait()
        try:
            services.accept_offer(token=token, now=NOW)
            outcome["booked"] += 1
        except OfferClosed as exc:
            outcome[exc.code] += 1
        except Exception as exc:  # noqa: BLE001 - every other outcome is a failure to report
            outcome[f"error: {type(exc).__name__}: {str(exc)[:120]}"] += 1
    except Exception:  # noqa: BLE001
        outcome["crash: " + traceback.format_exc()[-300:]] += 1
    finally:
        connections.close_all()
        results.put(dict(outcome))


def test_patients_accepting_offers_of_one_time_at_once_make_exactly_one_booking(settings):
    settings.WAITLIST_OFFERS_PER_SLOT = WAITING
    clinic = build_clinic()
    appointment = services.book_appointment(
        patient=clinic.alice,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=clinic.at(MONDAY, 9),
        by=None,
        now=NOW,
    )
    for i in range(WAITING):
        patient = make_patient(first_name=f"W{i}", email=f"w{i}@example.com")
        since = NOW - timedelta(minutes=60 - i)
        services.add_to_waitlist(patient=patient, visit_type=clinic.tpi, location=clinic.location, by=None, now=since)
    services.cancel_appointment(appointment=appointment, by=None, reason="ill", now=NOW)
    tokens = [rules.offer_token(nonce) for nonce in WaitlistOffer.objects.values_list("token_nonce", flat=True)]
    assert len(tokens) == WAITING

    connections.close_all()  # children open their own connections
    ctx = multiprocessing.get_context("fork")
    clicks = [token for token in tokens for _ in range(CLICKS_PER_OFFER)]
    barrier, results = ctx.Barrier(len(clicks)), ctx.Queue()
    workers = [ctx.Process(target=_accept, args=(token, barrier, results)) for token in clicks]
    for worker in workers:
        worker.start()
    outcome: Counter = Counter()
    for _ in workers:
        outcome.update(results.get(timeout=240))
    for worker in workers:
        worker.join(timeout=30)

    assert outcome["booked"] == 1, outcome
    assert set(outcome) <= {"booked", "offer_lost", "offer_used"}, outcome
    assert outcome["offer_used"] == CLICKS_PER_OFFER - 1, outcome  # the winner's second click
    booked = Appointment.objects.filter(start=clinic.at(MONDAY, 9), status=Status.BOOKED)
    assert booked.count() == 1
    assert overlapping_pairs("provider_id") == 0 and overlapping_pairs("room_id") == 0
    statuses = Counter(WaitlistOffer.objects.values_list("status", flat=True))
    assert statuses == {OfferStatus.ACCEPTED: 1, OfferStatus.LOST: WAITING - 1}
    winner = WaitlistOffer.objects.get(status=OfferStatus.ACCEPTED)
    assert winner.appointment == booked.get() and winner.entry.patient == booked.get().patient
    assert WaitlistEntry.objects.filter(status=WaitlistStatus.BOOKED).count() == 1
    assert WaitlistEntry.objects.filter(status=WaitlistStatus.WAITING).count() == WAITING - 1
