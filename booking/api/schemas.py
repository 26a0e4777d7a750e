"""The shapes the booking API reads and writes (request bodies, queries, answers and errors)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ninja import Field, Schema

from booking import services
from clinic.api import DbId, ErrorOut, IsoDate, IsoDateTime, IsoTime

# Dates and times as ISO 8601 text only (clinic.api): a bare number is not read as seconds since 1970.


# --- availability -------------------------------------------------------------------------------


class AvailabilityQuery(Schema):
    visit_type: str = Field(max_length=50, description="Visit type slug")
    location: DbId
    start: IsoDate = Field(description="First local date, YYYY-MM-DD")
    end: IsoDate = Field(description="Last local date, YYYY-MM-DD (inclusive)")
    provider: list[DbId] = Field(default_factory=list, description="Repeat for several providers; none = all")


class SlotOut(Schema):
    start: datetime
    end: datetime
    provider: int
    room: int | None


class AvailabilityOut(Schema):
    location: int
    timezone: str
    visit_type: str
    slots: list[SlotOut]


# --- appointments -----------------------------------------------------------------------------


class AppointmentIn(Schema):
    patient: DbId | None = Field(None, description="Required for staff; patients book for themselves")
    provider: DbId
    visit_type: str | int
    location: DbId
    start: IsoDateTime = Field(description="ISO 8601 with offset, e.g. 2026-12-01T09:00:00-05:00")
    hold: bool = Field(False, description="Hold the slot for a few minutes instead of booking it")
    notes: str = Field("", max_length=2000)


class MoveIn(Schema):
    start: IsoDateTime
    provider: DbId | None = None
    reason: str = Field("", max_length=200)


class CancelIn(Schema):
    reason: str = Field(min_length=1, max_length=200)


class AppointmentOut(Schema):
    id: int
    patient: int
    patient_name: str
    provider: int
    location: int
    visit_type: str
    room: int | None
    start: datetime
    end: datetime
    status: str
    hold_expires_at: datetime | None
    series: int | None
    session_number: int | None
    sessions_planned: int | None
    session_label: str | None = Field(None, description='"session k of n" for a session of a series')


class SlotTakenOut(ErrorOut):
    alternatives: list[dict[str, Any]]


class AppointmentFilter(Schema):
    provider: DbId | None = None
    location: DbId | None = None
    date: IsoDate | None = Field(None, description="Local date at the location")


WRITE_RESPONSES = {400: ErrorOut, 404: ErrorOut, 409: SlotTakenOut, 422: ErrorOut, 503: ErrorOut}


# --- treatment series -------------------------------------------------------------------------


class SessionChoiceIn(Schema):
    start: IsoDateTime
    provider: DbId | None = Field(None, description="Another provider for this session; default: the series'")


Choice = IsoDateTime | SessionChoiceIn


class SeriesIn(Schema):
    patient: DbId
    provider: DbId
    visit_type: str | int
    location: DbId
    sessions: int = Field(ge=1, le=services.MAX_SERIES_SESSIONS)
    gap_days: int = Field(14, ge=1, le=services.MAX_GAP_DAYS)
    tolerance_days: int = Field(2, ge=0, le=services.MAX_TOLERANCE_DAYS)
    taper_days: list[int] = Field(default_factory=list, max_length=services.MAX_SERIES_SESSIONS)
    preferred_time: IsoTime = Field(description='Local time of day at the location, "HH:MM"')
    first_date: IsoDate = Field(description="Target date of session 1, YYYY-MM-DD")
    choices: dict[int, Choice] = Field(
        default_factory=dict, description="Session number -> chosen start (ISO 8601 with offset), or {start, provider}"
    )


class ExtendIn(Schema):
    sessions: int = Field(ge=1, le=services.MAX_SERIES_SESSIONS)
    choices: dict[int, Choice] = Field(default_factory=dict)


class SeriesMoveIn(Schema):
    start: IsoDateTime
    provider: DbId | None = None
    replan_later: bool = Field(False, description="Re-plan every later future session from the new date")
    reason: str = Field("", max_length=200)


class AlternativeOut(Schema):
    kind: str
    start: datetime
    end: datetime
    provider: int
    room: int | None
    day_offset: int


class PlannedSessionOut(Schema):
    session_number: int
    target_date: date
    status: str = Field(description="fits | moved | chosen | needs_choice")
    day_offset: int
    start: datetime | None
    end: datetime | None
    provider: int
    room: int | None
    time_note: str
    pinned: bool
    problem: str
    clash: bool
    alternatives: list[AlternativeOut]


class SeriesPlanOut(Schema):
    timezone: str
    bookable: bool
    sessions: list[PlannedSessionOut]


class SeriesOut(Schema):
    id: int
    patient: int
    provider: int
    visit_type: str
    location: int
    timezone: str
    sessions_planned: int
    gap_days: int
    tolerance_days: int
    taper_days: list[int]
    preferred_time: str
    status: str
    appointments: list[AppointmentOut]


class SeriesErrorOut(ErrorOut):
    alternatives: list[dict[str, Any]] = Field(default_factory=list)
    session_number: int | None = None
    plan: SeriesPlanOut | None = None


SERIES_RESPONSES = {400: ErrorOut, 404: ErrorOut, 409: SeriesErrorOut, 422: SeriesErrorOut, 503: ErrorOut}
