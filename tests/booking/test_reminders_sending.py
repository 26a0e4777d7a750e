"""Sweeping, claiming and sending: each message out once, in the patient's language, with no
clinical details, through the e-mail and SMS backends."""

import re
import socket
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction

from booking import services, tasks
from booking.messaging import delivery, planning, sms, words
from booking.messaging import texts as message_texts
from booking.models import Channel, MessageKind, MessageTemplate, Reminder, ReminderStatus
from clinic.celery import app as celery_app
from patients.models import Language, ReminderChannel
from tests.booking.reminder_harness import FakeSmsGateway
from tests.conftest import MONDAY, NOW, build_clinic
from tests.factories import sign_in

pytestmark = pytest.mark.django_db
K = MessageKind
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    settings.SMS_BACKEND = "locmem"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


def book(clinic, *, patient=None, hour=9, now=NOW):
    return services.book_appointment(
        patient=patient or clinic.alice,
        provider=clinic.dr_alvarez,
        visit_type=clinic.tpi,
        location=clinic.location,
        start=clinic.at(MONDAY, hour),
        by=None,
        now=now,
    )


def reminder(appointment, kind, channel="email") -> Reminder:
    return Reminder.objects.get(appointment=appointment, kind=kind, channel=channel)


def sweep(now, **kwargs) -> list[int]:
    """The ids a sweep hands out (enqueued after commit, which tests that use the db never reach)."""
    return delivery.sweep_due(now, enqueue=lambda ids: None, **kwargs)


# --- sweep and claim --------------------------------------------------------------------------


def test_a_sweep_hands_out_due_rows_after_commit_and_not_again_until_requeue(
    clinic, django_capture_on_commit_callbacks
):
    confirmation = reminder(book(clinic), K.CONFIRMATION)
    handed_out: list[int] = []

    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.sweep_due(NOW, enqueue=handed_out.extend) == [confirmation.pk]
        assert handed_out == []  # not before the commit
    assert handed_out == [confirmation.pk]
    assert sweep(NOW + timedelta(seconds=30)) == []  # handed out already
    requeue = timedelta(seconds=django_settings.REMINDER_REQUEUE_SECONDS)
    assert sweep(NOW + requeue) == [confirmation.pk]  # the message may have been lost


def test_a_sweep_that_rolls_back_enqueues_nothing(clinic, django_capture_on_commit_callbacks):
    book(clinic)
    handed_out: list[int] = []

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        delivery.sweep_due(NOW, enqueue=handed_out.extend)
        raise RuntimeError("rolled back")

    assert handed_out == []


def test_only_one_claim_wins(clinic):
    confirmation = reminder(book(clinic), K.CONFIRMATION)

    assert delivery.claim(confirmation.pk, NOW) is True
    assert delivery.claim(confirmation.pk, NOW) is False
    confirmation.refresh_from_db()
    assert confirmation.status == ReminderStatus.SENDING and confirmation.attempts == 1


def test_a_row_whose_worker_died_is_handed_out_again_after_its_lease(clinic, mailoutbox):
    confirmation = reminder(book(clinic), K.CONFIRMATION)
    assert delivery.claim(confirmation.pk, NOW)  # ... and the worker is killed before it sends
    lease = timedelta(seconds=django_settings.REMINDER_LEASE_SECONDS)

    assert sweep(NOW + lease - timedelta(seconds=1)) == []
    assert sweep(NOW + lease) == [confirmation.pk]
    assert delivery.deliver(confirmation.pk, now=NOW + lease) == ReminderStatus.SENT
    confirmation.refresh_from_db()
    assert confirmation.attempts == 2 and len(mailoutbox) == 1


def test_a_worker_whose_claim_was_taken_over_cannot_mark_the_row(clinic):
    confirmation = reminder(book(clinic), K.CONFIRMATION)
    assert delivery.claim(confirmation.pk, NOW)
    lease = timedelta(seconds=django_settings.REMINDER_LEASE_SECONDS)
    assert delivery.claim(confirmation.pk, NOW + lease)  # a second worker, after the lease
    slow_worker_claim = Reminder.objects.filter(pk=confirmation.pk, status=ReminderStatus.SENDING, attempts=1)

    assert slow_worker_claim.update(status=ReminderStatus.SENT, sent_at=NOW) == 0


def test_a_row_claimed_too_often_is_marked_failed(clinic):
    confirmation = reminder(book(clinic), K.CONFIRMATION)
    Reminder.objects.filter(pk=confirmation.pk).update(attempts=django_settings.REMINDER_MAX_ATTEMPTS)

    assert sweep(NOW) == []
    confirmation.refresh_from_db()
    assert confirmation.status == ReminderStatus.FAILED
    assert confirmation.last_error.startswith("gave up after")


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_nothing_twice(sms_outbox):
    clinic = build_clinic()
    clinic.bob.reminder_channel = ReminderChannel.BOTH
    clinic.bob.save()
    for hour in (8, 9, 10, 11, 13, 14, 15, 16):
        book(clinic, patient=clinic.bob, hour=hour)
    due = set(Reminder.objects.filter(send_at__lte=NOW).values_list("pk", flat=True))
    assert len(due) == 16  # a confirmation by e-mail and one by SMS for each visit

    handed_out: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def in_thread(fn):
        def run(*args):
            try:
                barrier.wait()
                fn(*args)
            finally:
                connection.close()

        return run

    def sweeper():
        ids = delivery.sweep_due(NOW, enqueue=lambda ids: None)
        with lock:
            handed_out.extend(ids)

    sweepers = [threading.Thread(target=in_thread(sweeper)) for _ in range(4)]
    [t.start() for t in sweepers]
    [t.join() for t in sweepers]
    assert set(handed_out) == due

    # Every id four times over (as if each sweep had handed out everything), four workers at once.
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def worker(ids):
        for pk in ids:
            result = delivery.deliver(pk, now=NOW)
            with lock:
                outcomes.append(result)

    workers = [threading.Thread(target=in_thread(worker), args=(sorted(due),)) for _ in range(4)]
    [t.start() for t in workers]
    [t.join() for t in workers]

    assert outcomes.count(ReminderStatus.SENT) == 16
    assert outcomes.count("not_claimed") == 48
    keys = [m.idempotency_key for m in sms_outbox]
    assert len(keys) == len(set(keys)) == 8
    assert set(Reminder.objects.filter(pk__in=due).values_list("status", flat=True)) == {ReminderStatus.SENT}


# --- what is checked after the claim --------------------------------------------------------


def test_a_reminder_for_a_cancelled_appointment_never_goes_out_even_if_already_enqueued(clinic, mailoutbox):
    appointment = book(clinic)
    early = reminder(appointment, K.REMINDER_LONG)
    assert early.pk in sweep(early.send_at)  # already on its way to a worker ...

    services.cancel_appointment(appointment=appointment, by=None, reason="patient called", now=NOW)
    Reminder.objects.filter(pk=early.pk).update(status=ReminderStatus.PENDING)  # ... and not caught in time

    assert delivery.deliver(early.pk, now=early.send_at) == ReminderStatus.CANCELLED
    early.refresh_from_db()
    assert early.status == ReminderStatus.CANCELLED and early.last_error == "the appointment is cancelled"
    assert delivery.deliver(reminder(appointment, K.CANCELLATION).pk, now=NOW) == ReminderStatus.SENT
    assert [m.subject for m in mailoutbox] == ["Your appointment on Monday, December 7, 2026 is cancelled"]


def test_nothing_about_a_visit_goes_out_once_it_has_started(clinic, mailoutbox):
    appointment = book(clinic)
    confirmation = reminder(appointment, K.CONFIRMATION)

    assert delivery.deliver(confirmation.pk, now=appointment.start) == ReminderStatus.SKIPPED
    assert mailoutbox == []


def test_a_missing_address_skips_the_message_with_the_reason(clinic):
    confirmation = reminder(book(clinic), K.CONFIRMATION)
    clinic.alice.email = ""
    clinic.alice.save()

    assert delivery.deliver(confirmation.pk, now=NOW) == ReminderStatus.SKIPPED
    confirmation.refresh_from_db()
    assert confirmation.last_error == "no e-mail address on file"


# --- texts ----------------------------------------------------------------------------------


def test_a_spanish_speaking_patient_gets_the_spanish_text(clinic, mailoutbox, sms_outbox):
    clinic.bob.preferred_language = Language.SPANISH
    clinic.bob.reminder_channel = ReminderChannel.BOTH
    clinic.bob.save()
    appointment = book(clinic, patient=clinic.bob)

    for channel in (Channel.EMAIL, Channel.SMS):
        assert delivery.deliver(reminder(appointment, K.CONFIRMATION, channel).pk, now=NOW) == ReminderStatus.SENT

    [email] = mailoutbox
    assert email.subject == "Su cita en Riverside Pain Clinic está reservada"
    assert "Su cita está reservada para el lunes 7 de diciembre de 2026 a las 9:00 EST." in email.body
    [text] = sms_outbox
    assert text.to == "+16175550123"
    assert text.body.startswith("Riverside Pain Clinic: su cita es el lunes 7 de diciembre de 2026 a las 9:00 EST.")


def test_the_locations_own_active_template_wins_over_the_clinic_default(clinic, mailoutbox):
    MessageTemplate.objects.update_or_create(
        location=None, kind=K.CONFIRMATION, channel="email", language="en",
        defaults={"subject": "Default {{ clinic_name }}", "body": "Default body"},
    )  # fmt: skip
    own = MessageTemplate.objects.create(
        location=clinic.location, kind=K.CONFIRMATION, channel="email", language="en",
        subject="See you, {{ patient_first_name }}", body="{{ date }} at {{ time }}",
    )  # fmt: skip
    appointment = book(clinic)
    delivery.deliver(reminder(appointment, K.CONFIRMATION).pk, now=NOW)
    own.active = False
    own.save()
    planning.resend(reminder(appointment, K.CONFIRMATION), now=NOW)
    delivery.deliver(reminder(appointment, K.CONFIRMATION).pk, now=NOW)

    assert [(m.subject, m.body) for m in mailoutbox] == [
        ("See you, Alice", "Monday, December 7, 2026 at 9:00 AM EST\n"),
        ("Default Riverside Pain Clinic", "Default body\n"),
    ]


def test_every_kind_has_a_default_text_in_english_and_spanish_for_both_channels():
    texts = message_texts.default_texts()

    assert set(texts) == {(k, c, lang) for k in K.values for c in Channel.values for lang in Language.values}
    assert all(subject for (kind, channel, _), (subject, _) in texts.items() if channel == Channel.EMAIL)
    assert message_texts.seed_message_templates() >= 0
    assert message_texts.seed_message_templates() == 0  # running it again adds nothing
    assert MessageTemplate.objects.filter(location__isnull=True).count() == len(texts)


def test_no_default_text_says_anything_clinical(clinic):
    appointment = book(clinic)
    appointment.notes = "Left trapezius, lidocaine 1%"
    appointment.save()
    visit_words = [clinic.tpi.name, clinic.evaluation.name, clinic.dr_alvarez.display_name, "trapezius"]

    for (kind, channel, language), (subject, body) in message_texts.default_texts().items():
        context = message_texts.message_context(appointment, kind, language, now=NOW)
        rendered = "\n".join(message_texts.render_text(subject, body, context))
        assert words.clinical_words_in(rendered, visit_words) == [], (kind, channel, language)
        assert "{{" not in rendered and "{%" not in rendered


def test_reminder_texts_carry_time_place_clinic_and_manage_link(clinic):
    appointment = book(clinic)
    for (kind, channel, language), (subject, body) in message_texts.default_texts().items():
        if kind not in planning.REMINDERS:
            continue
        context = message_texts.message_context(appointment, kind, language, now=NOW)
        _, rendered = message_texts.render_text(subject, body, context)
        assert context["date"] in rendered and context["time"] in rendered, (kind, channel, language)
        assert "Riverside Pain Clinic" in rendered and message_texts.manage_url() in rendered


# --- backends -------------------------------------------------------------------------------


def test_an_email_carries_its_idempotency_key(clinic, mailoutbox):
    confirmation = reminder(book(clinic), K.CONFIRMATION)

    delivery.deliver(confirmation.pk, now=NOW)

    [email] = mailoutbox
    assert email.to == ["alice@example.com"] and email.reply_to == ["riverside@example.com"]
    assert email.extra_headers["X-Idempotency-Key"] == f"reminder-{confirmation.pk}"
    assert email.message()["Message-ID"].startswith(f"<reminder-{confirmation.pk}@")


def test_the_file_backend_writes_a_log_a_person_can_read(tmp_path, settings):
    settings.SMS_BACKEND = "file"
    settings.SMS_FILE_PATH = tmp_path / "outbox" / "sms.log"

    sms.send_sms(to="+16175550123", body="See you Monday.", idempotency_key="reminder-7")

    text = settings.SMS_FILE_PATH.read_text()
    assert re.match(r"--- \S+ to \+16175550123 \[reminder-7\]\nSee you Monday\.\n\n$", text)


def test_the_http_backend_sends_the_key_in_body_and_header():
    with FakeSmsGateway() as gateway:
        message_id = sms.HttpSmsBackend(url=gateway.url, timeout=2).send(
            sms.SmsMessage(to="+16175550123", body="Hello", idempotency_key="reminder-9")
        )

    [call] = gateway.calls
    assert call["key"] == call["header_key"] == "reminder-9"
    assert (call["to"], call["body"]) == ("+16175550123", "Hello")
    assert message_id == "gw-1"


def test_the_http_backend_keeps_its_connection_and_reconnects_when_the_gateway_dropped_it():
    backend = sms.HttpSmsBackend(url="", timeout=2)
    with FakeSmsGateway() as first:
        backend.url = first.url
        backend.send(sms.SmsMessage("+1", "one", "k-1"))
        backend.send(sms.SmsMessage("+1", "two", "k-2"))
        port = first.server.server_address[1]
    assert len(first._open) == 1  # both messages over one kept-alive connection
    with FakeSmsGateway(port=port) as second:  # the gateway restarted; the old connection is dead
        backend.send(sms.SmsMessage("+1", "three", "k-3"))
    assert [call["key"] for call in second.calls] == ["k-3"]


@pytest.mark.parametrize(("status", "error"), [(503, sms.TransientSmsError), (429, sms.TransientSmsError)])
def test_the_http_backend_calls_server_trouble_transient(status, error):
    with FakeSmsGateway() as gateway:
        gateway.fail_with = status
        with pytest.raises(error, match=str(status)):
            sms.HttpSmsBackend(url=gateway.url, timeout=2).send(sms.SmsMessage("+1", "x", "k"))


def test_the_http_backend_calls_a_refusal_permanent_and_no_gateway_transient():
    with FakeSmsGateway() as gateway:
        gateway.fail_with = 400
        with pytest.raises(sms.PermanentSmsError, match="400"):
            sms.HttpSmsBackend(url=gateway.url, timeout=2).send(sms.SmsMessage("+1", "x", "k"))
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port_url = f"http://127.0.0.1:{probe.getsockname()[1]}/messages"
    with pytest.raises(sms.TransientSmsError, match="unreachable"):
        sms.HttpSmsBackend(url=closed_port_url, timeout=2).send(sms.SmsMessage("+1", "x", "k"))
    with pytest.raises(sms.PermanentSmsError, match="not set"):
        sms.HttpSmsBackend(url="").send(sms.SmsMessage("+1", "x", "k"))


# --- the task: retries and their end ----------------------------------------------------------


@pytest.fixture
def failing_gateway(settings):
    with FakeSmsGateway() as gateway:
        gateway.fail_with = 503
        settings.SMS_BACKEND = "http"
        settings.SMS_GATEWAY_URL = gateway.url
        settings.SMS_GATEWAY_TIMEOUT = 2
        yield gateway


def sms_confirmation(clinic):
    clinic.bob.reminder_channel = ReminderChannel.SMS
    clinic.bob.save()
    return reminder(book(clinic, patient=clinic.bob), K.CONFIRMATION, "sms")


def test_a_transient_failure_puts_the_row_back_to_wait_for_its_retry(clinic, failing_gateway):
    confirmation = sms_confirmation(clinic)

    with pytest.raises(delivery.TransientSendError):
        delivery.deliver(confirmation.pk, now=NOW, retry_in=30)

    confirmation.refresh_from_db()
    assert confirmation.status == ReminderStatus.PENDING
    assert confirmation.send_at == NOW + timedelta(seconds=30)
    assert confirmation.last_error.startswith("SMS gateway answered 503")
    assert sweep(NOW + timedelta(seconds=29)) == []  # the retry, or else the sweep, sends it later


def test_the_task_retries_with_backoff_then_marks_the_row_failed(clinic, failing_gateway, frozen):
    confirmation = sms_confirmation(clinic)

    # Run eagerly, Celery applies the retry at once; the row makes it wait for its backoff.
    assert tasks.send_reminder.apply(args=[confirmation.pk]).get() == "not_claimed"
    confirmation.refresh_from_db()
    assert confirmation.status == ReminderStatus.PENDING and confirmation.send_at > NOW
    assert confirmation.send_at <= NOW + timedelta(seconds=django_settings.REMINDER_RETRY_BACKOFF_MAX)

    Reminder.objects.filter(pk=confirmation.pk).update(send_at=NOW)
    last = tasks.send_reminder.apply(args=[confirmation.pk], retries=django_settings.REMINDER_MAX_RETRIES)
    confirmation.refresh_from_db()
    assert last.get() == ReminderStatus.FAILED
    assert confirmation.status == ReminderStatus.FAILED
    assert confirmation.last_error.startswith("SMS gateway answered 503")
    assert len(failing_gateway.calls) == 0  # a gateway answering 503 accepted nothing


def test_the_task_sends_and_says_so(clinic, mailoutbox):
    confirmation = reminder(book(clinic), K.CONFIRMATION)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(delivery.timezone, "now", lambda: NOW)
        assert tasks.send_reminder.apply(args=[confirmation.pk]).get() == ReminderStatus.SENT
        assert tasks.send_reminder.apply(args=[confirmation.pk]).get() == "not_claimed"
    assert len(mailoutbox) == 1


def test_a_batch_sends_each_row_once_and_a_redelivered_batch_sends_nothing_again(clinic, mailoutbox):
    rows = [reminder(book(clinic, hour=hour), K.CONFIRMATION).pk for hour in (9, 10, 11)]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(delivery.timezone, "now", lambda: NOW)
        assert tasks.send_reminders.apply(args=[rows]).get() == {ReminderStatus.SENT: 3}
        # The broker hands the same message out again (a worker died before its ack).
        assert tasks.send_reminders.apply(args=[rows]).get() == {"not_claimed": 3}
    assert len(mailoutbox) == 3
    assert set(Reminder.objects.filter(pk__in=rows).values_list("status", flat=True)) == {ReminderStatus.SENT}


def test_a_row_that_fails_in_a_batch_goes_to_the_single_task_retries_and_the_rest_are_sent(
    clinic, failing_gateway, mailoutbox, monkeypatch
):
    by_sms = sms_confirmation(clinic).pk
    by_email = reminder(book(clinic, hour=10), K.CONFIRMATION).pk
    retries = []
    monkeypatch.setattr(tasks.send_reminder, "apply_async", lambda *a, **kw: retries.append((a, kw)))
    monkeypatch.setattr(delivery.timezone, "now", lambda: NOW)

    assert tasks.send_reminders.apply(args=[[by_sms, by_email]]).get() == {"retrying": 1, ReminderStatus.SENT: 1}

    [(args, options)] = retries
    assert args == ((by_sms,),) and options["retries"] == 1
    waiting = Reminder.objects.get(pk=by_sms)
    assert waiting.status == ReminderStatus.PENDING
    assert waiting.send_at == NOW + timedelta(seconds=options["countdown"])
    assert len(mailoutbox) == 1


def test_a_batch_past_its_time_hands_the_rest_on_as_a_new_message(clinic, mailoutbox, monkeypatch, settings):
    rows = [reminder(book(clinic, hour=hour), K.CONFIRMATION).pk for hour in (9, 10, 11)]
    handed_on = []
    monkeypatch.setattr(delivery, "enqueue_all", handed_on.append)
    monkeypatch.setattr(delivery.timezone, "now", lambda: NOW)
    clock = iter([0.0, 0.0, 1.0, 100.0])  # the deadline is taken, row 1 and 2 start in time, row 3 late
    monkeypatch.setattr(tasks.time, "monotonic", lambda: next(clock))

    assert tasks.send_reminders.apply(args=[rows]).get() == {ReminderStatus.SENT: 2, "handed_on": 1}
    assert handed_on == [rows[2:]]
    assert Reminder.objects.get(pk=rows[2]).status == ReminderStatus.PENDING


def test_the_sweep_publishes_batches_of_ids(settings):
    settings.REMINDER_TASK_BATCH = 2
    assert delivery.batches([1, 2, 3, 4, 5]) == [[1, 2], [3, 4], [5]]


def test_celery_is_configured_for_at_least_once_delivery_and_beat_sweeps_every_minute():
    task = tasks.send_reminder
    assert task.acks_late and task.reject_on_worker_lost
    assert tasks.send_reminders.acks_late and tasks.send_reminders.reject_on_worker_lost
    assert task.retry_jitter and task.max_retries == django_settings.REMINDER_MAX_RETRIES
    assert celery_app.conf.worker_prefetch_multiplier == 1
    assert (
        django_settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
        > django_settings.REMINDER_RETRY_BACKOFF_MAX
    )
    entry = django_settings.CELERY_BEAT_SCHEDULE["sweep-reminders"]
    assert entry == {"task": tasks.sweep_reminders.name, "schedule": 60.0}
    assert django_settings.REMINDER_TASK_TIME_LIMIT < django_settings.REMINDER_LEASE_SECONDS


def test_no_task_is_scheduled_with_an_eta_or_countdown_except_the_capped_retry():
    offenders = []
    for path in [*ROOT.glob("booking/**/*.py"), *ROOT.glob("clinic/**/*.py"), *ROOT.glob("patients/**/*.py")]:
        for line in path.read_text().splitlines():
            if re.search(r"\b(eta|countdown)\s*=", line):
                offenders.append(f"{path.relative_to(ROOT)}: {line.strip()}")
    assert offenders == [
        "booking/tasks.py: raise self.retry(exc=exc, countdown=delay) from exc",
        "booking/tasks.py: send_reminder.apply_async((reminder_id,), countdown=delay, retries=1)",
    ]


# --- the admin: templates with a preview, messages with "send again" ----------------------------


@pytest.fixture
def superuser_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "correct-horse-battery")
    sign_in(client, user)
    return client


def test_the_template_admin_shows_a_rendered_preview(clinic, superuser_client):
    message_texts.seed_message_templates()
    template = MessageTemplate.objects.get(location=None, kind=K.REMINDER_SHORT, channel="sms", language="es")

    response = superuser_client.get(f"/admin/booking/messagetemplate/{template.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    preview = re.search(r'<pre class="message-preview"[^>]*>(.*?)</pre>', page, re.S).group(1)
    assert preview.startswith("Your clinic: le esperamos el lunes")
    assert "{{" not in preview


def test_the_template_admin_refuses_clinical_words_in_a_reminder(clinic, superuser_client):
    response = superuser_client.post(
        "/admin/booking/messagetemplate/add/",
        {
            "kind": K.REMINDER_SHORT,
            "channel": "sms",
            "language": "en",
            "subject": "",
            "body": "Your trigger point injection session is tomorrow at {{ time }}",
            "active": "on",
        },
    )

    assert response.status_code == 200
    assert "must not say what the visit is for" in response.content.decode()
    assert not MessageTemplate.objects.filter(body__contains="injection").exists()


def test_staff_can_send_a_failed_message_again_from_the_admin(clinic, superuser_client):
    confirmation = reminder(book(clinic), K.CONFIRMATION)
    Reminder.objects.filter(pk=confirmation.pk).update(status=ReminderStatus.FAILED, attempts=9, last_error="x")

    response = superuser_client.post(
        "/admin/booking/reminder/", {"action": "send_again", "_selected_action": [confirmation.pk]}, follow=True
    )

    assert response.status_code == 200
    confirmation.refresh_from_db()
    assert (confirmation.status, confirmation.attempts, confirmation.generation) == (ReminderStatus.PENDING, 0, 1)
    assert confirmation.idempotency_key == f"reminder-{confirmation.pk}-1"
