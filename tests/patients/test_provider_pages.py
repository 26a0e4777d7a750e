"""The provider's daily list and the procedure form, through the HTTP boundary, for each role."""

from datetime import time, timedelta

import pytest
from django.urls import reverse

from booking import services
from booking.models import Status
from patients.models import Muscle, ProcedureRecord, Screening
from tests.conftest import MONDAY, book_alices_series
from tests.factories import make_hours, make_patient, sign_in
from tests.patients.conftest import book_visit, record

pytestmark = pytest.mark.django_db


def day_url(day=MONDAY, provider=None):
    url = reverse("booking:provider_day", args=[day.isoformat()])
    return f"{url}?provider={provider.pk}" if provider else url


def record_url(appointment):
    return reverse("booking:record_procedure", args=[appointment.pk])


def form_data(muscle_ids, *, sides=None, before=7, after=3, lidocaine=True, **extra):
    data = {
        "sites-TOTAL_FORMS": "6",
        "sites-INITIAL_FORMS": "0",
        "injectates-TOTAL_FORMS": "2",
        "injectates-INITIAL_FORMS": "0",
        "pain_before": str(before),
        "pain_after": str(after),
        "notes": "Tender bands found.",
        "complications": "",
    }
    for index, muscle_id in enumerate(muscle_ids):
        data[f"sites-{index}-muscle"] = str(muscle_id)
        data[f"sites-{index}-side"] = (sides or {}).get(index, "left")
        data[f"sites-{index}-injections"] = "2"
    if lidocaine:
        data.update(
            {
                "injectates-0-substance": "local_anaesthetic",
                "injectates-0-name": "lidocaine",
                "injectates-0-strength_percent": "1",
                "injectates-0-volume_ml": "3",
            }
        )
    data.update(extra)
    return data


def three_muscles():
    return list(Muscle.objects.filter(name__in=["Trapezius", "Rhomboids", "Piriformis"]).values_list("pk", flat=True))


@pytest.fixture
def monday_visit(clinic):
    return book_visit(clinic, clinic.at(MONDAY, 9))


@pytest.fixture
def on_monday(frozen, clinic):
    frozen.move_to(clinic.at(MONDAY, 9, 40))
    return frozen


# --- who may see what ---------------------------------------------------------------------------


def test_patient_gets_404_on_every_provider_page(client, alice_user, monday_visit):
    sign_in(client, alice_user)
    for url in (day_url(), reverse("booking:provider_today"), record_url(monday_visit)):
        assert client.get(url).status_code == 404
    assert client.post(record_url(monday_visit), form_data(three_muscles())).status_code == 404


def test_front_desk_cannot_see_the_list_nor_create_or_edit_a_record(client, desk_user, monday_visit, on_monday):
    sign_in(client, desk_user)
    assert client.get(day_url()).status_code == 404
    assert client.get(record_url(monday_visit)).status_code == 404
    assert client.post(record_url(monday_visit), form_data(three_muscles())).status_code == 404
    assert not ProcedureRecord.objects.exists()
    record(monday_visit)
    assert client.post(record_url(monday_visit), form_data(three_muscles(), before=1)).status_code == 404
    assert ProcedureRecord.objects.get().pain_before == 7


def test_anonymous_is_sent_to_log_in(client, monday_visit):
    response = client.get(day_url())
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_provider_sees_own_list_only(client, clinic, alvarez_user, chen_user, monday_visit):
    book_visit(clinic, clinic.at(MONDAY, 10), patient=clinic.bob, provider=clinic.dr_chen)
    sign_in(client, alvarez_user)
    page = client.get(day_url(provider=clinic.dr_chen)).content.decode()  # ?provider is ignored for providers
    assert "Alice Moreno" in page
    assert "Bob Okafor" not in page


def test_provider_cannot_record_for_another_providers_visit(client, clinic, chen_user, monday_visit, on_monday):
    sign_in(client, chen_user)
    assert client.get(record_url(monday_visit)).status_code == 404
    assert client.post(record_url(monday_visit), form_data(three_muscles())).status_code == 404
    assert not ProcedureRecord.objects.exists()


def test_clinic_admin_chooses_any_provider(client, clinic, admin_user, monday_visit):
    book_visit(clinic, clinic.at(MONDAY, 10), patient=clinic.bob, provider=clinic.dr_chen)
    sign_in(client, admin_user)
    chen_page = client.get(day_url(provider=clinic.dr_chen)).content.decode()
    assert "Bob Okafor" in chen_page and "Alice Moreno" not in chen_page
    assert "Alice Moreno" in client.get(day_url(provider=clinic.dr_alvarez)).content.decode()


def test_a_recorded_procedure_and_its_edit_keep_who_and_what_changed(client, alvarez_user, monday_visit, on_monday):
    from auditlog.models import LogEntry

    sign_in(client, alvarez_user)
    assert client.post(record_url(monday_visit), form_data(three_muscles(), after=3)).status_code == 302
    assert client.post(record_url(monday_visit), form_data(three_muscles(), after=2)).status_code == 302

    record_entries = LogEntry.objects.get_for_object(ProcedureRecord.objects.get(appointment=monday_visit))
    actions = list(record_entries.order_by("timestamp", "pk").values_list("action", flat=True))
    assert actions[0] == LogEntry.Action.CREATE and LogEntry.Action.UPDATE in actions
    assert all(entry.actor == alvarez_user for entry in record_entries)
    assert ["3", "2"] in [entry.changes_dict.get("pain_after") for entry in record_entries]


def test_clinic_admin_records_for_any_provider(client, admin_user, monday_visit, on_monday):
    sign_in(client, admin_user)
    response = client.post(record_url(monday_visit), form_data(three_muscles()))
    assert response.status_code == 302
    assert ProcedureRecord.objects.get(appointment=monday_visit).cpt_code == "20553"


# --- recording through the form -----------------------------------------------------------------


def test_provider_records_three_muscles_with_lidocaine(client, alvarez_user, monday_visit, on_monday):
    sign_in(client, alvarez_user)
    assert client.get(record_url(monday_visit)).status_code == 200
    response = client.post(record_url(monday_visit), form_data(three_muscles()))
    assert response.status_code == 302
    assert response["Location"].endswith(f"#appointment-{monday_visit.pk}")
    saved = ProcedureRecord.objects.get(appointment=monday_visit)
    assert (saved.cpt_code, saved.pain_before, saved.pain_after) == ("20553", 7, 3)
    monday_visit.refresh_from_db()
    assert monday_visit.status == Status.COMPLETED
    page = client.get(response["Location"]).content.decode()
    assert "CPT 20553" in page
    assert "<svg" in page


def test_invalid_form_is_422_with_field_errors_and_writes_nothing(client, alvarez_user, monday_visit, on_monday):
    sign_in(client, alvarez_user)
    data = form_data(three_muscles(), **{"sites-1-side": "", "injectates-0-strength_percent": ""})
    response = client.post(record_url(monday_visit), data)
    assert response.status_code == 422
    page = response.content.decode()
    assert 'aria-describedby="id_sites-1-side-error"' in page
    assert "Give the strength in %." in page
    assert not ProcedureRecord.objects.exists()
    monday_visit.refresh_from_db()
    assert monday_visit.status == Status.BOOKED


def test_no_site_is_422(client, alvarez_user, monday_visit, on_monday):
    sign_in(client, alvarez_user)
    response = client.post(record_url(monday_visit), form_data([]))
    assert response.status_code == 422
    assert "Record at least one site" in response.content.decode()


def test_same_muscle_and_side_twice_is_422(client, alvarez_user, monday_visit, on_monday):
    sign_in(client, alvarez_user)
    trapezius = three_muscles()[0]
    response = client.post(record_url(monday_visit), form_data([trapezius, trapezius]))
    assert response.status_code == 422
    assert "already listed" in response.content.decode()


def test_second_save_edits_the_record(client, alvarez_user, monday_visit, on_monday):
    sign_in(client, alvarez_user)
    client.post(record_url(monday_visit), form_data(three_muscles()))
    page = client.get(record_url(monday_visit)).content.decode()
    assert "Edit the procedure record" in page
    response = client.post(record_url(monday_visit), form_data(three_muscles()[:1], before=6, after=1, lidocaine=False))
    assert response.status_code == 302
    saved = ProcedureRecord.objects.get()
    assert (saved.cpt_code, saved.pain_before, saved.pain_after) == ("20560", 6, 1)


def test_recording_a_cancelled_visit_is_409_with_the_reason(client, alvarez_user, monday_visit, on_monday):
    services.cancel_appointment(
        appointment=monday_visit, by=None, reason="ill", now=monday_visit.start - timedelta(days=3)
    )
    sign_in(client, alvarez_user)
    response = client.post(record_url(monday_visit), form_data(three_muscles()))
    assert response.status_code == 409
    assert "cancelled" in response.content.decode()
    assert not ProcedureRecord.objects.exists()


def test_unknown_day_is_404(client, alvarez_user):
    sign_in(client, alvarez_user)
    assert client.get(reverse("booking:provider_day", args=["2026-13-40"])).status_code == 404


# --- the daily list -------------------------------------------------------------------------------


def test_list_shows_session_last_sites_flags_and_last_pain(client, clinic, alvarez_user):
    series = book_alices_series(clinic, now=clinic.at(MONDAY, 8) - timedelta(days=10))
    first, second = list(series.appointments.order_by("start"))[:2]
    record(first, names=("Trapezius", "Rhomboids"), before=8, after=4)
    Screening.objects.create(patient=clinic.alice, blood_thinner=True, blood_thinner_names="warfarin")
    sign_in(client, alvarez_user)
    day = first.start.astimezone(clinic.location.tz).date() + timedelta(days=14)
    response = client.get(day_url(day))
    page = response.content.decode()
    assert "Session 2 of 3" in page
    assert "Trapezius (left) ×2, Rhomboids (left) ×2" in page
    assert "Blood thinner" in page
    assert "8 before → 4 after" in page
    assert response.wsgi_request.viewed_patient_ids == {clinic.alice.pk}
    assert second.pk and f"appointment-{second.pk}" in page


def test_list_is_in_time_order_and_skips_cancelled(client, clinic, alvarez_user):
    late = book_visit(clinic, clinic.at(MONDAY, 15), patient=clinic.bob)
    early = book_visit(clinic, clinic.at(MONDAY, 9))
    gone = book_visit(clinic, clinic.at(MONDAY, 11), patient=make_patient(first_name="Carla", last_name="Gone"))
    services.cancel_appointment(appointment=gone, by=None, reason="x", now=gone.start - timedelta(days=3))
    sign_in(client, alvarez_user)
    page = client.get(day_url()).content.decode()
    assert page.index(f"appointment-{early.pk}") < page.index(f"appointment-{late.pk}")
    assert "Carla Gone" not in page


def _fill_day(clinic, count):
    """`count` visits for Dr Alvarez on MONDAY (a long day: 06:00–12:00, 13:00–23:00), each for a new
    patient with two earlier recorded visits and a screening."""
    for weekday_hours in ((time(6), time(8)), (time(17), time(23))):
        make_hours(clinic.dr_alvarez, clinic.location, weekday=0, start=weekday_hours[0], end=weekday_hours[1])
    ranges = ((6, 3), (8, 6), (13, 6), (17, 9))  # (first hour, visits of 30 + 5 minutes)
    slots = [clinic.at(MONDAY, hour) + timedelta(minutes=35 * k) for hour, n in ranges for k in range(n)]
    for index, start in enumerate(slots[:count]):
        patient = make_patient(first_name=f"P{index}", last_name="Many")
        for weeks in (4, 2):
            record(book_visit(clinic, start - timedelta(weeks=weeks), patient=patient))
        Screening.objects.create(patient=patient, needle_fear=bool(index % 2))
        book_visit(clinic, start, patient=patient)


@pytest.mark.parametrize("count", [2, 20])
def test_daily_list_queries_stay_flat_for_a_clinic_admin(
    client, clinic, admin_user, django_assert_max_num_queries, count
):
    _fill_day(clinic, count)
    sign_in(client, admin_user)
    with django_assert_max_num_queries(8):
        response = client.get(day_url(provider=clinic.dr_alvarez))
    assert response.status_code == 200
    assert response.content.decode().count('class="day-entry"') == count


@pytest.mark.parametrize("count", [2, 20])
def test_daily_list_queries_stay_flat_for_the_provider(
    client, clinic, alvarez_user, django_assert_max_num_queries, count
):
    _fill_day(clinic, count)
    sign_in(client, alvarez_user)
    # The provider's own row comes with the visits: one query fewer than for an admin.
    with django_assert_max_num_queries(7):
        response = client.get(day_url())
    assert response.content.decode().count('class="day-entry"') == count


def test_provider_login_not_linked_to_a_provider_gets_404(client, clinic):
    from clinic import roles
    from tests.factories import make_user

    sign_in(client, make_user("unlinked", role=roles.PROVIDER))
    assert client.get(day_url()).status_code == 404


def test_record_form_shows_flags_and_last_time(client, clinic, alvarez_user, monday_visit, on_monday):
    record(book_visit(clinic, clinic.at(MONDAY, 9) - timedelta(weeks=2)), names=("Piriformis",), before=9, after=6)
    Screening.objects.create(patient=clinic.alice, anaesthetic_allergy=True)
    sign_in(client, alvarez_user)
    response = client.get(record_url(monday_visit))
    page = response.content.decode()
    assert "Anaesthetic allergy" in page
    assert "Piriformis (left) ×2" in page and "9 before → 6 after" in page
    assert response.wsgi_request.viewed_patient_ids == {clinic.alice.pk}


def test_today_is_the_clinics_today_not_the_servers(client, clinic, alvarez_user, frozen):
    # 02:00 UTC on Tuesday is still Monday evening in New York.
    from datetime import UTC, datetime

    visit = book_visit(clinic, clinic.at(MONDAY, 16))
    frozen.move_to(datetime(2026, 12, 8, 2, 0, tzinfo=UTC))
    sign_in(client, alvarez_user)
    page = client.get(reverse("booking:provider_today")).content.decode()
    assert f"appointment-{visit.pk}" in page
    assert "Monday 7 December 2026" in page


def test_pain_scores_have_no_default_and_must_be_given(client, alvarez_user, monday_visit, on_monday):
    sign_in(client, alvarez_user)
    page = client.get(record_url(monday_visit)).content.decode()
    assert '<option value="" selected>—</option>' in page
    response = client.post(record_url(monday_visit), form_data(three_muscles(), before="", after=""))
    assert response.status_code == 422
    assert 'aria-describedby="id_pain_before-error"' in response.content.decode()
    assert not ProcedureRecord.objects.exists()


def test_record_form_groups_muscles_by_region_in_few_queries(
    client, alvarez_user, monday_visit, on_monday, django_assert_max_num_queries
):
    sign_in(client, alvarez_user)
    with django_assert_max_num_queries(12):
        page = client.get(record_url(monday_visit)).content.decode()
    assert '<optgroup label="Lower back">' in page
