"""One UPDATE for many rows with different values.

Django's `bulk_update` writes a CASE expression per field and row, which costs more
in building the SQL than PostgreSQL spends running it; projecting a batch of a
thousand events re-derives up to a thousand shipments. This joins the new values as
arrays instead: `UPDATE t SET f = v.f FROM unnest(%s::type[], ...) AS v(id, f, ...)`.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    arrays = [
        [column.get_db_prep_save(getattr(obj, column.attname), connection) for obj in objects]
        for column in columns
    ]
    # unnest() of an array of a domain or JSON type needs the array type spelled out.
    casts = [f"%s::{column.db_type(connection)}[]" for column in columns]
    names = [quote(column.column) for column in columns]
    table = quote(model._meta.db_table)
    assignments = ", ".join(f"{name} = v.{name}" for name in names[1:])
    sql = (
        f"UPDATE {table} SET {assignments} "
        f"FROM unnest({', '.join(casts)}) AS v({', '.join(names)}) "
        f"WHERE {table}.{names[0]} = v.{names[0]}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, arrays)
        return cursor.rowcount
