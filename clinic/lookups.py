"""Several single-row look-ups in one round trip to the database.

A booking request needs its patient, provider, visit type and location, each found by a key
from the request. As four queries they are four round trips, each waiting for PostgreSQL to be
scheduled on a busy machine; `fetch_together` sends them as one statement (a cross join of the
querysets' own SQL) and builds the instances as the ORM would.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, models


def fetch_together(*querysets: models.QuerySet) -> list[Any] | None:
    """The single row each queryset finds, in one statement; None if any finds none (ask each
    queryset on its own then, to say which). Each queryset must match at most one row (filter
    by a unique key): more would multiply the rows of the join."""
    parts, params, shapes = [], [], []
    for number, queryset in enumerate(querysets):
        model = queryset.model
        names = [field.attname for field in model._meta.concrete_fields]
        sql, part_params = queryset.values_list(*names).query.sql_with_params()
        parts.append(f"({sql}) AS fetch_{number}")
        params.extend(part_params)
        shapes.append((model, names))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {' CROSS JOIN '.join(parts)}", params)  # noqa: S608 - the ORM's own SQL
        rows = cursor.fetchmany(2)
    if len(rows) != 1:
        if len(rows) > 1:
            raise ValueError("fetch_together: a queryset matched more than one row")
        return None
    values, found, at = rows[0], [], 0
    for model, names in shapes:
        raw = values[at : at + len(names)]
        at += len(names)
        found.append(model.from_db(connection.alias, names, _converted(model, names, raw)))
    return found


def _converted(model: type[models.Model], names: list[str], raw: tuple[Any, ...]) -> list[Any]:
    """Database values as the ORM's compiler hands them to from_db: through the same converters
    (e.g. SQLite's text date-times and integer booleans)."""
    fields = {field.attname: field for field in model._meta.concrete_fields}
    values = []
    for name, value in zip(names, raw, strict=True):
        column = fields[name].get_col(model._meta.db_table)
        for converter in [*connection.ops.get_db_converters(column), *column.get_db_converters(connection)]:
            value = converter(value, column, connection)
        values.append(value)
    return values
