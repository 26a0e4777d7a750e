"""The clinic's muscle list: seeded with the usual sites, extended by the clinic admin in the admin."""

import pytest
from django.urls import reverse

from patients.models import Muscle
from tests.factories import sign_in

pytestmark = pytest.mark.django_db

DOMAIN_MUSCLES = {
    "Masseter",
    "Temporalis",
    "Sternocleidomastoid",
    "Levator scapulae",
    "Trapezius",
    "Rhomboids",
    "Paraspinals (upper back)",
    "Paraspinals (lower back)",
    "Quadratus lumborum",
    "Gluteus medius",
    "Piriformis",
}


def test_the_migration_seeds_the_usual_sites():
    assert set(Muscle.objects.values_list("name", flat=True)) >= DOMAIN_MUSCLES
    assert set(Muscle.objects.filter(near_chest_wall=True).values_list("name", flat=True)) == {
        "Trapezius",
        "Rhomboids",
        "Paraspinals (upper back)",
    }


def test_clinic_admin_adds_a_muscle_in_the_admin(client, admin_user):
    sign_in(client, admin_user)
    response = client.post(
        reverse("admin:patients_muscle_add"), {"name": "Infraspinatus", "region": "shoulders", "is_active": "on"}
    )
    assert response.status_code == 302
    assert Muscle.objects.get(name="Infraspinatus").region == "shoulders"


def test_provider_and_desk_cannot_change_the_list(client, clinic, desk_user, alvarez_user):
    for user in (desk_user, alvarez_user):
        sign_in(client, user)
        client.post(reverse("admin:patients_muscle_add"), {"name": "Biceps", "region": "arms"})
    assert not Muscle.objects.filter(name="Biceps").exists()


def test_the_record_form_offers_only_active_muscles(client, clinic, alvarez_user, frozen):
    from tests.conftest import MONDAY
    from tests.patients.conftest import book_visit

    Muscle.objects.filter(name="Masseter").update(is_active=False)
    visit = book_visit(clinic, clinic.at(MONDAY, 9))
    sign_in(client, alvarez_user)
    page = client.get(reverse("booking:record_procedure", args=[visit.pk])).content.decode()
    assert "Temporalis" in page and "Masseter" not in page
