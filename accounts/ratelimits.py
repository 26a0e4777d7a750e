"""Rate limits by URL prefix: ONE table, checked by accounts.middleware.rate_limit_middleware
before the request reaches a session, a query or a view. Counters live in the cache
(django-ratelimit): Redis in production, so every process counts together.

To limit a new endpoint, add one `Rule` line below. An answer over the limit is 429 with a
sentence (JSON under /api/, a page elsewhere) and a Retry-After header.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from accounts.net import client_ip


def by_ip(request: HttpRequest) -> str:
    return client_ip(request)


def by_caller(request: HttpRequest) -> str:
    """An API token, else the session, else the address: one clinic's computers behind one
    address do not share a budget, and no database query is needed to tell them apart."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return "token:" + hashlib.sha256(header[7:].strip().encode()).hexdigest()[:32]
    session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")
    if session_key:
        return "session:" + hashlib.sha256(session_key.encode()).hexdigest()[:32]
    return "ip:" + client_ip(request)


@dataclass(frozen=True)
class Rule:
    group: str  # the counter's name
    prefix: str  # request paths starting with this
    methods: tuple[str, ...]  # counted methods; empty = all
    rate: Callable[[], str]  # "30/10m": requests per period, read from settings at call time
    key: Callable[[HttpRequest], str]


RULES: list[Rule] = [
    Rule("login", "/accounts/login/", ("POST",), lambda: settings.RATE_LOGIN_PER_IP, by_ip),
    Rule("admin-login", "/admin/login/", ("POST",), lambda: settings.RATE_LOGIN_PER_IP, by_ip),
    Rule("two-factor", "/account/two-factor/", ("POST",), lambda: settings.RATE_TWO_FACTOR, by_caller),
    Rule("password-reset", "/accounts/password_reset/", ("POST",), lambda: settings.RATE_TWO_FACTOR, by_ip),
    Rule("manage-link", "/manage/", (), lambda: settings.RATE_MANAGE_LINK_PER_IP, by_ip),
    # The waitlist offer link and its page (the accept POST too): its token is the credential.
    Rule("offer-link", "/waitlist/offer/", (), lambda: settings.RATE_MANAGE_LINK_PER_IP, by_ip),
    Rule("register", "/account/register", ("POST",), lambda: settings.RATE_REGISTER_PER_IP, by_ip),
    # Each hold keeps a time from everyone else for a few minutes: a patient cannot hoard the calendar.
    Rule("booking-hold", "/book/hold", ("POST",), lambda: settings.RATE_BOOKING_HOLD, by_caller),
    Rule("booking-api", "/api/v1/appointments", ("POST",), lambda: settings.RATE_BOOKING_API, by_caller),
    Rule("series-api", "/api/v1/series", ("POST",), lambda: settings.RATE_BOOKING_API, by_caller),
]


def exceeded(request: HttpRequest) -> tuple[Rule, int] | None:
    """The first rule this request breaks (and seconds until its window ends), counting it."""
    if not settings.RATELIMIT_ENABLE:
        return None
    for rule in RULES:
        if not request.path.startswith(rule.prefix) or (rule.methods and request.method not in rule.methods):
            continue
        usage = get_usage(
            request, group=rule.group, key=lambda _g, r, rule=rule: rule.key(r), rate=rule.rate(), increment=True
        )
        if usage is not None and usage["should_limit"]:
            return rule, int(usage["time_left"])
    return None


# --- failed logins per address, across usernames (credential stuffing) ------------------------


def note_login_failure(request: HttpRequest) -> None:
    get_usage(
        request,
        group="login-failures",
        key=lambda _g, r: by_ip(r),
        rate=settings.RATE_LOGIN_FAILURES_PER_IP,
        increment=True,
    )


def too_many_login_failures(request: HttpRequest) -> int | None:
    """Seconds to wait when this address failed too many logins lately (any usernames), else None."""
    if not settings.RATELIMIT_ENABLE:
        return None
    usage = get_usage(
        request, group="login-failures", key=lambda _g, r: by_ip(r), rate=settings.RATE_LOGIN_FAILURES_PER_IP
    )
    if usage is not None and usage["count"] >= usage["limit"]:
        return int(usage["time_left"])
    return None
