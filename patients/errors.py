"""Domain errors of the patient records; like every domain error they carry a reason code and an
HTTP status (clinic.errors.DomainError)."""

from __future__ import annotations

from clinic.errors import DomainError


class RecordRefused(DomainError):
    """A procedure record cannot be saved as given (422), e.g. no site or a pain score out of 0–10."""

    def __init__(self, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(code, detail)
        self.field = field


class ReviewRefused(DomainError):
    """A screening review cannot be made (422): already reviewed, or a decline without a note."""
