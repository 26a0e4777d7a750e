"""Several single-row look-ups in one round trip, with the SQL written once per shape.

A booking request needs its patient, provider, visit type and location, each found by a key
from the request. As four ORM queries they are four round trips (each waiting for PostgreSQL
to be scheduled on a busy machine) and four SQL compilations (about half a millisecond of
Python each). `fetch_together` sends one statement, built once per combination of models and
filter fields and kept, and builds the instances as the ORM does (`from_db`, the fields'
database converters).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import connection, models
from django.db.models.fields.related import RelatedField

Wanted = tuple[type[models.Model], dict[str, Any]]


def fetch_together(*wanted: Wanted) -> list[Any] | None:
    """The one row per (model, {field: value}) pair, in one statement; None if any is missing.

    Filters are equality on concrete fields ("pk", a field name, or a foreign key's name or
    attname with the related id); each pair must name at most one row (a unique key). Ask the
    ORM separately to say which row is missing.
    """
    shape = tuple((model, tuple(filters)) for model, filters in wanted)
    sql, fields = _statement(connection.vendor, shape)
    params = []
    for (_, filters), filter_fields in zip(wanted, fields, strict=True):
        for field, value in zip(filter_fields, filters.values(), strict=True):
            params.append(field.get_db_prep_value(getattr(value, "pk", value), connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchmany(2)
    if len(rows) != 1:
        if len(rows) > 1:
            raise ValueError("fetch_together: a filter matched more than one row")
        return None
    found, at = [], 0
    for model, _ in wanted:
        names = _names(model)
        found.append(
            model.from_db(connection.alias, list(names), converted(model, names, rows[0][at : at + len(names)]))
        )
        at += len(names)
    return found


def _names(model: type[models.Model]) -> tuple[str, ...]:
    return tuple(field.attname for field in model._meta.concrete_fields)


def _filter_field(model: type[models.Model], name: str) -> models.Field:
    if name == "pk":
        return model._meta.pk
    for field in model._meta.concrete_fields:
        if name in (field.name, field.attname):
            return field
    raise ValueError(f"fetch_together: {model.__name__} has no concrete field {name!r}")


@cache
def _statement(
    vendor: str, shape: tuple[tuple[type[models.Model], tuple[str, ...]], ...]
) -> tuple[str, list[list[models.Field]]]:
    quote = connection.ops.quote_name
    columns, tables, conditions, fields = [], [], [], []
    for number, (model, filter_names) in enumerate(shape):
        alias = f"t{number}"
        tables.append(f"{quote(model._meta.db_table)} {alias}")
        columns += [f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields]
        wanted = [_filter_field(model, name) for name in filter_names]
        conditions += [f"{alias}.{quote(field.column)} = %s" for field in wanted]
        fields.append([field.target_field if isinstance(field, RelatedField) else field for field in wanted])
    where = " AND ".join(conditions) or "1 = 1"
    return f"SELECT {', '.join(columns)} FROM {', '.join(tables)} WHERE {where}", fields  # noqa: S608 - metadata names


def converted(model: type[models.Model], names: tuple[str, ...] | list[str], raw: Any) -> list[Any]:
    """Database values as the ORM's compiler hands them to from_db: through the same converters
    (e.g. SQLite's text date-times and integer booleans)."""
    converters = _converters(connection.vendor, model, tuple(names))
    return [_convert(value, converter_list) for value, converter_list in zip(raw, converters, strict=True)]


def _convert(value: Any, converter_list: list[tuple[Any, Any]]) -> Any:
    for converter, column in converter_list:
        value = converter(value, column, connection)
    return value


@cache
def _converters(vendor: str, model: type[models.Model], names: tuple[str, ...]) -> list[list[tuple[Any, Any]]]:
    fields = {field.attname: field for field in model._meta.concrete_fields}
    result = []
    for name in names:
        column = fields[name].get_col(model._meta.db_table)
        result.append(
            [(c, column) for c in [*connection.ops.get_db_converters(column), *column.get_db_converters(connection)]]
        )
    return result
