"""Two request hooks for the audit trail: the actor of every change (django-auditlog) and the
access log row of every request that showed patient data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from auditlog.middleware import AuditlogMiddleware
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from accounts.net import client_ip
from audit.models import AccessLog
from clinic.access import is_staff_member


class AuditActorMiddleware(AuditlogMiddleware):
    """django-auditlog's middleware with our client address and a lazy actor: the user is read
    only when a change is logged, and after an API token has replaced the session user."""

    @staticmethod
    def _get_remote_addr(request: HttpRequest) -> str:
        return client_ip(request)

    @staticmethod
    def _get_actor(request: HttpRequest) -> Any:
        return SimpleLazyObject(lambda: getattr(request, "user", None))


def access_log_middleware(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        viewed = getattr(request, "viewed_patient_ids", None)
        # Staff looking is logged; a patient seeing their own record is not (HIPAA 164.312(b)).
        if viewed and is_staff_member(getattr(request, "user", None)):
            record_access(request, response.status_code, viewed)
        return response

    return middleware


def record_access(request: HttpRequest, status: int, patient_ids: set[int]) -> AccessLog:
    user = getattr(request, "user", None)
    signed_in = user if user is not None and getattr(user, "is_authenticated", False) else None
    return AccessLog.objects.create(
        at=timezone.now(),
        user_id=signed_in.pk if signed_in is not None else None,
        username=signed_in.get_username() if signed_in is not None else "",
        ip=client_ip(request),
        method=request.method or "",
        path=request.path[:400],
        status=status,
        patient_ids=AccessLog.key_for(patient_ids),
        request_id=getattr(request, "request_id", "")[:128],
    )
