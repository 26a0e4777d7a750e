"""Authentication backend: Django's model backend, with the user's roles read in the same query.

Every request with a session loads its user (`get_user`); the role checks that follow
(`clinic.access`) would then read the user's groups with a query of their own. Here one fixed
statement returns both (the user's columns and their group names), so a request costs one
round trip and one ORM compilation less, whatever else the middleware stack adds. The roles are
read fresh on every request: a role taken away counts at once.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.db import connection

from clinic.lookups import converted

SEPARATOR = "\x1f"  # ASCII unit separator: in no group name a person types
# Where the role names ride on the user object for the rest of the request: clinic.access.role_names
# reads them there (and puts them there for a user loaded any other way). Not a model field.
ROLES_ATTRIBUTE = "_clinic_roles"


@cache
def _user_sql(vendor: str) -> tuple[str, tuple[str, ...]]:
    model = get_user_model()
    fields = model._meta.concrete_fields
    names = tuple(field.attname for field in fields)
    columns = ", ".join(f"u.{connection.ops.quote_name(field.column)}" for field in fields)
    joined = "STRING_AGG(g.name, %s)" if vendor == "postgresql" else "GROUP_CONCAT(g.name, %s)"
    through = model.groups.through._meta.db_table
    sql = (
        f"SELECT {columns}, (SELECT {joined} FROM auth_group g"  # noqa: S608 - names from the models' metadata
        f" JOIN {through} ug ON ug.group_id = g.id WHERE ug.user_id = u.id)"
        f" FROM {model._meta.db_table} u WHERE u.id = %s"
    )
    return sql, names


class RoleAwareBackend(ModelBackend):
    """ModelBackend whose get_user also reads the role (group) names, for clinic.access.role_names."""

    def get_user(self, user_id: Any) -> User | None:
        model = get_user_model()
        sql, names = _user_sql(connection.vendor)
        try:
            pk = model._meta.pk.to_python(user_id)
        except Exception:  # noqa: BLE001 - a session with a mangled id is no user, as in ModelBackend
            return None
        with connection.cursor() as cursor:
            cursor.execute(sql, [SEPARATOR, pk])
            row = cursor.fetchone()
        if row is None:
            return None
        user = model.from_db(connection.alias, list(names), converted(model, names, row[:-1]))
        if not self.user_can_authenticate(user):
            return None
        setattr(user, ROLES_ATTRIBUTE, frozenset(row[-1].split(SEPARATOR)) if row[-1] else frozenset())
        return user
