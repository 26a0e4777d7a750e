"""Domain errors of the booking service; each carries a reason code and an HTTP status."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_noop

from clinic.errors import DomainError


class BookingError(DomainError):
    """A rule refused the booking (422), e.g. outside working hours or inside the minimum notice."""

    status = 422


class SlotTaken(BookingError):
    """Another appointment holds the time (409); carries free alternatives when known."""

    status = 409

    def __init__(
        self, detail: str = gettext_noop("That time has just been taken."), alternatives: list[Any] | None = None
    ) -> None:
        super().__init__("slot_taken", detail)
        self.alternatives = alternatives or []

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "alternatives": self.alternatives}


class SlotBusy(BookingError):
    """The calendar stayed locked by other writers after retries (503): try again in a moment."""

    status = 503

    def __init__(self) -> None:
        super().__init__("busy", gettext_noop("The calendar is busy right now; please try again in a moment."))


class InvalidTransition(BookingError):
    """The appointment's status does not allow this action (409)."""

    status = 409

    def __init__(self, detail: str) -> None:
        super().__init__("invalid_status", detail)


class SeriesNeedsChoice(BookingError):
    """A series cannot be booked as planned (422): some sessions need a person's choice."""

    def __init__(self, plan: dict[str, Any], detail: str = "") -> None:
        super().__init__(
            "needs_choice", detail or gettext_noop("Some sessions have no time inside their tolerance; please choose.")
        )
        self.plan = plan

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "plan": self.plan}


class SeriesClash(SlotTaken):
    """A session's time was taken before the series could be booked (409); nothing was booked.

    Carries the plan made again from the calendar as it is now, with the clashing session marked.
    """

    def __init__(self, session_number: int | None, plan: dict[str, Any], alternatives: list[Any] | None = None) -> None:
        which = f"Session {session_number}'s time" if session_number else "A session's time"
        super().__init__(f"{which} has just been taken; nothing was booked. Here is the plan again.", alternatives)
        self.session_number = session_number
        self.plan = plan

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "session_number": self.session_number, "plan": self.plan}


class ChangeTooLate(BookingError):
    """A patient tried to cancel or move a visit past the location's cutoff (422): phone instead."""

    def __init__(self, detail: str, phone: str = "") -> None:
        super().__init__("past_cutoff", detail)
        self.phone = phone

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "phone": self.phone}


class LinkUnusable(Exception):
    """A manage link that cannot be used: unknown (404), used or expired (410)."""

    STATUS = {"unknown": 404, "used": 410, "expired": 410}

    def __init__(self, why: str, language: str = "") -> None:
        super().__init__(why)
        self.why = why
        self.status = self.STATUS[why]
        self.language = language  # the patient's, when the link is known


class OfferNotFound(BookingError):
    """No waitlist offer has this link (404): mistyped, or the link was never ours."""

    status = 404

    def __init__(self) -> None:
        super().__init__("offer_not_found", "This link does not match any offer. Please check the link or call us.")


class OfferClosed(BookingError):
    """A waitlist offer that can no longer be taken: used (409), taken by someone else (409),
    ran out or withdrawn (410). Carries other free times when known."""

    STATUS = {"offer_used": 409, "offer_lost": 409, "offer_expired": 410, "offer_withdrawn": 410}

    def __init__(self, code: str, detail: str, alternatives: list[Any] | None = None) -> None:
        super().__init__(code, detail)
        self.status = self.STATUS[code]
        self.alternatives = alternatives or []

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "alternatives": self.alternatives}
