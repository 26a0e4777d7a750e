"""Booking's models, by feature: appointments and series, messages, the waitlist.

Only booking/services/ writes these rows. Imported as `booking.models` everywhere.
"""

from booking.models.appointments import (
    OCCUPYING,
    OCCUPYING_Q,
    Appointment,
    AppointmentEvent,
    AppointmentQuerySet,
    EventAction,
    Series,
    SeriesStatus,
    Status,
    TsTzRange,
)
from booking.models.messages import (
    Channel,
    ManageLink,
    ManageLinkQuerySet,
    MessageKind,
    MessageTemplate,
    Reminder,
    ReminderQuerySet,
    ReminderStatus,
)
from booking.models.waitlist import (
    ACTIVE_WAITLIST,
    OfferStatus,
    PartOfDay,
    WaitlistEntry,
    WaitlistEntryQuerySet,
    WaitlistOffer,
    WaitlistOfferQuerySet,
    WaitlistStatus,
)

__all__ = [
    "ACTIVE_WAITLIST",
    "Appointment",
    "AppointmentEvent",
    "AppointmentQuerySet",
    "Channel",
    "EventAction",
    "ManageLink",
    "ManageLinkQuerySet",
    "MessageKind",
    "MessageTemplate",
    "OCCUPYING",
    "OCCUPYING_Q",
    "OfferStatus",
    "PartOfDay",
    "Reminder",
    "ReminderQuerySet",
    "ReminderStatus",
    "Series",
    "SeriesStatus",
    "Status",
    "TsTzRange",
    "WaitlistEntry",
    "WaitlistEntryQuerySet",
    "WaitlistOffer",
    "WaitlistOfferQuerySet",
    "WaitlistStatus",
]
