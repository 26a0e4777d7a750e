"""Django's database sessions, with the two statements every request may run written once.

Every request with a session cookie reads its row, and a session changed by the request (a
login, or middleware that notes the last activity for an idle timeout) is written back. Django's
store builds each through the ORM, about half a millisecond of Python apiece, and wraps the
update in a transaction of its own (BEGIN, UPDATE, COMMIT: three round trips). Here both are
one fixed statement each. Everything else (creating, deleting, clearing expired rows, the
async variants) is Django's own. SESSION_ENGINE = "clinic.sessions".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import UpdateError
from django.db import connection
from django.utils import timezone

_SELECT = "SELECT session_data FROM django_session WHERE session_key = %s AND expire_date > %s"
_UPDATE = "UPDATE django_session SET session_data = %s, expire_date = %s WHERE session_key = %s"


def _adapt(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


class SessionStore(db.SessionStore):
    def load(self) -> dict[str, Any]:
        with connection.cursor() as cursor:
            cursor.execute(_SELECT, [self.session_key, _adapt(timezone.now())])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None  # as Django does: a new key when this session is saved
            return {}
        return self.decode(row[0])

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None or must_create:
            return super().save(must_create=must_create)
        # SessionBase._get_session, as Django's own save() calls it; django-stubs leaves it out.
        data = self.encode(self._get_session())  # type: ignore[attr-defined]
        with connection.cursor() as cursor:  # one statement: atomic by itself
            cursor.execute(_UPDATE, [data, _adapt(self.get_expiry_date()), self.session_key])
            if cursor.rowcount != 1:
                raise UpdateError  # the row is gone (logged out elsewhere): Django answers with a new session
