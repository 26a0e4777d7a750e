"""Domain errors of the patient records; they carry a reason code and an HTTP status like booking's."""

from __future__ import annotations

from booking.errors import BookingError


class RecordRefused(BookingError):
    """A procedure record cannot be saved as given (422), e.g. no site or a pain score out of 0–10."""

    def __init__(self, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(code, detail)
        self.field = field
