"""Fuzz the JSON API from its own OpenAPI schema (schemathesis): whatever a caller sends, no
answer is a 5xx and every answer matches the schema (ASVS 1.x/2.x input handling).

Bounded for CI: 25 derandomized examples per operation; run once, on SQLite (the booking rules
behind it are the same on both databases, and the PostgreSQL run has the concurrency tests).
"""

import secrets

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from clinic.api import hash_token
from clinic.models import ApiToken
from clinic.urls import api
from clinic.wsgi import application

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.slow,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="fuzzed once per CI run, on SQLite"),
]


@pytest.fixture(autouse=True)
def world(clinic, desk_user, frozen, settings):
    settings.RATELIMIT_ENABLE = False  # tested in tests/accounts; here every example must reach the API
    # Requests go straight into the WSGI app, which would close the test's database connection at
    # the end of each request (Django's test client switches this off the same way).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def staff_token(desk_user):
    token = secrets.token_urlsafe(16)
    ApiToken.objects.create(user=desk_user, token_hash=hash_token(token))
    return token


# No 5xx, documented statuses and content types, bodies that match the schema. (schemathesis'
# "positive data acceptance" is left out: it counts a 400 for a value our own rules refuse, such
# as a date range longer than the API allows, as a failure.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

# The schema the API serves at /api/schema, built in-process (no request needed at import time).
schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/"))
schema.app = application


@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_the_api_never_fails_and_keeps_to_its_schema(case, staff_token):
    response = case.call(headers={"Authorization": f"Bearer {staff_token}"})
    case.validate_response(response, checks=CHECKS)
