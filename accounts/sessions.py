"""Session bookkeeping: when a login happened, when it was last used, whether it is a staff
session; and ending every session of a user on the server.

The marks live in the session itself, so checking them costs no query; `SEEN_AT` is rewritten
at most once a minute, so a busy page does not write the session on every request.
"""

from __future__ import annotations

import time
from datetime import timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, user_logged_in, user_logged_out, user_login_failed
from django.contrib.sessions.backends.base import SessionBase
from django.db.models.signals import m2m_changed, post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone

from accounts import ratelimits
from accounts.models import UserSession
from clinic.access import is_staff_member

AUTH_AT = "clinic_auth_at"  # epoch seconds of the password login
SEEN_AT = "clinic_seen_at"  # epoch seconds of the last request, to the minute
STAFF = "clinic_staff"  # staff rules apply: 15 minutes idle, 12 hours at most, two-factor
SEEN_EVERY_SECONDS = 60


def staff_rules_apply(user: Any) -> bool:
    """Front desk, providers, clinic admins, superusers, and anyone who may open the admin."""
    return is_staff_member(user) or bool(getattr(user, "is_staff", False))


def mark_login(session: SessionBase, user: Any, *, now: float | None = None) -> None:
    now = time.time() if now is None else now
    session[AUTH_AT] = session[SEEN_AT] = now
    session[STAFF] = staff_rules_apply(user)


def remember_session(user: Any, session: SessionBase) -> None:
    """Note which user this session key belongs to (and forget that user's long-dead ones)."""
    if session.session_key is None:
        session.save()
    oldest = timezone.now() - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    UserSession.objects.filter(user_id=user.pk, created_at__lt=oldest).delete()
    UserSession.objects.update_or_create(session_key=session.session_key, defaults={"user_id": user.pk})


def session_key_changed(old_key: str | None, new_key: str | None) -> None:
    if old_key and new_key and old_key != new_key:
        UserSession.objects.filter(session_key=old_key).update(session_key=new_key)


def end_sessions_of(user_id: int) -> int:
    """Delete every session of this user on the server; their cookies then lead to the login."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    keys = list(UserSession.objects.filter(user_id=user_id).values_list("session_key", flat=True))
    for key in keys:
        store().delete(key)
    UserSession.objects.filter(user_id=user_id).delete()
    return len(keys)


@receiver(user_logged_in, dispatch_uid="accounts.on_login")
def on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return
    mark_login(request.session, user)
    remember_session(user, request.session)


@receiver(user_logged_out, dispatch_uid="accounts.on_logout")
def on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    # logout() flushes (deletes) the session itself; the mapping row goes with it.
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        UserSession.objects.filter(session_key=key).delete()


# --- deactivation and role changes end the user's sessions ------------------------------------

_WATCHED = {"is_active", "is_superuser", "is_staff"}


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.user_pre_save")
def _note_access_fields(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    if instance.pk is None or (update_fields is not None and not _WATCHED & set(update_fields)):
        instance._access_before = None
        return
    instance._access_before = sender.objects.filter(pk=instance.pk).values(*_WATCHED).first()


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.user_post_save")
def _end_sessions_on_access_change(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    before = getattr(instance, "_access_before", None)
    if created or before is None:
        return
    if any(before[field] != getattr(instance, field) for field in _WATCHED):
        end_sessions_of(instance.pk)


@receiver(m2m_changed, sender=get_user_model().groups.through, dispatch_uid="accounts.user_groups_changed")
def _end_sessions_on_role_change(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any
) -> None:
    if action not in {"post_add", "post_remove", "pre_clear"}:
        return
    if not reverse:
        end_sessions_of(instance.pk)
    elif action == "pre_clear":
        for user_id in instance.user_set.values_list("pk", flat=True):
            end_sessions_of(user_id)
    else:
        for user_id in pk_set or ():
            end_sessions_of(user_id)


@receiver(user_login_failed, dispatch_uid="accounts.on_login_failed")
def on_login_failed(sender: Any, credentials: Any, request: Any = None, **kwargs: Any) -> None:
    """Count failed logins per address across usernames (the cap in accounts.ratelimits)."""
    if request is not None:
        ratelimits.note_login_failure(request)
