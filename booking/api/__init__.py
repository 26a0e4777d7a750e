"""Availability, appointments and treatment series in the JSON API, one module each; the shapes
they read and write are in schemas, the lookups they share (what a caller may see) in lookups.

Every write goes through booking.services. clinic/urls.py mounts `router` under /api/v1/.
"""

from ninja import Router

from booking.api import appointments, availability, series

router = Router(tags=["booking"])
router.add_router("", availability.router)
router.add_router("", appointments.router)
router.add_router("", series.router)
