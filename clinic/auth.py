"""Authentication backend: Django's model backend, with the user's roles read in the same query.

Every request with a session loads its user (`get_user`); the role checks that follow
(`clinic.access`) would then read the user's groups with a query of their own. Here one query
returns both, so a patient's request costs one round trip less whatever else the middleware
stack adds. The roles are read fresh on every request: a role taken away counts at once.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import Aggregate, TextField, Value

SEPARATOR = "\x1f"  # ASCII unit separator: not in any group name a person types


class JoinedText(Aggregate):
    """The group's values joined by `separator` (STRING_AGG on PostgreSQL, GROUP_CONCAT on SQLite)."""

    function = "STRING_AGG"
    output_field = TextField()

    def __init__(self, expression: Any, separator: str, **extra: Any) -> None:
        super().__init__(expression, Value(separator), **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(compiler, connection, function="GROUP_CONCAT", **extra_context)


class RoleAwareBackend(ModelBackend):
    """ModelBackend whose get_user also reads the role (group) names, for clinic.access.role_names."""

    def get_user(self, user_id: Any) -> Any:
        user = (
            get_user_model()
            ._default_manager.filter(pk=user_id)
            .annotate(clinic_role_names=JoinedText("groups__name", SEPARATOR))
            .first()
        )
        if user is None or not self.user_can_authenticate(user):
            return None
        joined = user.clinic_role_names
        user._clinic_roles = frozenset(joined.split(SEPARATOR)) if joined else frozenset()
        return user
