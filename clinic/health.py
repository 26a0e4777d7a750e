"""GET /healthz: can this process reach the database and the Celery broker?

Public and cheap, for a load balancer, systemd or a monitor: 200 when both answer, 503 when
either does not; the body says which ({"database": "ok"|"error", "broker": "ok"|"error"}) and
nothing else (no versions, hosts or patient data). Never cached. Each check is bounded by
HEALTH_CHECK_TIMEOUT seconds; failures are logged with their cause.
"""

from __future__ import annotations

import logging
import os

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

OK, ERROR = "ok", "error"


def database_status() -> str:
    """One round trip (SELECT 1) on the default database connection."""
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means "not reachable"; the cause goes to the log
        logger.warning("health: database unreachable: %s: %s", exc.__class__.__name__, exc)
        return ERROR
    return OK


def _filesystem_broker_status(options: dict[str, object]) -> str:
    folders = {str(options.get(key) or "") for key in ("data_folder_in", "data_folder_out")}
    for folder in folders:
        if not folder or not os.path.isdir(folder) or not os.access(folder, os.W_OK | os.X_OK):
            logger.warning("health: broker folder missing or not writable: %s", folder or "(not set)")
            return ERROR
    return OK


def broker_status() -> str:
    """A fresh, short-timeout connection to CELERY_BROKER_URL (no retries); the folders for the
    filesystem transport."""
    url = settings.CELERY_BROKER_URL
    options = dict(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {})
    if url.startswith("filesystem://"):
        return _filesystem_broker_status(options)
    from kombu import Connection

    timeout = settings.HEALTH_CHECK_TIMEOUT
    options.setdefault("socket_timeout", timeout)
    options.setdefault("socket_connect_timeout", timeout)
    try:
        with Connection(url, connect_timeout=timeout, transport_options=options) as broker:
            broker.ensure_connection(max_retries=0)
    except Exception as exc:  # as above: unreachable, whatever the reason
        logger.warning("health: broker unreachable: %s: %s", exc.__class__.__name__, exc)
        return ERROR
    return OK


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": database_status(), "broker": broker_status()}
    healthy = all(value == OK for value in checks.values())
    return JsonResponse(checks, status=200 if healthy else 503)
