"""A logged-in patient's pages speak their preferred language.

Django picks the language from the `django_language` cookie (then the browser's Accept-Language).
When a patient logs in, or saves a new preferred language, the cookie is set to it, so every
later page follows it at no extra query. The switch in the page header (Django's set_language
view) still changes the pages' language for the visit; the profile's choice governs messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils import translation

PENDING_ATTR = "_clinic_language_cookie"


def use_language(request: HttpRequest, language: str) -> None:
    """Switch this response to `language` and remember it in the language cookie."""
    translation.activate(language)
    request.LANGUAGE_CODE = language
    setattr(request, PENDING_ATTR, language)


@receiver(user_logged_in, dispatch_uid="patients-preferred-language")
def _on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is None:
        return
    from patients.models import Patient

    language = Patient.objects.filter(user=user).values_list("preferred_language", flat=True).first()
    if language:
        use_language(request, language)


def preferred_language_middleware(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable:
    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        language = getattr(request, PENDING_ATTR, None)
        if language:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response

    return middleware
