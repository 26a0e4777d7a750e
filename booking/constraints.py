"""An exclusion constraint that PostgreSQL enforces and SQLite leaves to the booking service.

Django's ExclusionConstraint emits `EXCLUDE USING GIST` on every backend, which SQLite cannot
parse. This subclass emits no DDL off PostgreSQL, so one migration serves both databases; on
SQLite the overlap rule is held by IMMEDIATE transactions, the service's in-transaction check
and the triggers added in booking's migrations.
"""

from typing import Any

from django.contrib.postgres.constraints import ExclusionConstraint
from django.db import connections


class PortableExclusionConstraint(ExclusionConstraint):
    def constraint_sql(self, model: Any, schema_editor: Any) -> Any:
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().constraint_sql(model, schema_editor)

    def create_sql(self, model: Any, schema_editor: Any) -> Any:
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().create_sql(model, schema_editor)

    def remove_sql(self, model: Any, schema_editor: Any) -> Any:
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().remove_sql(model, schema_editor)

    def validate(self, model: Any, instance: Any, exclude: Any = None, using: str = "default") -> None:
        # Model validation off PostgreSQL is skipped: the booking service checks overlaps itself.
        if connections[using].vendor == "postgresql":
            super().validate(model, instance, exclude=exclude, using=using)
