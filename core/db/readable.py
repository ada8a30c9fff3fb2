"""Reading columns whose stored value Python may not be able to represent.

PostgreSQL stores timestamps from 4713 BC to 294276 AD; Python's datetime holds years 1
to 9999, and psycopg raises `DataError` when it meets anything else. One such row in a
result fails the whole query: a list page, a health figure or a batch claim. Columns a
sender controls (an event's `occurred_at`) are therefore read through `readable_timestamp`,
which gives NULL for a value Python cannot hold, or as text (`as_stored_text`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db.models import Case, DateTimeField, F, Q, TextField, When
from django.db.models.functions import Cast

# A day inside Python's range at each end, so a value converted to any time zone
# still fits.
READABLE_TIMESTAMP_MIN = datetime(1, 1, 2, tzinfo=UTC)
READABLE_TIMESTAMP_MAX = datetime(9999, 12, 30, tzinfo=UTC)


def readable_timestamp_sql(column: str) -> str:
    """SQL for `column`, or NULL when Python cannot represent it. The bounds are constants
    of this module (no input reaches the text)."""
    return (
        f"CASE WHEN {column} BETWEEN '{READABLE_TIMESTAMP_MIN.isoformat()}'::timestamptz"
        f" AND '{READABLE_TIMESTAMP_MAX.isoformat()}'::timestamptz THEN {column} END"
    )


def readable_timestamp(field: str) -> Case:
    """The ORM form of `readable_timestamp_sql`, for annotations."""
    return Case(
        When(
            Q(**{f"{field}__gte": READABLE_TIMESTAMP_MIN, f"{field}__lte": READABLE_TIMESTAMP_MAX}),
            then=F(field),
        ),
        default=None,
        output_field=DateTimeField(),
    )


def as_stored_text(field: str) -> Cast:
    """A column as PostgreSQL prints it (any timestamp, any JSON depth or number size),
    for pages that show a stored row without loading it into Python objects."""
    return Cast(field, output_field=TextField())
