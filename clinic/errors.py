"""The base of every domain error: a reason code, a sentence for people and an HTTP status.

Each app's errors subclass it (booking.errors.BookingError, patients.errors); the JSON API maps
them all in one place (clinic.api), and form views re-render with the error and its status.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule refused the request (422 unless a subclass says otherwise)."""

    status = 422

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail

    def as_dict(self) -> dict[str, Any]:
        return {"error": self.code, "detail": self.detail}
