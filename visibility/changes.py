"""The change feed: what changed for an actor, in commit order, with no gaps.

Changes are recorded by database triggers (`visibility/change_triggers.py`) into
`visibility_change`, one row per (object, account whose view changed), in the writing
transaction; `visibility.services.changes.stamp_positions` numbers them after commit so
that positions become visible only in increasing order, and "after the last position I
read" never skips a change (the proof: docs/ARCHITECTURE.md, "The change feed").

Each change is answered with the object as it is *now* for the actor (through the
selectors, so scoped like any read), or a tombstone when the actor no longer sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from django.db.models import Max, Model, Q

from accounts.models import TokenScope
from accounts.scoping import Actor
from visibility import rows as rows_of
from visibility import selectors
from visibility.flags import FLAG_FIELDS
from visibility.models import (
    ChangeFeedMarks,
    Document,
    Invoice,
    InvoiceLine,
    Order,
    OrderLine,
    Shipment,
    VisibilityChange,
)
from visibility.rows import Row, grouped
from visibility.services.changes import stamp_positions

MAX_PAGE = 1000
DEFAULT_PAGE = 100
POSITION_MAX = 2**63 - 1
NOW = "now"

# Which token scope sees each kind (freight charges are part of the shipment, shown with
# the finance grant by the shipment's own serializer).
SCOPE_OF_KIND = {
    VisibilityChange.Kind.SHIPMENT: TokenScope.SHIPMENTS,
    VisibilityChange.Kind.ORDER: TokenScope.SHIPMENTS,
    VisibilityChange.Kind.INVOICE: TokenScope.INVOICES,
    VisibilityChange.Kind.DOCUMENT: TokenScope.DOCUMENTS,
}


class CursorExpired(Exception):
    """The cursor is below the pruned positions (retention): changes after it may be gone,
    so the client must take a new full copy and follow the feed from `after=now`."""

    def __init__(self, pruned_through: int) -> None:
        super().__init__(f"changes up to position {pruned_through} were pruned")
        self.pruned_through = pruned_through


@dataclass
class ChangeEntry:
    kind: str
    key: str
    position: int
    # The object as the actor now sees it (its row and the rows of what its detail shows,
    # `_LOADERS`); None for a tombstone.
    current: Row | None = None
    # For a tombstone: the object no longer exists at all (else it left the actor's view).
    deleted: bool = False


@dataclass
class ChangePage:
    entries: list[ChangeEntry] = field(default_factory=list)
    next: int = 0


def latest_position() -> int:
    """The last position given so far (`after=now` starts there: a partner takes it
    before a full copy, then follows the feed from it)."""
    stamp_positions()
    return VisibilityChange.objects.aggregate(latest=Max("position"))["latest"] or 0


def _accounts_by_kind(actor: Actor) -> dict[str, list[int]]:
    by_scope = {
        scope: selectors.visible_accounts(actor, scope) for scope in set(SCOPE_OF_KIND.values())
    }
    return {kind: by_scope[scope] for kind, scope in SCOPE_OF_KIND.items()}


def change_page(actor: Actor, *, after: int = 0, limit: int = DEFAULT_PAGE) -> ChangePage:
    """The changes the actor may see after position `after`, oldest first, at most
    `limit` rows of the feed; several changes of one object in the page are given once,
    at its latest position. `next` resumes after the page; a page with no changes means
    caught up for now (`next` is then `after`). Raises `CursorExpired` when `after` is
    below the pruned positions."""
    pruned_through = (
        ChangeFeedMarks.objects.filter(id=1).values_list("pruned_through", flat=True).first() or 0
    )
    if after < pruned_through:
        raise CursorExpired(pruned_through)
    stamp_positions()
    accounts = _accounts_by_kind(actor)
    visible = Q()
    for kind, account_ids in accounts.items():
        visible |= Q(kind=kind, customer_account_id__in=account_ids)
    rows = list(
        VisibilityChange.objects.filter(visible, position__gt=after)
        .order_by("position")
        .values_list("position", "kind", "object_key")[:limit]
    )
    latest: dict[tuple[str, str], int] = {}
    for position, kind, key in rows:
        assert position is not None  # filtered: position > after
        latest.pop((kind, key), None)  # re-inserted last: the dict keeps position order
        latest[(kind, key)] = position
    entries = [ChangeEntry(kind, key, position) for (kind, key), position in latest.items()]
    _attach_current(actor, entries)
    return ChangePage(entries=entries, next=(rows[-1][0] or after) if rows else after)


def _attach_current(actor: Actor, entries: list[ChangeEntry]) -> None:
    for kind, loader in _LOADERS.items():
        wanted = [entry for entry in entries if entry.kind == kind]
        if not wanted:
            continue
        current = loader(actor, {entry.key for entry in wanted})
        missing = {entry.key for entry in wanted if entry.key not in current}
        existing = _existing_keys(kind, missing) if missing else set()
        for entry in wanted:
            entry.current = current.get(entry.key)
            entry.deleted = entry.current is None and entry.key not in existing


# Each object of a page is read as a row (`values()`), with the rows of what its detail
# shows, one query per kind and per related collection whatever the page size: building
# model instances and serializers per object cost ~1 ms an entry at 1,000,000 shipments
# (docs/BENCHMARKS.md). visibility/api/changes.py shapes the rows as the REST details.

SHIPMENT_COLUMNS = (
    "id",
    "shipment_id",
    "account_number",
    "load_id",
    "status",
    "status_at",
    "carrier_scac",
    "carrier_name",
    "mode",
    "service_level",
    "tracking_numbers",
    "origin",
    "destination",
    "planned_pickup_at",
    "planned_delivery_at",
    "eta",
    "eta_window_start",
    "eta_window_end",
    "eta_basis",
    "promised_date",
    "delayed",
    "at_risk",
    "overdue",
    "late_by_hours",
    "tracking_stale",
    "pod_missing",
    "not_invoiced",
    "last_heard_at",
    "last_heard_source",
    "delivered_at",
    "received_by",
    "last_event_at",
)
ORDER_COLUMNS = (
    "id",
    "order_number",
    "customer_account__number",
    "customer_po",
    "order_date",
    "requested_delivery_date",
    "ship_from",
    "ship_to",
    "status",
    "at_risk",
    "cancelled_at",
    "cancel_reason",
    "last_event_at",
)
INVOICE_COLUMNS = (
    "id",
    "invoice_number",
    "customer_account__number",
    "derived_status",
    "order_numbers",
    "shipment_ids",
    "issue_date",
    "due_date",
    "currency",
    "total_amount",
    "paid_at",
    "paid_amount",
)
DOCUMENT_COLUMNS = (
    "document_id",
    "document_type",
    "customer_account__number",
    "shipment__shipment_id",
    "order__order_number",
    "invoice__invoice_number",
    "filename",
    "content_type",
    "size",
    "sha256",
    "occurred_at",
)


def _shipments(actor: Actor, keys: Collection[str]) -> dict[str, Row]:
    rows = list(
        selectors.shipments_for(actor).filter(shipment_id__any=keys).values(*SHIPMENT_COLUMNS)
    )
    if not rows:
        return {}
    ids = [row["id"] for row in rows]
    history = rows_of.history_rows(ids)
    order_links = grouped(
        selectors.order_links_of_shipments(actor, ids).values(
            "shipment_id", "order__order_number", "order__customer_po", "line_numbers"
        ),
        "shipment_id",
    )
    charges = rows_of.charge_rows(actor, ids)
    exceptions: list[Row] = [
        dict(record)
        for record in selectors.open_exceptions(actor)
        .filter(shipment_id__any=ids)
        .prefetch_related(None)
        .values("id", "shipment_id", "shipment__shipment_id", "reason", "status", "opened_at")
    ]
    notes = grouped(
        selectors.notes_shown_to(actor)
        .filter(exception_id__any=[record["id"] for record in exceptions])
        .values("exception_id", "text", "visible_to_customer", "created_at"),
        "exception_id",
    )
    for record in exceptions:
        record["notes"] = notes.get(record["id"], [])
    exceptions_by_shipment = grouped(exceptions, "shipment_id")
    for row in rows:
        row["history"] = history.get(row["id"], [])
        row["order_links"] = order_links.get(row["id"], [])
        row["charges"] = charges.get(row["id"], [])
        row["exceptions"] = exceptions_by_shipment.get(row["id"], [])
    return {row["shipment_id"]: row for row in rows}


def _orders(actor: Actor, keys: Collection[str]) -> dict[str, Row]:
    rows = list(selectors.orders_for(actor).filter(order_number__any=keys).values(*ORDER_COLUMNS))
    if not rows:
        return {}
    ids = [row["id"] for row in rows]
    lines = grouped(
        OrderLine.objects.filter(order_id__any=ids)
        .order_by("order_id", "line_number")
        .values("order_id", "line_number", "sku", "description", "quantity", "uom", "weight_kg"),
        "order_id",
    )
    shipment_links = grouped(
        selectors.shipment_links_of_orders(actor, ids).values(
            "order_id",
            "line_numbers",
            *(f"shipment__{name}" for name in ("shipment_id", "status", "eta", *FLAG_FIELDS)),
        ),
        "order_id",
    )
    invoices: dict[str, list[Row]] = {}
    numbers = [row["order_number"] for row in rows]
    for invoice in selectors.invoices_of_orders(actor, numbers).values(*INVOICE_COLUMNS):
        for number in invoice["order_numbers"]:
            invoices.setdefault(number, []).append(invoice)
    for row in rows:
        row["lines"] = lines.get(row["id"], [])
        row["shipment_links"] = shipment_links.get(row["id"], [])
        row["invoices"] = invoices.get(row["order_number"], [])
    return {row["order_number"]: row for row in rows}


def _invoices(actor: Actor, keys: Collection[str]) -> dict[str, Row]:
    rows = list(
        selectors.with_invoice_status(selectors.invoices_for(actor))
        .filter(invoice_number__any=keys)
        .values(*INVOICE_COLUMNS)
    )
    lines = grouped(
        InvoiceLine.objects.filter(invoice_id__any=[row["id"] for row in rows])
        .order_by("invoice_id", "position")
        .values("invoice_id", "position", "description", "amount"),
        "invoice_id",
    )
    for row in rows:
        row["lines"] = lines.get(row["id"], [])
    return {row["invoice_number"]: row for row in rows}


def _documents(actor: Actor, keys: Collection[str]) -> dict[str, Row]:
    return {
        row["document_id"]: row
        for row in selectors.documents_for(actor)
        .filter(document_id__any=keys)
        .values(*DOCUMENT_COLUMNS)
    }


_LOADERS: dict[str, Callable[[Actor, Collection[str]], Mapping[str, Row]]] = {
    VisibilityChange.Kind.SHIPMENT: _shipments,
    VisibilityChange.Kind.ORDER: _orders,
    VisibilityChange.Kind.INVOICE: _invoices,
    VisibilityChange.Kind.DOCUMENT: _documents,
}

_MODELS: dict[str, tuple[type[Model], str]] = {
    VisibilityChange.Kind.SHIPMENT: (Shipment, "shipment_id"),
    VisibilityChange.Kind.ORDER: (Order, "order_number"),
    VisibilityChange.Kind.INVOICE: (Invoice, "invoice_number"),
    VisibilityChange.Kind.DOCUMENT: (Document, "document_id"),
}


def _existing_keys(kind: str, keys: set[str]) -> set[str]:
    """Which of the keys still exist, for anyone: an unscoped read that answers only
    "deleted or not" for objects the actor's feed already named."""
    model, key_field = _MODELS[kind]
    return set(
        model._default_manager.filter(**{f"{key_field}__any": keys}).values_list(
            key_field, flat=True
        )
    )
