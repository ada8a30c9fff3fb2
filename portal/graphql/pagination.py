"""Relay-style connections for the GraphQL lists: `first`/`after`, opaque cursors on a key
that never changes (like REST's cursor pages), and `pageInfo`.

A cursor is the list's name and its ordering key, JSON in base64url; a cursor of another
list, or one that is not a cursor at all, is a `BAD_USER_INPUT` error naming `after`. A
`first` over `MAX_PAGE_SIZE` is a `LIMIT_EXCEEDED` error, never a silent cap."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import strawberry
from django.db.models import Model, Q, QuerySet

from portal.graphql.errors import bad_user_input, limit_exceeded
from visibility import selectors

MAX_PAGE_SIZE = 200
MAX_KEY_LENGTH = 128
DEFAULT_PAGE_SIZE = 50

Row = TypeVar("Row", bound=Model | dict[str, Any])


@strawberry.type
class PageInfo:
    has_next_page: bool
    # Connections page forwards only: true when `after` was given.
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@dataclass(frozen=True)
class Ordering:
    """A list's order: `fields` descending or ascending, each a key that never changes
    for a row (an id, a business key, the time an exception was opened), the last one
    unique."""

    name: str
    fields: tuple[str, ...]
    descending: bool

    def sort_keys(self) -> list[str]:
        return [f"-{field}" if self.descending else field for field in self.fields]

    def key(self, row: Model | dict[str, Any]) -> list[Any]:
        """The row's values of the ordering's fields: a model instance's, or a row's read
        with `values()` (the shipment connection's: portal/graphql/nodes.py)."""
        if isinstance(row, dict):
            return [_encode_value(row[field]) for field in self.fields]
        return [_encode_value(getattr(row, field)) for field in self.fields]

    def after(self, values: Sequence[Any]) -> Q:
        """Rows after `values` in this order (keyset: `(a, b) > (x, y)` spelled out)."""
        lookup = "lt" if self.descending else "gt"
        condition = Q()
        equal = Q()
        for field, value in zip(self.fields, values, strict=True):
            condition |= equal & Q(**{f"{field}__{lookup}": value})
            equal &= Q(**{field: value})
        return condition

    def cursor(self, row: Model | dict[str, Any]) -> str:
        raw = json.dumps([self.name, *self.key(row)], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, cursor: str) -> list[Any]:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            name, *values = json.loads(base64.urlsafe_b64decode(padded.encode()))
            if name != self.name or len(values) != len(self.fields):
                raise ValueError(cursor)
            return [
                _decode_value(field, value)
                for field, value in zip(self.fields, values, strict=True)
            ]
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            raise bad_user_input(
                f"after: not a cursor of this list ({self.name}).", argument="after"
            ) from None


def _encode_value(value: Any) -> Any:
    return {"t": value.isoformat()} if isinstance(value, datetime) else value


def _decode_value(field: str, value: Any) -> Any:
    """A cursor's value for `field`, of the field's kind: a hand-made cursor must not reach
    the database with a value the column cannot compare (an error, not an answer)."""
    if field.endswith("_at"):
        if not isinstance(value, dict):
            raise ValueError(value)
        return datetime.fromisoformat(value["t"])
    if field == "id":
        # Keys are ids: a bigint's range (beyond it PostgreSQL would refuse the comparison).
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
            raise ValueError(value)
        return value
    # A business key (`ordering: "shipment_id"`): text as the models store it.
    if not isinstance(value, str) or not 0 < len(value) <= MAX_KEY_LENGTH or "\x00" in value:
        raise ValueError(value)
    return value


def checked_first(first: int) -> int:
    if first < 0:
        raise bad_user_input("first: must be 0 or more.", argument="first")
    if first > MAX_PAGE_SIZE:
        raise limit_exceeded(
            f"first: at most {MAX_PAGE_SIZE} items a page; page with `after`.",
            argument="first",
            maximum=MAX_PAGE_SIZE,
        )
    return first


Node = TypeVar("Node")


@dataclass
class Page(Generic[Row]):
    rows: list[Row]
    cursors: list[str]
    page_info: PageInfo


def page_of(
    queryset: QuerySet[Any, Row], ordering: Ordering, *, first: int, after: str | None
) -> Page[Row]:
    """One page of `queryset` in `ordering`: `first` rows after the cursor `after`, and
    whether more follow (one row more is read, no count)."""
    size = checked_first(first)
    rows = selectors.keyset_page(
        queryset,
        ordering=ordering.sort_keys(),
        after=ordering.after(ordering.decode(after)) if after else None,
        size=size,
    )
    has_next = len(rows) > size
    rows = rows[:size]
    cursors = [ordering.cursor(row) for row in rows]
    return Page(
        rows=rows,
        cursors=cursors,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=bool(after),
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        ),
    )


def edges_of(page: Page[Row], node: Callable[[Row], Any], edge: Callable[..., Any]) -> list[Any]:
    return [
        edge(cursor=cursor, node=node(row))
        for cursor, row in zip(page.cursors, page.rows, strict=True)
    ]
