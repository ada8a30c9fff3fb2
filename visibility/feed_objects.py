"""The change feed's objects as JSON text built by PostgreSQL: one statement per kind
(after the scoped keys are read) gives each object of a page in the shape of its REST
detail, nested lists aggregated in SQL, so Python writes bytes instead of visiting every
value of ~1,700 objects and ~26,000 rows a page of 1,000 (docs/BENCHMARKS.md).

The shapes are not defined here: the API layer derives them from the serializers
(`visibility/api/feed_shapes.py`, one `JsonField` per serializer field, with how its
value is written), so the REST details, the OpenAPI document and the feed share one
field list. This module only knows how to read each field (its column, or the SQL of a
field the serializer computes: `SPECIAL` below) and which rows the actor may see: every
part is narrowed by the selector that scopes it (`WHERE id IN (<the selector's query>)`),
so the per-reader rules (the finance grant, customer-visible notes, the actor's orders)
stay in visibility/selectors.py. tests/visibility/test_change_feed_objects.py compares
every object with its REST detail for three actors.

Times are written as DRF writes them in UTC (the API always answers in UTC:
portal/middleware.py): ISO 8601, microseconds only when not zero, "Z".
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections, router
from django.db.models import F, Field, Model, QuerySet

from accounts.scoping import Actor
from visibility import selectors
from visibility.flags import shipment_flags_sql, slip_in_words_sql
from visibility.models import (
    Document,
    Invoice,
    Order,
    Shipment,
    ShipmentException,
    VisibilityChange,
)


@dataclass(frozen=True)
class JsonField:
    """One key of an object: `source` is the column it reads (a field's `source`), or
    the name of a computed part (`SPECIAL`) when `written` is "special"; `written` is
    "value" (the column's own JSON value), "datetime", "date" or "decimal:<places>"."""

    key: str
    source: str
    written: str


Shape = Sequence[JsonField]


@dataclass(frozen=True)
class FeedShapes:
    """What each kind's object holds, from the serializers (visibility/api/feed_shapes.py)."""

    shipment: Shape
    milestone: Shape
    eta_update: Shape
    shipment_order: Shape
    exception: Shape
    note: Shape
    charge: Shape
    order: Shape
    order_line: Shape
    order_shipment: Shape
    invoice_summary: Shape
    invoice: Shape
    invoice_line: Shape
    document: Shape


def _datetime(column: str) -> str:
    # The timestamp's own text (DateStyle ISO, PostgreSQL's default) when it has no
    # fraction: ~40 % cheaper than to_char, which gives the six digits Python writes.
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"CASE WHEN date_trunc('second', {column}) = {column}"
        f" THEN translate({utc}::text, ' ', 'T') || 'Z'"
        f" ELSE to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || 'Z' END"
    )


def _written(column: str, written: str) -> str:
    if written == "value":
        return column
    if written == "datetime":
        return _datetime(column)
    if written == "date":
        return f"to_char({column}, 'YYYY-MM-DD')"
    if written.startswith("decimal:"):
        return f"round({column}, {int(written.removeprefix('decimal:'))})::text"
    raise ValueError(f"no SQL for a field written as {written!r}")


def _labels_sql(model: type[Model], field_name: str, column: str) -> str:
    """A choice's label, as `get_<field>_display` gives it (the value when unknown)."""
    field = model._meta.get_field(field_name)
    assert isinstance(field, Field)
    cases = " ".join(
        f"WHEN {_literal(str(value))} THEN {_literal(str(label))}"
        for value, label in field.flatchoices
    )
    return f"CASE {column} {cases} ELSE {column} END"


def _literal(text: str) -> str:
    """A string constant in the statement (a `%` doubled: the statement has parameters)."""
    return "'" + text.replace("'", "''").replace("%", "%%") + "'"


def _object_sql(shape: Shape, alias: str, special: dict[str, str]) -> str:
    """`json_build_object` of a shape over the row `alias` (at most 50 keys: PostgreSQL's
    100 arguments)."""
    pairs = []
    for field in shape:
        if field.written == "special":
            expression = special[field.source]
        else:
            expression = _written(f"{alias}.{field.source}", field.written)
        pairs.append(f"{_literal(field.key)}, {expression}")
    return "json_build_object(" + ", ".join(pairs) + ")"


def _ids_sql(queryset: QuerySet[Any]) -> tuple[str, list[Any]]:
    """The ids a selector's queryset gives, as a subquery with its parameters."""
    return _rows_sql(queryset.values("id"))


def _rows_sql(rows: QuerySet[Any]) -> tuple[str, list[Any]]:
    """A selector's `values()` as a subquery (each column named as in `values()`) with
    its parameters; the order is the aggregate's to give."""
    sql, params = rows.order_by().query.sql_with_params()
    return sql, list(params)


def _json_rows(model: type[Model], sql: str, params: list[Any]) -> dict[str, str]:
    # Raw SQL bypasses the router: ask it, so a page served by a replica reads one copy.
    with connections[router.db_for_read(model)].cursor() as cursor:
        cursor.execute(sql, params)
        return {key: text for key, text in cursor.fetchall()}


def _appended(object_sql: str, key: str, list_sql: str, *, when_empty: str | None) -> str:
    """The object's text with `key` added last: the list, or `when_empty` (SQL text)
    when it has no row (None: the key omitted, as a detail omits `freight_charges` and
    `invoices` then)."""
    added = f"left({object_sql}::text, -1) || ', \"{key}\" : ' || {list_sql}::text || '}}'"
    if when_empty is not None:
        return (
            f"left({object_sql}::text, -1) || ', \"{key}\" : '"
            f" || coalesce({list_sql}::text, {when_empty}) || '}}'"
        )
    return f"CASE WHEN {list_sql} IS NULL THEN {object_sql}::text ELSE {added} END"


def shipments_json(actor: Actor, keys: Collection[str], shapes: FeedShapes) -> dict[str, str]:
    """Each shipment the actor sees among `keys`, as its REST detail's JSON text."""
    accounts = selectors.visible_accounts(actor)
    ids = list(
        selectors.shipments_for(actor).filter(shipment_id__any=keys).values_list("id", flat=True)
    )
    if not ids:
        return {}
    links_sql, links_params = _rows_sql(
        selectors.order_links_of_shipments(actor, ids).values(
            "id",
            "shipment_id",
            "line_numbers",
            order_number=F("order__order_number"),
            customer_po=F("order__customer_po"),
        )
    )
    charges_sql, charges_params = _rows_sql(
        selectors.charges_of_shipments(actor, ids).values(
            "id", "shipment_id", *(field.source for field in shapes.charge)
        )
    )
    exceptions_sql, exceptions_params = _rows_sql(
        selectors.open_exceptions(actor)
        .filter(shipment_id__any=ids)
        .values("id", "shipment_id", "reason", "status", "opened_at")
    )
    notes_sql, notes_params = _rows_sql(
        selectors.notes_shown_to(actor)
        .filter(exception__shipment_id__any=ids)
        .values("id", "exception_id", *(field.source for field in shapes.note))
    )
    eta_kinds = ", ".join(_literal(kind) for kind in selectors.ETA_KINDS)
    special = {
        "account_number": "account.number",
        "get_status_display": _labels_sql(Shipment, "status", "s.status"),
        "carrier": "CASE WHEN s.carrier_scac <> ''"
        " THEN json_build_object('scac', s.carrier_scac, 'name', s.carrier_name) END",
        "late_by": slip_in_words_sql("s.late_by_hours"),
        "flags": shipment_flags_sql("s"),
        "milestones": "coalesce(history.milestones, '[]')",
        "eta_history": "coalesce(history.eta_updates, '[]')",
        "visible_order_links": "coalesce(order_links.list, '[]')",
    }
    exception_special = {
        "shipment.shipment_id": "s.shipment_id",
        "get_reason_display": _labels_sql(ShipmentException, "reason", "x.reason"),
        "get_status_display": _labels_sql(ShipmentException, "status", "x.status"),
        "shown_notes": "coalesce(notes.list, '[]')",
    }
    milestone = _object_sql(shapes.milestone, "e", {"milestone": "nullif(e.milestone, '')"})
    note = _object_sql(shapes.note, "n", {})
    order_link = _object_sql(
        shapes.shipment_order,
        "l",
        {"order.order_number": "l.order_number", "order.customer_po": "l.customer_po"},
    )
    shipment = _object_sql(shapes.shipment, "s", special)
    with_exceptions = _appended(shipment, "exceptions", "exceptions.list", when_empty="'[]'")
    whole = _appended(f"({with_exceptions})", "freight_charges", "charges.list", when_empty=None)
    sql = f"""
        WITH page AS (SELECT unnest(%s::bigint[]) AS id)
        SELECT s.shipment_id, {whole}
        FROM visibility_shipment s
        JOIN page ON page.id = s.id
        LEFT JOIN (
            SELECT link.shipment_id, min(number.number) AS number
            FROM visibility_shipmentaccount link
            JOIN accounts_customeraccount number ON number.id = link.customer_account_id
            WHERE link.shipment_id IN (SELECT id FROM page)
              AND link.customer_account_id = ANY(%s)
            GROUP BY link.shipment_id
        ) account ON account.shipment_id = s.id
        LEFT JOIN (
            SELECT e.shipment_id,
                json_agg({milestone} ORDER BY e.occurred_at, e.id)
                    FILTER (WHERE e.kind = 'milestone') AS milestones,
                json_agg({_object_sql(shapes.eta_update, "e", {})} ORDER BY e.occurred_at, e.id)
                    FILTER (WHERE e.kind IN ({eta_kinds}) OR e.eta IS NOT NULL
                            OR e.eta_window_start IS NOT NULL) AS eta_updates
            FROM visibility_shipmentevent e
            WHERE e.shipment_id IN (SELECT id FROM page)
            GROUP BY e.shipment_id
        ) history ON history.shipment_id = s.id
        LEFT JOIN (
            SELECT l.shipment_id, json_agg({order_link} ORDER BY l.order_number, l.id) AS list
            FROM ({links_sql}) l
            GROUP BY l.shipment_id
        ) order_links ON order_links.shipment_id = s.id
        LEFT JOIN (
            SELECT c.shipment_id,
                json_agg({_object_sql(shapes.charge, "c", {})} ORDER BY c.occurred_at, c.id) AS list
            FROM ({charges_sql}) c
            GROUP BY c.shipment_id
        ) charges ON charges.shipment_id = s.id
        LEFT JOIN (
            SELECT x.shipment_id,
                json_agg({_object_sql(shapes.exception, "x", exception_special)}
                    ORDER BY x.opened_at, x.id) AS list
            FROM ({exceptions_sql}) x
            JOIN visibility_shipment s ON s.id = x.shipment_id
            LEFT JOIN (
                SELECT n.exception_id,
                    json_agg({note} ORDER BY n.created_at, n.id) AS list
                FROM ({notes_sql}) n
                GROUP BY n.exception_id
            ) notes ON notes.exception_id = x.id
            GROUP BY x.shipment_id
        ) exceptions ON exceptions.shipment_id = s.id
    """
    params = [
        ids,
        accounts,
        *links_params,
        *charges_params,
        *exceptions_params,
        *notes_params,
    ]
    return _json_rows(Shipment, sql, params)


def orders_json(actor: Actor, keys: Collection[str], shapes: FeedShapes) -> dict[str, str]:
    """Each order the actor sees among `keys`, as its REST detail's JSON text."""
    found = list(
        selectors.orders_for(actor).filter(order_number__any=keys).values_list("id", "order_number")
    )
    if not found:
        return {}
    ids = [order_id for order_id, _ in found]
    links_sql, links_params = _rows_sql(
        selectors.shipment_links_of_orders(actor, ids).values(
            "id", "order_id", "shipment_id", "line_numbers"
        )
    )
    invoices = selectors.invoices_of_orders(actor, [number for _, number in found])
    # Which page order each invoice names, paired here: PostgreSQL knows the length of a
    # constant array, while for `unnest(order_numbers)` it guessed ten groups and compared
    # every order with every invoice (a nested loop, ~100 ms a page of 900 orders).
    page_numbers = {number for _, number in found}
    named = [
        (number, invoice_id, status)
        for invoice_id, status, numbers in invoices.values_list(
            "id", "derived_status", "order_numbers"
        )
        for number in set(numbers) & page_numbers
    ]
    special = {
        "customer_account.number": "account.number",
        "lines": f"coalesce((SELECT json_agg({_object_sql(shapes.order_line, 'ol', {})}"
        " ORDER BY ol.line_number, ol.id) FROM visibility_orderline ol"
        " WHERE ol.order_id = o.id), '[]')",
        "shipments": "coalesce(shipment_links.list, '[]')",
    }
    link_special = {
        "shipment.shipment_id": "s.shipment_id",
        "shipment.status": "s.status",
        "shipment.eta": _datetime("s.eta"),
        "shipment.flags": shipment_flags_sql("s"),
    }
    invoice = _object_sql(
        shapes.invoice_summary,
        "i",
        {"customer_account.number": "ia.number", "derived_status": "named.derived_status"},
    )
    order = _object_sql(shapes.order, "o", special)
    whole = _appended(order, "invoices", "invoices.list", when_empty=None)
    sql = f"""
        WITH page AS (SELECT unnest(%s::bigint[]) AS id)
        SELECT o.order_number, {whole}
        FROM visibility_order o
        JOIN page ON page.id = o.id
        JOIN accounts_customeraccount account ON account.id = o.customer_account_id
        LEFT JOIN (
            SELECT l.order_id,
                json_agg({_object_sql(shapes.order_shipment, "l", link_special)}
                    ORDER BY s.shipment_id, l.id) AS list
            FROM ({links_sql}) l JOIN visibility_shipment s ON s.id = l.shipment_id
            GROUP BY l.order_id
        ) shipment_links ON shipment_links.order_id = o.id
        LEFT JOIN (
            SELECT named.order_number,
                json_agg({invoice} ORDER BY i.issue_date DESC, i.id DESC) AS list
            FROM unnest(%s::text[], %s::bigint[], %s::text[])
                AS named(order_number, id, derived_status)
            JOIN visibility_invoice i ON i.id = named.id
            JOIN accounts_customeraccount ia ON ia.id = i.customer_account_id
            GROUP BY named.order_number
        ) invoices ON invoices.order_number = o.order_number
    """
    params = [
        ids,
        *links_params,
        [number for number, _, _ in named],
        [invoice_id for _, invoice_id, _ in named],
        [status for _, _, status in named],
    ]
    return _json_rows(Order, sql, params)


def invoices_json(actor: Actor, keys: Collection[str], shapes: FeedShapes) -> dict[str, str]:
    """Each invoice the actor sees among `keys`, as its REST detail's JSON text."""
    found = list(
        selectors.with_invoice_status(selectors.invoices_for(actor))
        .filter(invoice_number__any=keys)
        .values_list("id", "derived_status")
    )
    if not found:
        return {}
    special = {
        "customer_account.number": "account.number",
        "derived_status": "status.derived_status",
        "lines": f"coalesce((SELECT json_agg({_object_sql(shapes.invoice_line, 'il', {})}"
        " ORDER BY il.position, il.id) FROM visibility_invoiceline il"
        " WHERE il.invoice_id = i.id), '[]')",
    }
    sql = f"""
        SELECT i.invoice_number, {_object_sql(shapes.invoice, "i", special)}::text
        FROM unnest(%s::bigint[], %s::text[]) AS status(id, derived_status)
        JOIN visibility_invoice i ON i.id = status.id
        JOIN accounts_customeraccount account ON account.id = i.customer_account_id
    """
    params = [[row[0] for row in found], [row[1] for row in found]]
    return _json_rows(Invoice, sql, params)


def documents_json(actor: Actor, keys: Collection[str], shapes: FeedShapes) -> dict[str, str]:
    """Each document the actor sees among `keys`, as it is filed (`DocumentSerializer`)."""
    ids_sql, ids_params = _ids_sql(selectors.documents_for(actor).filter(document_id__any=keys))
    special = {
        "customer_account.number": "account.number",
        "shipment.shipment_id": "s.shipment_id",
        "order.order_number": "o.order_number",
        "invoice.invoice_number": "i.invoice_number",
    }
    sql = f"""
        SELECT d.document_id, {_object_sql(shapes.document, "d", special)}::text
        FROM ({ids_sql}) visible
        JOIN visibility_document d ON d.id = visible.id
        JOIN accounts_customeraccount account ON account.id = d.customer_account_id
        LEFT JOIN visibility_shipment s ON s.id = d.shipment_id
        LEFT JOIN visibility_order o ON o.id = d.order_id
        LEFT JOIN visibility_invoice i ON i.id = d.invoice_id
    """
    return _json_rows(Document, sql, ids_params)


OBJECTS_JSON = {
    VisibilityChange.Kind.SHIPMENT: shipments_json,
    VisibilityChange.Kind.ORDER: orders_json,
    VisibilityChange.Kind.INVOICE: invoices_json,
    VisibilityChange.Kind.DOCUMENT: documents_json,
}
