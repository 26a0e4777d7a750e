"""Thin Celery tasks: they take ids (or nothing), call one service, and are safe to run twice."""

from celery import shared_task

from booking import services


@shared_task(name="booking.expire_holds")
def expire_holds() -> int:
    """Release holds that ran out, so their slots show as free again."""
    return services.expire_holds()
