""" "What happened to event X": one event followed through what the database records.

A selector for the platform admin's search (portal/platform_views.py, `event_trace_page`):
from an event id (`evt-1` or `source:evt-1`) or an intake request's correlation id
(`X-Request-ID`, `InboxEvent.request_id`) to

- the inbox row: when it was received, from which source, its state, attempts, error;
- the batch that projected it (`InboxEvent.batch_id`, the `batch projected` log line's id)
  and when that batch claimed it;
- what it changed: the shipment, order, invoice, document or charge it names, and whether
  this event is the one their stored snapshot, history facts or payment came from;
- the notifications that batch recorded for those objects (`Notification.batch_id`), with
  each webhook delivery attempt.

Every lookup is by an index: the inbox by `inbox_event_id`, `inbox_source_event_id` or
`inbox_request_id`, objects by their unique keys, history facts by
`shipment_event_unique`, notifications by `notification_once` (shipment_ref first).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from core.db.readable import as_stored_text
from integration.models import InboxEvent, event_key
from visibility.models import (
    Document,
    FreightCharge,
    Invoice,
    Notification,
    Order,
    Shipment,
    ShipmentEvent,
    WebhookDelivery,
)

# A request carries at most 1,000 events (intake's MAX_BATCH_EVENTS): a page shows them all.
MAX_TRACED_EVENTS = 1000
MAX_QUERY_LENGTH = 200


@dataclass
class ChangedObject:
    kind: str  # shipment, order, invoice, document, freight charge
    key: str
    found: bool
    status: str = ""
    # What of the object this event is the source of (its snapshot, history facts, ...).
    from_this_event: list[str] = field(default_factory=list)
    url_name: str = ""  # the portal page that shows it, if any


@dataclass
class EventTrace:
    inbox: dict[str, Any]
    changed: list[ChangedObject]
    notifications: list[dict[str, Any]]


def _inbox_rows(query: str) -> list[dict[str, Any]]:
    source, separator, event_id = query.partition(":")
    matches = Q(event_id=query) | Q(request_id=query)
    if separator and source and event_id:
        matches |= Q(source=source, event_id=event_id)
    rows = (
        InboxEvent.objects.filter(matches)
        .order_by("received_at", "id")
        .values(
            "id",
            "source",
            "event_id",
            "event_type",
            "received_at",
            "processed_at",
            "state",
            "attempts",
            "last_error",
            "waiting_for",
            "request_id",
            "batch_id",
            data_text=as_stored_text("data"),
            occurred_at_text=as_stored_text("occurred_at"),
        )[:MAX_TRACED_EVENTS]
    )
    return [dict(row) for row in rows]


def _named(data: Any, name: str) -> str | None:
    value = data.get(name) if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def _shipment_changes(shipment_id: str, key: str) -> ChangedObject:
    shipment = (
        Shipment.objects.filter(shipment_id=shipment_id)
        .only("id", "shipment_id", "status", "snapshot_event_key", "carrier_event_key")
        .first()
    )
    if shipment is None:
        return ChangedObject("shipment", shipment_id, found=False)
    facts = list(
        ShipmentEvent.objects.filter(shipment=shipment, event_key=key)
        .order_by("kind")
        .values_list("kind", flat=True)
    )
    from_this_event = [f"history fact ({ShipmentEvent.Kind(kind).label})" for kind in facts]
    if shipment.snapshot_event_key == key:
        from_this_event.append("snapshot (current)")
    if shipment.carrier_event_key == key:
        from_this_event.append("carrier (current)")
    return ChangedObject(
        "shipment",
        shipment_id,
        found=True,
        status=shipment.get_status_display(),
        from_this_event=from_this_event,
        url_name="shipment-detail",
    )


def _order_changes(order_number: str, key: str) -> ChangedObject:
    order = (
        Order.objects.filter(order_number=order_number)
        .only("id", "order_number", "status", "snapshot_event_key", "cancelled_at")
        .first()
    )
    if order is None:
        return ChangedObject("order", order_number, found=False)
    return ChangedObject(
        "order",
        order_number,
        found=True,
        status=order.get_status_display(),
        from_this_event=["snapshot (current)"] if order.snapshot_event_key == key else [],
        url_name="order-detail",
    )


def _invoice_changes(invoice_number: str, key: str) -> ChangedObject:
    invoice = (
        Invoice.objects.filter(invoice_number=invoice_number)
        .only("id", "invoice_number", "snapshot_event_key", "payment_event_key", "paid_at")
        .first()
    )
    if invoice is None:
        return ChangedObject("invoice", invoice_number, found=False)
    from_this_event = ["snapshot (current)"] if invoice.snapshot_event_key == key else []
    if invoice.payment_event_key == key:
        from_this_event.append("payment (current)")
    return ChangedObject(
        "invoice",
        invoice_number,
        found=True,
        status="paid" if invoice.paid_at else "unpaid",
        from_this_event=from_this_event,
        url_name="invoice-detail",
    )


def _keyed_changes(kind: str, model: Any, field_name: str, value: str, key: str) -> ChangedObject:
    stored = model.objects.filter(**{field_name: value}).values_list("event_key", flat=True).first()
    if stored is None:
        return ChangedObject(kind, value, found=False)
    return ChangedObject(
        kind, value, found=True, from_this_event=["stored (current)"] if stored == key else []
    )


def _changes(event_type: str, data: Any, key: str) -> list[ChangedObject]:
    """The objects the event names, in the order a reader follows them."""
    changed = []
    document_id = _named(data, "document_id") if event_type == "document.available" else None
    charge_id = _named(data, "charge_id") if event_type == "freight.charge_posted" else None
    if document_id:
        changed.append(_keyed_changes("document", Document, "document_id", document_id, key))
    if charge_id:
        changed.append(_keyed_changes("freight charge", FreightCharge, "charge_id", charge_id, key))
    if shipment_id := _named(data, "shipment_id"):
        changed.append(_shipment_changes(shipment_id, key))
    if order_number := _named(data, "order_number"):
        changed.append(_order_changes(order_number, key))
    if invoice_number := _named(data, "invoice_number"):
        changed.append(_invoice_changes(invoice_number, key))
    return changed


def _notifications(batch_id: str, refs: list[str]) -> list[dict[str, Any]]:
    """What the batch recorded for the objects the event changed, with delivery attempts."""
    if not batch_id or not refs:
        return []
    notifications: list[dict[str, Any]] = [
        dict(row)
        for row in Notification.objects.filter(shipment_ref__in=refs, batch_id=batch_id)
        .order_by("id")
        .values(
            "id",
            "shipment_ref",
            "trigger",
            "subscriber",
            "state",
            "attempts",
            "created_at",
            "sent_at",
            "event_id",
            "last_error",
        )
    ]
    attempts: dict[int, list[dict[str, Any]]] = {}
    for attempt in (
        WebhookDelivery.objects.filter(notification_id__in=[row["id"] for row in notifications])
        .order_by("attempted_at", "id")
        .values("notification_id", "attempt", "attempted_at", "status_code", "error", "duration_ms")
    ):
        attempts.setdefault(attempt["notification_id"], []).append(dict(attempt))
    for row in notifications:
        row["deliveries"] = attempts.get(row["id"], [])
    return notifications


def event_traces(query: str) -> list[EventTrace]:
    """Every stored event matching `query` (an event id, `source:event_id`, or a request's
    correlation id), oldest first, each with what it changed and caused."""
    query = query.strip()[:MAX_QUERY_LENGTH]
    if not query:
        return []
    traces = []
    for row in _inbox_rows(query):
        key = event_key(row["source"], row["event_id"])
        try:
            data = json.loads(row.pop("data_text"))
        except (ValueError, RecursionError):
            data = None
        row["key"] = key
        changed = _changes(row["event_type"], data, key)
        refs = [change.key for change in changed if change.found and change.kind != "order"]
        traces.append(
            EventTrace(
                inbox=row, changed=changed, notifications=_notifications(row["batch_id"], refs)
            )
        )
    return traces
