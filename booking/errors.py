"""Domain errors of the booking service; each carries a reason code and an HTTP status."""

from __future__ import annotations

from typing import Any


class BookingError(Exception):
    """A rule refused the booking (422), e.g. outside working hours or inside the minimum notice."""

    status = 422

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail

    def as_dict(self) -> dict[str, Any]:
        return {"error": self.code, "detail": self.detail}


class SlotTaken(BookingError):
    """Another appointment holds the time (409); carries free alternatives when known."""

    status = 409

    def __init__(self, detail: str = "That time has just been taken.", alternatives: list[Any] | None = None) -> None:
        super().__init__("slot_taken", detail)
        self.alternatives = alternatives or []

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "alternatives": self.alternatives}


class SlotBusy(BookingError):
    """The calendar stayed locked by other writers after retries (503): try again in a moment."""

    status = 503

    def __init__(self) -> None:
        super().__init__("busy", "The calendar is busy right now; please try again in a moment.")


class InvalidTransition(BookingError):
    """The appointment's status does not allow this action (409)."""

    status = 409

    def __init__(self, detail: str) -> None:
        super().__init__("invalid_status", detail)
