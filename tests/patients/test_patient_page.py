"""The staff patient page: details, visits, series, screenings, procedure records and pain trend."""

from datetime import timedelta

import pytest
from django.urls import reverse

from patients.models import Screening
from tests.conftest import MONDAY
from tests.factories import sign_in
from tests.patients.conftest import book_visit, record

pytestmark = pytest.mark.django_db


def page_url(clinic):
    return reverse("booking:desk_patient", args=[clinic.alice.pk])


def _history(clinic, visits):
    """`visits` recorded procedure visits two weeks apart before MONDAY, and one upcoming."""
    for k in range(visits):
        start = clinic.at(MONDAY, 9) - timedelta(weeks=2 * (visits - k))
        record(book_visit(clinic, start), names=("Trapezius", "Rhomboids", "Piriformis"), before=8 - k % 8, after=2)
    Screening.objects.create(patient=clinic.alice, latex_allergy=True)
    Screening.objects.create(patient=clinic.alice, blood_thinner=True, blood_thinner_names="apixaban")
    book_visit(clinic, clinic.at(MONDAY, 10))


def test_desk_sees_records_screenings_and_the_trend(client, clinic, desk_user, frozen):
    _history(clinic, 3)
    sign_in(client, desk_user)
    response = client.get(page_url(clinic))
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count("CPT 20553") == 3
    assert "lidocaine 1 % 3 mL" in page
    assert "Latex allergy" in page and "Blood thinner" in page and "apixaban" in page
    assert "<svg" in page and "<title" in page and "<desc" in page
    assert page.index("Upcoming appointments") < page.index("Past appointments")
    assert response.wsgi_request.viewed_patient_ids == {clinic.alice.pk}


@pytest.mark.parametrize("visits", [1, 12])
def test_patient_page_queries_stay_flat(client, clinic, desk_user, frozen, django_assert_max_num_queries, visits):
    _history(clinic, visits)
    sign_in(client, desk_user)
    with django_assert_max_num_queries(11):
        response = client.get(page_url(clinic))
    assert response.content.decode().count("CPT 20553") == visits


def test_patient_cannot_see_the_staff_page(client, clinic, alice_user):
    sign_in(client, alice_user)
    assert client.get(page_url(clinic)).status_code == 404
