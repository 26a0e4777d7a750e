"""The second step of a staff login: set up an authenticator app once, then type its code.

Every staff page is closed until this is done (accounts.middleware). A code works once: the
device remembers the last time step it accepted (django-otp's `last_t`), and wrong codes
slow further tries down (its throttling).
"""

from __future__ import annotations

from typing import Any

import django_otp
import segno
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import sessions
from accounts.forms import CodeForm
from clinic.http import AuthenticatedHttpRequest

TOO_MANY = gettext_lazy("Too many wrong codes. Wait a little, then try the newest code.")


def _next_url(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return wanted
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _verified(request: HttpRequest, device: TOTPDevice) -> HttpResponse:
    """Mark the session as having passed the second factor, under a new session key."""
    django_otp.login(request, device)
    old_key = request.session.session_key
    request.session.cycle_key()
    sessions.session_key_changed(old_key, request.session.session_key)
    return redirect(_next_url(request))


def _staff_or_404(request: HttpRequest) -> None:
    if not sessions.staff_rules_apply(request.user):
        raise Http404


@never_cache
@sensitive_post_parameters("code")
@login_required
def two_factor_setup(request: AuthenticatedHttpRequest) -> HttpResponse:
    """First staff login: scan the QR code (or type the key), then confirm with a code."""
    _staff_or_404(request)
    if TOTPDevice.objects.filter(user=request.user, confirmed=True).exists():
        return redirect(f"{resolve_url('accounts:two_factor_verify')}?{request.GET.urlencode()}")
    device = TOTPDevice.objects.filter(user=request.user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=request.user, name=_("Authenticator app"), confirmed=False)
    form = CodeForm(request.POST or None)
    if form.is_valid():
        allowed, _info = device.verify_is_allowed()
        if allowed and device.verify_token(form.cleaned_data["code"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            return _verified(request, device)
        form.add_error(
            "code", _("That code is not right. Check the app's clock and try the new code.") if allowed else TOO_MANY
        )
    context: dict[str, Any] = {
        "form": form,
        "qr_svg": segno.make(device.config_url, error="m").svg_inline(scale=4, title=_("QR code to scan")),
        "secret": _grouped(device.config_url),
        "next": _next_url(request),
    }
    return render(request, "accounts/two_factor_setup.html", context, status=422 if form.errors else 200)


@never_cache
@sensitive_post_parameters("code")
@login_required
def two_factor_verify(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every staff login: the code from the authenticator app set up before."""
    _staff_or_404(request)
    device = TOTPDevice.objects.filter(user=request.user, confirmed=True).order_by("pk").first()
    if device is None:
        return redirect(f"{resolve_url('accounts:two_factor_setup')}?{request.GET.urlencode()}")
    form = CodeForm(request.POST or None)
    if form.is_valid():
        allowed, _info = device.verify_is_allowed()
        if allowed and django_otp.verify_token(request.user, device.persistent_id, form.cleaned_data["code"]):
            return _verified(request, device)
        message = _("That code is not right, or was already used. Wait for the next code.") if allowed else TOO_MANY
        form.add_error("code", message)
    context = {"form": form, "next": _next_url(request)}
    return render(request, "accounts/two_factor_verify.html", context, status=422 if form.errors else 200)


def _grouped(config_url: str) -> str:
    """The base32 secret from the otpauth URL, in groups of four for typing by hand."""
    secret = config_url.split("secret=", 1)[1].split("&", 1)[0]
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
