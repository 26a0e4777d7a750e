from typing import Any

from django.http import HttpRequest


def csp_nonce(request: HttpRequest) -> dict[str, Any]:
    """`csp_nonce` in templates (django-htmx's script tag reads this name): the request's nonce,
    made only when a template uses it."""
    return {"csp_nonce": getattr(request, "csp_nonce", None)}
