"""Recording a procedure: one transaction that writes the record and completes the visit."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from booking.errors import BookingError, InvalidTransition
from booking.models import AppointmentEvent, EventAction, Reminder, Status
from booking.models import MessageKind as K
from booking.services import InjectateInput, SiteInput, record_procedure
from clinic.models import VisitKind
from patients.errors import RecordRefused
from patients.models import Injectate, ProcedureRecord, ProcedureSite, Substance
from tests.conftest import MONDAY
from tests.patients.conftest import LIDOCAINE, book_visit, muscles, record

pytestmark = pytest.mark.django_db


@pytest.fixture
def visit(clinic):
    return book_visit(clinic, clinic.at(MONDAY, 9))


def test_saving_writes_the_record_and_completes_the_visit_with_aftercare(clinic, visit):
    saved = record(visit, names=("Trapezius", "Rhomboids", "Levator scapulae"))
    visit.refresh_from_db()
    assert visit.status == Status.COMPLETED
    assert saved.cpt_code == "20553"
    assert ProcedureSite.objects.filter(record=saved).count() == 3
    assert Injectate.objects.get(record=saved).strength_percent == Decimal("1")
    actions = list(AppointmentEvent.objects.filter(appointment=visit).values_list("action", flat=True))
    assert actions[-2:] == [EventAction.COMPLETED, EventAction.RECORDED]
    assert Reminder.objects.filter(appointment=visit, kind=K.AFTERCARE).exists()


def test_dry_needling_of_three_muscles_is_20561(visit):
    assert record(visit, names=("Trapezius", "Rhomboids", "Piriformis"), injectates=()).cpt_code == "20561"


def test_both_sides_of_one_muscle_count_as_one_muscle(visit):
    trapezius, rhomboids = muscles("Trapezius", "Rhomboids")
    sites = [SiteInput(muscle=trapezius, side="left"), SiteInput(muscle=trapezius, side="right")]
    sites.append(SiteInput(muscle=rhomboids, side="both", injections=4))
    saved = record_procedure(
        appointment=visit,
        sites=sites,
        injectates=[LIDOCAINE],
        pain_before=6,
        pain_after=2,
        by=None,
        now=visit.start + timedelta(minutes=30),
    )
    assert saved.cpt_code == "20552"


def test_several_injectates_are_kept_with_their_amounts(visit):
    steroid = InjectateInput(substance=Substance.CORTICOSTEROID, name="triamcinolone", dose="40 mg")
    saved = record(visit, injectates=(LIDOCAINE, steroid))
    assert [str(i) for i in saved.injectates.all()] == ["lidocaine 1 % 3 mL", "triamcinolone 40 mg"]


def test_a_second_save_edits_the_record_and_completes_once(visit):
    first = record(visit, names=("Trapezius",), before=8, after=5)
    second = record(visit, names=("Trapezius", "Rhomboids", "Piriformis"), before=7, after=2)
    assert first.pk == second.pk
    assert ProcedureRecord.objects.count() == 1
    assert ProcedureSite.objects.filter(record=second).count() == 3
    assert second.cpt_code == "20553"
    events = AppointmentEvent.objects.filter(appointment=visit)
    assert events.filter(action=EventAction.COMPLETED).count() == 1
    assert events.filter(action=EventAction.RECORDED).count() == 2


@pytest.mark.parametrize(("before", "after"), [(-1, 3), (11, 3), (5, 12)])
def test_pain_outside_zero_to_ten_is_refused(visit, before, after):
    with pytest.raises(RecordRefused) as refused:
        record(visit, before=before, after=after)
    assert refused.value.status == 422
    assert not ProcedureRecord.objects.exists()
    visit.refresh_from_db()
    assert visit.status == Status.BOOKED


def test_database_refuses_pain_above_ten(visit):
    saved = record(visit)
    with pytest.raises(IntegrityError), transaction.atomic():
        ProcedureRecord.objects.filter(pk=saved.pk).update(pain_after=11)


def test_a_record_needs_a_site(visit):
    with pytest.raises(RecordRefused, match="at least one site"):
        record_procedure(
            appointment=visit,
            sites=[],
            injectates=[],
            pain_before=5,
            pain_after=3,
            by=None,
            now=visit.start + timedelta(minutes=30),
        )


def test_local_anaesthetic_needs_strength_and_volume(visit):
    bare = InjectateInput(substance=Substance.LOCAL_ANAESTHETIC, name="lidocaine", volume_ml=Decimal("2"))
    with pytest.raises(RecordRefused, match="strength"):
        record(visit, injectates=(bare,))


def test_a_cancelled_visit_cannot_be_recorded_and_nothing_is_written(clinic, visit):
    from booking import services

    services.cancel_appointment(appointment=visit, by=None, reason="ill", now=visit.start - timedelta(days=2))
    with pytest.raises(InvalidTransition):
        record(visit)
    assert not ProcedureRecord.objects.exists()


def test_a_visit_cannot_be_recorded_before_it_starts(visit):
    with pytest.raises(BookingError, match="after it has started"):
        record_procedure(
            appointment=visit,
            sites=[SiteInput(muscle=muscles("Trapezius")[0], side="left")],
            injectates=[],
            pain_before=5,
            pain_after=3,
            by=None,
            now=visit.start - timedelta(minutes=5),
        )
    assert not ProcedureRecord.objects.exists()


def test_an_evaluation_has_no_procedure_record(clinic):
    evaluation = book_visit(clinic, clinic.at(MONDAY, 10), visit_type=clinic.evaluation)
    assert evaluation.visit_type.kind == VisitKind.EVALUATION
    with pytest.raises(RecordRefused, match="procedure visits"):
        record(evaluation)
