"""fetch_together: several single-row look-ups in one statement, built as the ORM builds them."""

import pytest
from django.forms.models import model_to_dict

from booking import services
from booking.models import Appointment
from clinic.lookups import fetch_together
from clinic.models import Location, Provider, VisitType
from patients.models import Patient
from tests.conftest import MONDAY, NOW

pytestmark = pytest.mark.django_db


def values(instance):
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_the_rows_come_back_as_the_orm_would_build_them(clinic, django_assert_num_queries):
    booked = services.book_appointment(
        patient=clinic.alice,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=clinic.at(MONDAY, 9),
        by=None,
        now=NOW,
    )
    wanted = [
        (Patient, {"pk": clinic.alice.pk}),
        (Provider, {"pk": clinic.dr_alvarez.pk}),
        (VisitType, {"slug": "tpi-session", "is_active": True}),
        (Location, {"pk": clinic.location.pk}),
        (Appointment, {"pk": booked.pk}),  # date-times, a nullable foreign key
    ]

    with django_assert_num_queries(1):
        found = fetch_together(*wanted)

    for instance, (model, filters) in zip(found, wanted, strict=True):
        assert values(instance) == values(model.objects.get(**filters))
        assert instance._state.adding is False and instance._state.db == "default"
    assert found[0].phone == clinic.alice.phone and found[2].needs_room is clinic.tpi.needs_room
    assert model_to_dict(found[4])["start"] == clinic.at(MONDAY, 9)


def test_a_foreign_key_filters_by_its_name_or_attname(clinic, alice_user):
    assert fetch_together((Patient, {"user": alice_user.pk}))[0].pk == alice_user.patient.pk
    assert fetch_together((Patient, {"user_id": alice_user}))[0].pk == alice_user.patient.pk


def test_nothing_when_any_row_is_missing_and_an_error_for_several(clinic):
    assert fetch_together((Location, {"pk": clinic.location.pk}), (Provider, {"pk": 0})) is None
    assert fetch_together((VisitType, {"slug": "tpi-session", "is_active": False})) is None
    with pytest.raises(ValueError, match="more than one row"):
        fetch_together((Location, {"pk": clinic.location.pk}), (Provider, {"is_active": True}))
    with pytest.raises(ValueError, match="no concrete field"):
        fetch_together((Location, {"providers": 1}))
