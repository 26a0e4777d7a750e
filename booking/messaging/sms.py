"""Text messages through a small pluggable backend, chosen by settings.SMS_BACKEND.

- "file": development; appends one readable block per message to settings.SMS_FILE_PATH.
- "locmem": tests; keeps messages in `booking.messaging.sms.outbox`, like django.core.mail.outbox.
- "http": a generic JSON gateway at SMS_GATEWAY_URL; sends the idempotency key in the body and
  as the `Idempotency-Key` header, so a gateway that dedups by key delivers a retried message once.
- or a dotted path to a class with `send(message) -> str` (the gateway's message id).

Backends raise TransientSmsError for what a retry may fix (5xx, 429, timeouts, refused
connections) and PermanentSmsError for what it will not (4xx, no gateway configured).
"""

from __future__ import annotations

import fcntl
import http.client
import json
import os
import threading
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string


class SmsError(Exception):
    """A message could not be handed to the gateway."""


class TransientSmsError(SmsError):
    """Worth retrying: the gateway or the network failed, not the message."""


class PermanentSmsError(SmsError):
    """Not worth retrying: the gateway refused the message or is not configured."""


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str
    idempotency_key: str


class SmsBackend(Protocol):
    def send(self, message: SmsMessage) -> str: ...


class FileSmsBackend:
    """Appends each message to a log a person can read; safe with several worker processes."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path or settings.SMS_FILE_PATH)

    def send(self, message: SmsMessage) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        stamp = timezone.now().isoformat(timespec="seconds")
        block = f"--- {stamp} to {message.to} [{message.idempotency_key}]\n{message.body.rstrip()}\n\n"
        with self.path.open("a", encoding="utf-8") as log:
            fcntl.flock(log, fcntl.LOCK_EX)  # one block at a time from several processes
            log.write(block)
        return message.idempotency_key


outbox: list[SmsMessage] = []
_outbox_lock = threading.Lock()


class LocMemSmsBackend:
    """Keeps messages in `booking.messaging.sms.outbox` (tests clear it)."""

    def send(self, message: SmsMessage) -> str:
        with _outbox_lock:
            outbox.append(message)
        return message.idempotency_key


class HttpSmsBackend:
    """POSTs {"to", "body", "idempotency_key", "sender"} as JSON to SMS_GATEWAY_URL.

    A 2xx answer is success (its JSON "id" is kept as the gateway's message id); 408, 429 and
    5xx answers, timeouts and connection errors are transient; any other answer is permanent.
    """

    def __init__(self, url: str | None = None, token: str | None = None, timeout: float | None = None) -> None:
        self.url = url if url is not None else settings.SMS_GATEWAY_URL
        self.token = token if token is not None else settings.SMS_GATEWAY_TOKEN
        self.timeout = timeout if timeout is not None else settings.SMS_GATEWAY_TIMEOUT

    def send(self, message: SmsMessage) -> str:
        if not self.url:
            raise PermanentSmsError("SMS_GATEWAY_URL is not set")
        parts = urlsplit(self.url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise PermanentSmsError(f"SMS_GATEWAY_URL is not an http(s) URL: {self.url!r}")
        payload = {
            "to": message.to,
            "body": message.body,
            "idempotency_key": message.idempotency_key,
            "sender": settings.SMS_SENDER_ID,
        }
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Idempotency-Key": message.idempotency_key,
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        body_bytes = json.dumps(payload).encode()
        connection, reused = self._connection(parts.scheme, parts.hostname, parts.port)
        try:
            try:
                status, body = self._post(connection, path, body_bytes, headers)
            except (ConnectionError, http.client.RemoteDisconnected, http.client.CannotSendRequest):
                if not reused:
                    raise
                # The gateway closed the idle kept-alive connection: once more on a new one (the
                # idempotency key makes this safe even if the first one did arrive).
                self._drop(connection)
                connection, _ = self._connection(parts.scheme, parts.hostname, parts.port)
                status, body = self._post(connection, path, body_bytes, headers)
        except (OSError, http.client.HTTPException) as exc:  # timeouts and refused connections are OSErrors
            self._drop(connection)
            raise TransientSmsError(f"SMS gateway unreachable: {exc.__class__.__name__}: {exc}") from exc
        if 200 <= status < 300:
            try:
                return str(json.loads(body or b"{}").get("id") or message.idempotency_key)
            except (ValueError, AttributeError):
                return message.idempotency_key
        detail = body[:200].decode("utf-8", "replace")
        if status in (408, 429) or status >= 500:
            raise TransientSmsError(f"SMS gateway answered {status}: {detail}")
        raise PermanentSmsError(f"SMS gateway refused the message ({status}): {detail}")

    # One kept-alive connection per process and thread (a worker sends many messages in a row).
    _local = threading.local()

    def _connection(self, scheme: str, host: str, port: int | None) -> tuple[http.client.HTTPConnection, bool]:
        key = (os.getpid(), scheme, host, port, self.timeout)
        cached = getattr(self._local, "connections", None)
        if cached is None:
            cached = self._local.connections = {}
        if key in cached:
            return cached[key], True
        # http.client, not urllib: no proxy lookup from the environment for a gateway on loopback.
        connection_class = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        cached[key] = connection_class(host, port, timeout=self.timeout)
        return cached[key], False

    def _drop(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        cached = getattr(self._local, "connections", {})
        for key, value in list(cached.items()):
            if value is connection:
                del cached[key]

    @staticmethod
    def _post(
        connection: http.client.HTTPConnection, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        if response.will_close:
            connection.close()  # the next request reconnects
        return response.status, data


_SHORT_NAMES = {
    "file": FileSmsBackend,
    "locmem": LocMemSmsBackend,
    "http": HttpSmsBackend,
}


@cache
def _backend_class(name: str) -> type:
    return _SHORT_NAMES.get(name) or import_string(name)


def get_backend() -> SmsBackend:
    """The backend named by settings.SMS_BACKEND (read on each call, so tests can override it)."""
    return _backend_class(settings.SMS_BACKEND)()


def send_sms(*, to: str, body: str, idempotency_key: str | None = None) -> str:
    """Send one text; returns the gateway's message id."""
    message = SmsMessage(to=to, body=body, idempotency_key=idempotency_key or f"sms-{uuid.uuid4()}")
    return get_backend().send(message)
