"""The request types views are written against.

django-stubs types `request.user` as possibly anonymous and knows nothing of what middleware
adds to a request. These subclasses say what a view really gets (the pattern django-stubs and
django-htmx recommend); they exist for the type checker only: Django builds a plain HttpRequest.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class ClinicHttpRequest(HttpRequest):
    """Any request once the middleware has run."""

    request_id: str  # clinic.middleware.request_id_middleware, first in the chain
    htmx: HtmxDetails  # django_htmx.middleware.HtmxMiddleware


class AuthenticatedHttpRequest(ClinicHttpRequest):
    """A request to a view behind `login_required` (or `staff_only`): the user has signed in."""

    user: User
