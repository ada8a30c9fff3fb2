"""One UPDATE for many rows with different values.

Django's `bulk_update` writes a CASE expression per field and row, which costs more
in building the SQL than PostgreSQL spends running it; projecting a batch of a
thousand events re-derives up to a thousand shipments. This joins the new values as
arrays instead: `UPDATE t SET f = v.f FROM unnest(%s::type[], ...) AS v(id, f, ...)`.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.postgres.fields import ArrayField
from django.db import connection, models


def bulk_update_rows(objects: Sequence[models.Model], field_names: Sequence[str]) -> int:
    """Write `field_names` of `objects` (all of one model, saved before) in one statement."""
    if not objects:
        return 0
    model = type(objects[0])
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in field_names]
    primary_key = model._meta.pk
    columns = [primary_key, *fields]
    arrays = [[_prepared(column, obj) for obj in objects] for column in columns]
    # unnest() of an array of a domain or JSON type needs the array type spelled out.
    # unnest() flattens an array of arrays, so array columns travel as array literals.
    casts = ["%s::text[]" if isinstance(column, ArrayField)
             else f"%s::{column.db_type(connection)}[]" for column in columns]
    names = [quote(column.column) for column in columns]
    table = quote(model._meta.db_table)
    assignments = ", ".join(
        f"{name} = v.{name}::{column.db_type(connection)}" if isinstance(column, ArrayField)
        else f"{name} = v.{name}"
        for name, column in zip(names[1:], fields, strict=True)
    )
    sql = (
        f"UPDATE {table} SET {assignments} "
        f"FROM unnest({', '.join(casts)}) AS v({', '.join(names)}) "
        f"WHERE {table}.{names[0]} = v.{names[0]}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)
        return cursor.rowcount


def _prepared(column: models.Field, obj: models.Model):
    value = getattr(obj, column.attname)
    if isinstance(column, ArrayField):
        return None if value is None else _array_literal(value)
    return column.get_db_prep_save(value, connection)


def _array_literal(values: list) -> str:
    """A one-dimensional PostgreSQL array literal: {"a","b\\"c"}."""
    quoted = (
        "NULL" if value is None
        else '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        for value in values
    )
    return "{" + ",".join(quoted) + "}"
