"""What every part of the JSON API shares: its types, authentication and error mapping; and the
clinic's reference data (locations, visit types, providers).

Staff authenticate by session (with CSRF) or `Authorization: Bearer <token>`; patients by
session. Errors always come back as {"error": <code>, "detail": <sentence>}. The one API
instance and its routers (the clinic's here, patients' and booking's) are put together in
clinic/urls.py, the composition root: this module imports no other app.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, TypeVar

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, NinjaAPI, Query, Router, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.operation import Operation
from ninja.security import HttpBearer, SessionAuth
from pydantic import BeforeValidator

from clinic import roles
from clinic.access import STAFF_ATTRIBUTE, is_staff_member
from clinic.errors import DomainError
from clinic.models import ApiToken, Location, Provider, VisitType, hash_token

__all__ = [
    "AUTH",
    "ClinicAPI",
    "DbId",
    "ErrorOut",
    "IsoDate",
    "IsoDateTime",
    "IsoTime",
    "current_user",
    "hash_token",
    "require_staff",
    "router",
]

# Dates and times in the API are ISO 8601 text only: pydantic would otherwise read a number, or
# text like "0", as seconds since 1970 (the fuzz test found date_of_birth=0 accepted).
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_ISO_TIME = re.compile(r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?")


def _iso(pattern: re.Pattern[str], kind: type, example: str) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, kind) or (isinstance(value, str) and pattern.match(value)):
            return value
        raise ValueError(f"must be ISO 8601 text, e.g. {example}")

    return BeforeValidator(check)


IsoDate = Annotated[date, _iso(_ISO_DATE, date, "2026-12-01")]
IsoDateTime = Annotated[datetime, _iso(_ISO_DATETIME, datetime, "2026-12-01T09:00:00-05:00")]
IsoTime = Annotated[time, _iso(_ISO_TIME, time, "09:00")]


# A record id as the database can hold it: larger numbers are a 400, not a crash in the driver.
DbId = Annotated[int, Field(ge=0, le=2**63 - 1)]


E = TypeVar("E", bound=Exception)


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        return user_for_token(request, token)


def user_for_token(request: HttpRequest, token: str) -> Any:
    user_groups = get_user_model().groups.through.objects
    record = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=hash_token(token), revoked_at__isnull=True, user__is_active=True)
        .annotate(staff_role=Exists(user_groups.filter(user_id=OuterRef("user_id"), group__name__in=roles.STAFF_ROLES)))
        .first()
    )
    if record is None:
        return None
    setattr(record.user, STAFF_ATTRIBUTE, record.staff_role or record.user.is_superuser)  # saves a query per call
    now = timezone.now()
    if record.last_used_at is None or now - record.last_used_at > timedelta(hours=1):
        ApiToken.objects.filter(pk=record.pk).update(last_used_at=now)  # coarse, to keep reads cheap
    request.user = record.user
    return record.user


def current_user(request: HttpRequest) -> Any:
    """The caller on endpoints open to everyone: a bearer token wins over the session."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        user = user_for_token(request, header[7:].strip())
        if user is None:
            raise AuthenticationError()
        return user
    return request.user


AUTH = [TokenAuth(), SessionAuth()]


class ClinicAPI(NinjaAPI):
    """The answers every operation can give, documented once for all of them (present and future):
    400 for malformed input, 401 without a valid login or token, 404 for what does not exist or is
    not the caller's, 429 over a rate limit. Errors are mapped here, once for every router."""

    COMMON = {
        "400": "Malformed input: {error: invalid_input, detail, fields}",
        "401": "Not logged in, no valid API token, or the staff two-factor step is not done",
        "404": "Not found, or not yours to see: {error: not_found, detail}",
        "429": "Too many requests: {error: rate_limited, detail}; see Retry-After",
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._handle(DomainError, self.on_domain_error)
        self._handle(NinjaValidationError, self.on_validation_error)
        self._handle(Http404, self.on_not_found)
        self._handle(AuthenticationError, self.on_unauthenticated)
        self._handle(HttpError, self.on_http_error)

    def _handle(self, exc_class: type[E], handler: Callable[[HttpRequest, E], HttpResponse]) -> None:
        # django-ninja annotates a handler as taking the exception or its class; it always
        # passes the exception.
        self.add_exception_handler(exc_class, handler)  # type: ignore[arg-type]

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: Any = None) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, description in self.COMMON.items():
                    if status not in responses and int(status) not in responses:  # ninja keys by int
                        responses[int(status)] = {"description": description, **error}
        return schema

    def get_openapi_operation_id(self, operation: Operation) -> str:
        """`<app>_api_<view>` (booking_api_create_appointment): the id names the app's API, not the
        module inside it, so splitting an app's API into modules leaves every operation id alone."""
        app = operation.view_func.__module__.split(".")[0]
        return f"{app}_api_{operation.view_func.__name__}"

    def _error(self, request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
        return self.create_response(request, body, status=status)

    def on_domain_error(self, request: HttpRequest, exc: DomainError) -> HttpResponse:
        response = self._error(request, exc.status, exc.as_dict())
        if exc.status == 503:
            response["Retry-After"] = "2"
        return response

    def on_validation_error(self, request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        fields = []
        for err in exc.errors:
            where = ".".join(
                str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path", "payload")
            )
            fields.append({"field": where, "message": err.get("msg", "invalid")})
        detail = "; ".join(f"{f['field']}: {f['message']}" if f["field"] else f["message"] for f in fields)
        body = {"error": "invalid_input", "detail": detail or "The request is malformed.", "fields": fields}
        return self._error(request, 400, body)

    def on_not_found(self, request: HttpRequest, exc: Http404) -> HttpResponse:
        return self._error(request, 404, {"error": "not_found", "detail": str(exc) or "Not found."})

    def on_unauthenticated(self, request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return self._error(request, 401, {"error": "unauthorized", "detail": "Log in or send a valid API token."})

    def on_http_error(self, request: HttpRequest, exc: HttpError) -> HttpResponse:
        codes = {400: "invalid_input", 403: "forbidden", 404: "not_found", 413: "too_large", 429: "rate_limited"}
        body = {"error": codes.get(exc.status_code, "error"), "detail": str(exc)}
        return self._error(request, exc.status_code, body)


class ErrorOut(Schema):
    error: str
    detail: str


def require_staff(request: HttpRequest) -> Any:
    auth = getattr(request, "auth", None)  # set by django-ninja once a route's auth passed
    user = auth if auth is not None else request.user
    if not is_staff_member(user):
        raise Http404("Not found.")
    return user


# --- reference data ---------------------------------------------------------------------------

router = Router(tags=["clinic"])


class LocationOut(Schema):
    id: int
    name: str
    address: str
    phone: str
    timezone: str


class VisitTypeOut(Schema):
    slug: str
    name: str
    kind: str
    duration_minutes: int
    needs_room: bool
    bookable_online: bool


class ProviderOut(Schema):
    id: int
    display_name: str
    credentials: str
    locations: list[int]
    visit_types: list[str]


class ProviderFilter(Schema):
    location: DbId | None = None
    visit_type: str | None = None


@router.get("locations", response=list[LocationOut])
def list_locations(request: HttpRequest) -> Any:
    return Location.objects.filter(is_active=True)


@router.get("visit-types", response=list[VisitTypeOut])
def list_visit_types(request: HttpRequest) -> Any:
    return VisitType.objects.filter(is_active=True)


@router.get("providers", response=list[ProviderOut])
def list_providers(request: HttpRequest, filters: Query[ProviderFilter]) -> Any:
    providers = Provider.objects.filter(is_active=True).prefetch_related("locations", "visit_types")
    if filters.location is not None:
        providers = providers.filter(locations=filters.location)
    if filters.visit_type:
        providers = providers.filter(visit_types__slug=filters.visit_type)
    return [
        {
            "id": p.pk,
            "display_name": p.display_name,
            "credentials": p.credentials,
            "locations": [loc.pk for loc in p.locations.all()],
            "visit_types": [vt.slug for vt in p.visit_types.all()],
        }
        for p in providers.distinct()
    ]
