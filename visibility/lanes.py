"""Projection lanes: which aggregate an event belongs to, and what else it names.

Intake stores each event's lane slot, and a projection batch takes the events of lanes
no other batch holds (integration/services/processing.py), so concurrent batches project
different shipments, orders and invoices. An order's slot is a hash of its key
(`slot_of`). A shipment or an invoice joins the lane of the order its first creating
event names (`lane_anchor`: the first order a `shipment.created` or `invoice.posted`
names), and keeps that slot for good (integration/services/lane_routes.py stores it): an
order's story then lands in one lane, where its events are projected in order instead of
held for an aggregate another lane has not projected yet. What an event names beyond its
own aggregate (`named_aggregates`: a shipment's orders, an invoice's orders and
shipments, a document's owner, a customer account) is what the batch locks before
writing, in one global order (`visibility.services.projection.locks`);
docs/ARCHITECTURE.md, "Projection lanes".

Both read event data that the contract validated, but defensively: a batch's locks are
taken before projection isolates failing events, so a value of an unexpected shape is
skipped here (its projector fails that event alone) instead of failing the batch.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from visibility.event_types import EventType

# The hash space a lane slot lives in; a batch's lane is `slot % INBOX_LANES`, so the
# number of lanes can change without rewriting stored slots.
LANE_SLOTS = 4096


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _texts(values: Any) -> list[str]:
    return [value for value in values if _text(value)] if isinstance(values, list) else []


def _key(kind: str, name: str) -> Callable[[dict], str | None]:
    """The aggregate named by `data[name]`, as `kind:key`."""
    return lambda data: f"{kind}:{key}" if (key := _text(data.get(name))) else None


_SHIPMENT, _ORDER, _INVOICE = (
    _key("shipment", "shipment_id"),
    _key("order", "order_number"),
    _key("invoice", "invoice_number"),
)


def _document_owner(data: dict) -> str | None:
    # As documents.OWNER_KINDS: the first target the event names is its owner.
    return _SHIPMENT(data) or _ORDER(data) or _INVOICE(data)


# The aggregate each event type changes: the key that decides its lane.
AGGREGATE_KEYS: dict[str, Callable[[dict], str | None]] = {
    EventType.ORDER_RELEASED: _ORDER,
    EventType.ORDER_CANCELLED: _ORDER,
    EventType.SHIPMENT_CREATED: _SHIPMENT,
    EventType.SHIPMENT_TENDER_ACCEPTED: _SHIPMENT,
    EventType.SHIPMENT_MILESTONE: _SHIPMENT,
    EventType.SHIPMENT_ETA_UPDATED: _SHIPMENT,
    EventType.SHIPMENT_DELAYED: _SHIPMENT,
    EventType.DOCUMENT_AVAILABLE: _document_owner,
    EventType.INVOICE_POSTED: _INVOICE,
    EventType.INVOICE_PAID: _INVOICE,
    EventType.FREIGHT_CHARGE_POSTED: _SHIPMENT,
}


def aggregate_key(event_type: str, data: Any) -> str | None:
    """The event's aggregate as `kind:key` (`shipment:S-1`), or None if it names none."""
    key_of = AGGREGATE_KEYS.get(event_type)
    return key_of(data) if key_of and isinstance(data, dict) else None


def slot_of(key: str | None) -> int:
    return zlib.crc32((key or "").encode()) % LANE_SLOTS


# Aggregates whose slot is routed: decided by the first event that creates them, stored.
ROUTED_KINDS = ("shipment:", "invoice:")

# The events that create a routed aggregate (the only ones that store its route).
CREATING_TYPES = frozenset({EventType.SHIPMENT_CREATED, EventType.INVOICE_POSTED})


def is_routed(key: str | None) -> bool:
    """Whether the aggregate's slot is routed (decided once and stored), not hashed."""
    return key is not None and key.startswith(ROUTED_KINDS)


def lane_anchor(event_type: str, data: Any) -> str | None:
    """The order whose lane a shipment or invoice joins when this event is the first to
    create it: the first order a `shipment.created` or an `invoice.posted` names."""
    if not isinstance(data, dict):
        return None
    if event_type == EventType.SHIPMENT_CREATED and isinstance(data.get("orders"), list):
        numbers = _texts(
            [order.get("order_number") for order in data["orders"] if isinstance(order, dict)]
        )
    elif event_type == EventType.INVOICE_POSTED:
        numbers = _texts(data.get("order_numbers"))
    else:
        return None
    first = next(iter(numbers), None)
    return f"order:{first}" if first else None


@dataclass
class NamedAggregates:
    """The business keys of the shipments, orders, invoices and customer accounts a batch's
    events name."""

    shipments: set[str] = field(default_factory=set)
    orders: set[str] = field(default_factory=set)
    invoices: set[str] = field(default_factory=set)
    # An account first named by an event is created by the batch projecting it, whatever
    # its lane (`owned_account_ids`).
    accounts: set[str] = field(default_factory=set)

    def add(self, event_type: str, data: Any) -> None:
        if not isinstance(data, dict):
            return
        for kind, name in (
            (self.shipments, "shipment_id"),
            (self.orders, "order_number"),
            (self.invoices, "invoice_number"),
            (self.accounts, "customer_account"),
        ):
            if key := _text(data.get(name)):
                kind.add(key)
        if event_type == EventType.SHIPMENT_CREATED and isinstance(data.get("orders"), list):
            self.orders.update(
                order["order_number"]
                for order in data["orders"]
                if isinstance(order, dict) and _text(order.get("order_number"))
            )
        if event_type == EventType.INVOICE_POSTED:
            self.orders.update(_texts(data.get("order_numbers")))
            self.shipments.update(_texts(data.get("shipment_ids")))


def named_aggregates(events: list[tuple[str, Any]]) -> NamedAggregates:
    """What `(event_type, data)` pairs name, over all of them."""
    named = NamedAggregates()
    for event_type, data in events:
        named.add(event_type, data)
    return named
