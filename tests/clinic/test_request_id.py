"""Every response carries an X-Request-ID, and every log record of that request carries the same id."""

import json
import logging
import re
import sys

import pytest
from django.conf import settings

from clinic import logs
from clinic.logs import JsonFormatter, RequestIdFilter

HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def records(caplog):
    """Records as the console handler sees them: through the request id filter."""
    caplog.handler.addFilter(RequestIdFilter())
    caplog.set_level(logging.WARNING)
    return caplog


def test_a_request_without_an_id_gets_a_new_one(client, db):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert HEX32.fullmatch(first) and HEX32.fullmatch(second)
    assert first != second


def test_the_proxy_id_is_kept(client, db):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="f3a9c2e0-77b1-4c55-9d1e-5a0c2b7e9f10")
    assert response["X-Request-ID"] == "f3a9c2e0-77b1-4c55-9d1e-5a0c2b7e9f10"


@pytest.mark.parametrize("forged", ["short", "a b c d e f g h", "x" * 129, "abcdefgh\nFAKE LOG LINE"])
def test_a_malformed_or_oversized_id_is_replaced(client, db, forged):
    assert HEX32.fullmatch(client.get("/healthz", HTTP_X_REQUEST_ID=forged)["X-Request-ID"])


def test_error_pages_carry_the_id_too(client, db):
    response = client.get("/no-such-page", HTTP_X_REQUEST_ID="req-404-000001")
    assert response.status_code == 404
    assert response["X-Request-ID"] == "req-404-000001"


def test_log_records_written_during_the_request_carry_its_id(client, db, records, settings):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": "/nonexistent", "data_folder_out": "/nonexistent"}
    client.get("/healthz", HTTP_X_REQUEST_ID="req-health-000042")  # logs a warning about the broker
    health_records = [r for r in records.records if r.name == "clinic.health"]
    assert health_records
    assert {r.request_id for r in health_records} == {"req-health-000042"}


def test_djangos_own_log_of_an_error_answer_carries_the_id(client, db, records):
    client.get("/no-such-page", HTTP_X_REQUEST_ID="req-404-000002")  # logged after the middleware returned
    not_found = [r for r in records.records if r.name == "django.request"]
    assert [r.request_id for r in not_found] == ["req-404-000002"]


def test_records_outside_a_request_say_so_and_the_id_does_not_leak(client, db, records):
    client.get("/healthz", HTTP_X_REQUEST_ID="req-before-000001")
    logging.getLogger("clinic.test").warning("after the request")
    assert records.records[-1].request_id == logs.NO_REQUEST == logs.request_id.get()


def test_the_console_handler_adds_the_id_to_every_record():
    console = settings.LOGGING["handlers"]["console"]
    assert console["filters"] == ["request_id"]
    assert settings.LOGGING["filters"]["request_id"]["()"] == "clinic.logs.RequestIdFilter"
    assert "%(request_id)s" in settings.LOGGING["formatters"]["plain"]["format"]


def test_json_format_is_one_object_per_line_with_the_id_and_extras():
    token = logs.request_id.set("req-json-0000001")
    try:
        try:
            raise ValueError("bad\nvalue")
        except ValueError:
            record = logging.getLogger("clinic.test").makeRecord(
                "clinic.test", logging.ERROR, __file__, 1, "booked %s", ("x",), sys.exc_info(), extra={"slot": 7}
            )
        RequestIdFilter().filter(record)
        line = JsonFormatter().format(record)
    finally:
        logs.request_id.reset(token)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "booked x"
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "clinic.test"
    assert entry["request_id"] == "req-json-0000001"
    assert entry["slot"] == 7
    assert "ValueError" in entry["exc"]
    assert entry["ts"].endswith("+00:00")
