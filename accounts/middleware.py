"""Request guards for every page, present and future: rate limits by URL prefix, session time
limits, the staff second factor, and no-store on pages that may show patient data.

New pages get all of this without a line of their own. Paths that must stay reachable
without a finished login (the login itself, the two-factor pages, static files, health) are
listed once in OPEN_PATHS.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django_htmx.http import HttpResponseClientRedirect

from accounts import ratelimits, sessions

Handler = Callable[[HttpRequest], HttpResponse]

# Reachable by a staff member who has not passed the second factor yet (and by anyone).
OPEN_PATHS = ("/accounts/login/", "/accounts/logout/", "/account/two-factor/", "/static/", "/i18n/", "/healthz")
# Pages reached by a link from an e-mail or text, which carry a patient's data without a login.
LINK_PAGES = ("/manage/", "/waitlist/offer/")


def _api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def too_many_requests(request: HttpRequest, retry_after: int) -> HttpResponse:
    message = _("Too many attempts. Please wait %(minutes)s minute(s) and try again.") % {
        "minutes": max(1, round(retry_after / 60))
    }
    if _api(request):
        response: HttpResponse = JsonResponse({"error": "rate_limited", "detail": message}, status=429)
    else:
        response = render(request, "accounts/rate_limited.html", {"message": message}, status=429)
    response["Retry-After"] = str(max(1, retry_after))
    return response


def rate_limit_middleware(get_response: Handler) -> Handler:
    def middleware(request: HttpRequest) -> HttpResponse:
        broken = ratelimits.exceeded(request)
        if broken is not None:
            return too_many_requests(request, broken[1])
        if request.method == "POST" and request.path in ("/accounts/login/", "/admin/login/"):
            wait = ratelimits.too_many_login_failures(request)
            if wait is not None:
                return too_many_requests(request, wait)
        return get_response(request)

    return middleware


def _go(request: HttpRequest, url: str) -> HttpResponse:
    """A redirect; for htmx a whole-page one (else the login would be swapped into a fragment)."""
    if request.headers.get("HX-Request") == "true":
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _ended(request: HttpRequest) -> HttpResponse:
    """The session ran out: end it on the server and send the person to the login."""
    logout(request)
    if _api(request):
        return JsonResponse(
            {"error": "unauthorized", "detail": _("Your session has ended. Please log in again.")}, status=401
        )
    return _go(request, f"{reverse('login')}?{urlencode({'next': request.get_full_path(), 'ended': 1})}")


def _needs_second_factor(request: HttpRequest) -> HttpResponse:
    if _api(request):
        detail = _("Finish the two-factor step of your login first.")
        return JsonResponse({"error": "two_factor_required", "detail": detail}, status=401)
    from django_otp.plugins.otp_totp.models import TOTPDevice

    has_device = TOTPDevice.objects.filter(user_id=request.user.pk, confirmed=True).exists()
    target = "accounts:two_factor_verify" if has_device else "accounts:two_factor_setup"
    return _go(request, f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")


def session_policy_middleware(get_response: Handler) -> Handler:
    """Idle and absolute limits per role, and the second factor for staff.

    Reads only the session (already loaded) until a limit is hit; writes it at most once a
    minute. A request with an API token and no session is left to the API's own check.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        session = request.session
        if SESSION_KEY not in session:
            return get_response(request)
        now = time.time()
        staff = bool(session.get(sessions.STAFF))
        auth_at: float | None = session.get(sessions.AUTH_AT)
        if auth_at is None:
            return _ended(request)
        seen_at: float = session.get(sessions.SEEN_AT, auth_at)
        idle = 60 * (settings.STAFF_SESSION_IDLE_MINUTES if staff else settings.PATIENT_SESSION_IDLE_MINUTES)
        if now - seen_at > idle:
            return _ended(request)
        if staff and now - auth_at > 3600 * settings.STAFF_SESSION_MAX_HOURS:
            return _ended(request)
        if now - seen_at >= sessions.SEEN_EVERY_SECONDS:
            session[sessions.SEEN_AT] = now
        if staff and not request.path.startswith(OPEN_PATHS) and not _second_factor_passed(request):
            return _needs_second_factor(request)
        return get_response(request)

    return middleware


def _second_factor_passed(request: HttpRequest) -> bool:
    """django_otp's OTPMiddleware gives the user an `is_verified()` (untyped: django_otp has no types)."""
    is_verified = getattr(request.user, "is_verified", None)
    return bool(is_verified and is_verified())


def private_pages_middleware(get_response: Handler) -> Handler:
    """Cache-Control: no-store on every answer to a logged-in person and on the link pages:
    no browser or proxy keeps a copy of a page that may show patient data."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        link_page = request.path.startswith(LINK_PAGES)
        if link_page or SESSION_KEY in request.session or "Authorization" in request.headers:
            add_never_cache_headers(response)
        if link_page:
            # The token is in the path: a Referer carries the origin only. Not no-referrer: browsers
            # then send `Origin: null` with the page's form, and the CSRF check refuses it.
            response["Referrer-Policy"] = "strict-origin"
        return response

    return middleware
