"""Request ids: one per request, taken from the proxy's X-Request-ID or made here.

The id goes on the response (X-Request-ID), on `request.request_id`, and into every log record
written while the request is handled (clinic.logs.RequestIdFilter), so a line in the access log,
the application's log and a user's bug report can be matched up.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from clinic import logs
from clinic.http import ClinicHttpRequest

HEADER = "X-Request-ID"
# What a proxy sends (nginx's $request_id is 32 hex digits; others use UUIDs). Anything else, or
# anything longer, is replaced: the id is written into logs and must not carry a forged line.
_ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{8,128}")


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_middleware(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[ClinicHttpRequest], HttpResponse]:
    def middleware(request: ClinicHttpRequest) -> HttpResponse:
        incoming = request.headers.get(HEADER, "")
        current = incoming if _ACCEPTED.fullmatch(incoming) else new_request_id()
        request.request_id = current
        # Kept until the response is closed (below), not only until this returns: Django logs
        # 4xx/5xx answers ("Not Found: /x") after the whole middleware chain has run.
        logs.request_id.set(current)
        response = get_response(request)
        response[HEADER] = current
        return response

    return middleware


@receiver(request_finished, dispatch_uid="clinic.middleware.forget_request_id")
def forget_request_id(**kwargs: Any) -> None:
    """The response was sent: later records in this thread belong to no request."""
    logs.request_id.set(logs.NO_REQUEST)
