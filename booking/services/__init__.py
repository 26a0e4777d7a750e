"""The only code that creates or changes appointments and series.

Views, the API, admin actions, commands and tasks call these functions; each owns its
transaction, lock, checks and audit row (see write_path.py for how).
"""

from booking.services.appointments import (
    book_appointment,
    cancel_appointment,
    check_in,
    complete_appointment,
    confirm_hold,
    expire_holds,
    mark_no_show,
    move_appointment,
)
from booking.services.manage_links import cancel_by_link, find_manage_link, issue_manage_link, move_by_link
from booking.services.patient_changes import (
    change_deadline,
    check_patient_change,
    patient_can_change,
    patient_cancel_appointment,
    patient_move_appointment,
)
from booking.services.records import InjectateInput, SiteInput, record_procedure
from booking.services.series import (
    MAX_GAP_DAYS,
    MAX_SERIES_SESSIONS,
    MAX_TOLERANCE_DAYS,
    book_series,
    cancel_series_remaining,
    complete_series,
    extend_series,
    move_series_session,
    plan_series,
    plan_series_extension,
    preview_series_move,
)
from booking.services.waitlist import (
    accept_offer,
    add_to_waitlist,
    alternatives_for,
    expire_waitlist_offers,
    offer_for_token,
    offer_freed_slot,
    offer_slot_to_entry,
    withdraw_from_waitlist,
)
from booking.services.write_path import REASON_TEXT, WRITE_ATTEMPTS, find_alternatives

__all__ = [
    "MAX_GAP_DAYS",
    "MAX_SERIES_SESSIONS",
    "MAX_TOLERANCE_DAYS",
    "REASON_TEXT",
    "InjectateInput",
    "SiteInput",
    "WRITE_ATTEMPTS",
    "accept_offer",
    "add_to_waitlist",
    "alternatives_for",
    "book_appointment",
    "book_series",
    "cancel_appointment",
    "cancel_by_link",
    "change_deadline",
    "check_patient_change",
    "find_manage_link",
    "issue_manage_link",
    "move_by_link",
    "patient_can_change",
    "patient_cancel_appointment",
    "patient_move_appointment",
    "cancel_series_remaining",
    "check_in",
    "complete_appointment",
    "complete_series",
    "confirm_hold",
    "expire_holds",
    "expire_waitlist_offers",
    "extend_series",
    "find_alternatives",
    "mark_no_show",
    "move_appointment",
    "move_series_session",
    "offer_for_token",
    "offer_freed_slot",
    "offer_slot_to_entry",
    "plan_series",
    "plan_series_extension",
    "preview_series_move",
    "record_procedure",
    "withdraw_from_waitlist",
]
