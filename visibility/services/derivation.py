"""Derive what customers read (status, ETA, delayed, at risk) from stored facts.

Derivation is a pure function of a shipment's stored snapshot and history, so the
result is the same whatever order the events arrived in (docs/ARCHITECTURE.md, decision 3).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from core.db.bulk import binary_rows, bulk_update_rows, execute_with_arrays, insert_rows
from visibility.models import (
    Document,
    Milestone,
    NotificationTrigger,
    Order,
    Shipment,
    ShipmentAccount,
    ShipmentEvent,
    ShipmentOrder,
    ShipmentStatus,
)
from visibility.services.clock import CLOCK_FIELDS, CLOCK_INPUTS, shipments_clock_refresh
from visibility.services.notifications import Occurrence

# Ties on occurred_at are broken by how far along the lifecycle a milestone is.
MILESTONE_RANK: dict[str, int] = {
    Milestone.PICKED_UP: 1,
    Milestone.DEPARTED_ORIGIN: 2,
    Milestone.ARRIVED_HUB: 3,
    Milestone.DEPARTED_HUB: 4,
    Milestone.IN_TRANSIT: 5,
    Milestone.OUT_FOR_DELIVERY: 6,
    Milestone.DELIVERY_ATTEMPTED: 7,
    Milestone.EXCEPTION: 8,
    Milestone.DELIVERED: 9,
}

MILESTONE_STATUS: dict[str, ShipmentStatus] = {
    Milestone.PICKED_UP: ShipmentStatus.IN_TRANSIT,
    Milestone.DEPARTED_ORIGIN: ShipmentStatus.IN_TRANSIT,
    Milestone.ARRIVED_HUB: ShipmentStatus.IN_TRANSIT,
    Milestone.DEPARTED_HUB: ShipmentStatus.IN_TRANSIT,
    Milestone.IN_TRANSIT: ShipmentStatus.IN_TRANSIT,
    Milestone.OUT_FOR_DELIVERY: ShipmentStatus.OUT_FOR_DELIVERY,
    Milestone.DELIVERY_ATTEMPTED: ShipmentStatus.OUT_FOR_DELIVERY,
    Milestone.EXCEPTION: ShipmentStatus.EXCEPTION,
    Milestone.DELIVERED: ShipmentStatus.DELIVERED,
}

DERIVED_SHIPMENT_FIELDS = [
    "customer_account",
    "status",
    "status_at",
    "eta",
    "eta_window_start",
    "eta_window_end",
    "eta_basis",
    "promised_date",
    "delayed",
    "at_risk",
    "delivered_at",
    "received_by",
    "last_event_at",
]


@dataclass
class ShipmentDerivation:
    """What re-deriving shipments changed: the orders to follow, and what just happened
    to a shipment that customers may be notified of (it became delivered, ...)."""

    order_ids: set[int] = field(default_factory=set)
    transitions: list[tuple[Shipment, str] | Occurrence] = field(default_factory=list)


def _notable(shipment: Shipment) -> set[str]:
    # Delays and exceptions are occurrences, found by visibility/services/clock.py.
    facts: set[str] = set()
    if shipment.status == ShipmentStatus.DELIVERED:
        facts.add(NotificationTrigger.DELIVERY)
    return facts


def _eta_changed(shipment: Shipment, eta_before: datetime | None) -> bool:
    """An ETA that replaced another (a first ETA is not a change) on a shipment not yet
    delivered: an older ETA arriving late never becomes the derived one, so it sends
    nothing; after delivery an ETA is superseded."""
    return (
        eta_before is not None
        and shipment.eta is not None
        and shipment.eta != eta_before
        and shipment.status != ShipmentStatus.DELIVERED
    )


# What derivation reads of a shipment besides the fields it derives.
SHIPMENT_DERIVATION_INPUTS = [
    "shipment_id",
    "carrier_scac",
    "planned_pickup_at",
    "planned_delivery_at",
    "snapshot_occurred_at",
    "carrier_occurred_at",
]


def derive_shipments(shipment_ids: Iterable[int]) -> ShipmentDerivation:
    """Re-derive the shipments from their stored facts."""
    shipments = list(
        Shipment.objects.filter(id__in=list(shipment_ids))
        .only(*SHIPMENT_DERIVATION_INPUTS, *DERIVED_SHIPMENT_FIELDS, *CLOCK_INPUTS, *CLOCK_FIELDS)
        .order_by("id")
    )
    ids = [shipment.id for shipment in shipments]
    histories, orders = _histories(ids), _orders_of_shipments(ids)
    result = ShipmentDerivation()
    moved = []
    for shipment in shipments:
        before = _notable(shipment)
        eta_before = shipment.eta
        account_before = shipment.customer_account_id
        shipment_orders = orders.get(shipment.id, [])
        _derive_shipment(shipment, histories.get(shipment.id, []), shipment_orders)
        result.transitions += [
            (shipment, trigger) for trigger in sorted(_notable(shipment) - before)
        ]
        if _eta_changed(shipment, eta_before):
            assert shipment.eta is not None
            result.transitions.append(
                Occurrence(shipment, NotificationTrigger.ETA_CHANGE, shipment.eta.isoformat())
            )
        result.order_ids.update(order.order_id for order in shipment_orders)
        if shipment.customer_account_id != account_before:
            moved.append(shipment.id)
    bulk_update_rows(shipments, DERIVED_SHIPMENT_FIELDS)
    result.transitions += shipments_clock_refresh(shipments, timezone.now(), heard=True)
    _follow_their_shipment(Document, moved)
    changed_sets = _write_account_sets(
        {
            shipment.id: {order.customer_account_id for order in orders.get(shipment.id, [])}
            or {shipment.customer_account_id}
            for shipment in shipments
        }
    )
    _copy_list_keys(ids)
    _spread_references(sorted(changed_sets | set(moved)))
    return result


_COPY_LIST_KEYS = """
UPDATE visibility_shipmentaccount link SET last_event_at = s.last_event_at,
    carrier_scac = s.carrier_scac, carrier_name = s.carrier_name
FROM visibility_shipment s
WHERE s.id = ANY(%s::bigint[]) AND link.shipment_id = s.id
AND (link.last_event_at, link.carrier_scac, link.carrier_name)
    IS DISTINCT FROM (s.last_event_at, s.carrier_scac, s.carrier_name)
"""


def _copy_list_keys(shipment_ids: list[int]) -> None:
    """Give the batch's `ShipmentAccount` rows (those just added too) their shipment's
    `last_event_at`, which an account's list is ordered by, and its carrier, which the
    list's carrier filter offers: one statement per batch, and rows already equal are
    not rewritten."""
    if shipment_ids:
        execute_with_arrays(_COPY_LIST_KEYS, [shipment_ids])


def _write_account_sets(wanted: dict[int, set[int]]) -> set[int]:
    """Make each shipment's `ShipmentAccount` rows the accounts of its orders: one read,
    one INSERT and one DELETE for the whole batch. Returns the shipments whose set has
    more than one account or changed (their search references need spreading)."""
    existing: dict[int, set[int]] = {}
    for shipment_id, account_id in binary_rows(
        ShipmentAccount.objects.filter(shipment_id__in=list(wanted)).values_list(
            "shipment_id", "customer_account_id"
        )
    ):
        existing.setdefault(shipment_id, set()).add(account_id)
    added, stale, touched = [], [], set()
    for shipment_id, accounts in wanted.items():
        current = existing.get(shipment_id, set())
        added += [
            {"shipment_id": shipment_id, "customer_account_id": account_id}
            for account_id in sorted(accounts - current)
        ]
        stale += [(shipment_id, account_id) for account_id in sorted(current - accounts)]
        if len(accounts) > 1 or accounts != current:
            touched.add(shipment_id)
    insert_rows(ShipmentAccount, added, ignore_conflicts=True)
    if stale:
        execute_with_arrays(
            "DELETE FROM visibility_shipmentaccount link"
            " USING unnest(%s::bigint[], %s::bigint[]) AS stale(shipment_id, account_id)"
            " WHERE link.shipment_id = stale.shipment_id"
            " AND link.customer_account_id = stale.account_id",
            [[pair[0] for pair in stale], [pair[1] for pair in stale]],
        )
    return touched


# A shipment's references (shipment id, load id, tracking numbers, its documents' ids)
# are written under its primary account; each account of the shipment gets its own copy,
# so that search finds a shipment by the references of the accounts the actor sees, and
# copies for accounts no longer on the shipment go.
_COPY_REFERENCES = """
INSERT INTO visibility_reference
    (customer_account_id, kind, object_key, reference_type, value, normalized,
     order_id, shipment_id, invoice_id)
SELECT DISTINCT link.customer_account_id, r.kind, r.object_key, r.reference_type, r.value,
    r.normalized, r.order_id, r.shipment_id, r.invoice_id
FROM visibility_reference r
JOIN visibility_shipmentaccount link ON link.shipment_id = r.shipment_id
WHERE r.shipment_id = ANY(%s::bigint[])
AND NOT EXISTS (
    SELECT 1 FROM visibility_reference other
    WHERE other.shipment_id = r.shipment_id
    AND other.customer_account_id = link.customer_account_id
    AND other.reference_type = r.reference_type AND other.normalized = r.normalized
)
"""
_DROP_FOREIGN_REFERENCES = """
DELETE FROM visibility_reference r
WHERE r.shipment_id = ANY(%s::bigint[])
AND NOT EXISTS (
    SELECT 1 FROM visibility_shipmentaccount link
    WHERE link.shipment_id = r.shipment_id AND link.customer_account_id = r.customer_account_id
)
"""


def _spread_references(shipment_ids: list[int]) -> None:
    if shipment_ids:
        execute_with_arrays(_COPY_REFERENCES, [shipment_ids])
        execute_with_arrays(_DROP_FOREIGN_REFERENCES, [shipment_ids])


class OrderFact(NamedTuple):
    """What derivation reads of an order a shipment carries."""

    shipment_id: int
    order_id: int
    order_number: str
    customer_account_id: int
    cancelled_at: datetime | None
    requested_delivery_date: date | None


def _orders_of_shipments(shipment_ids: list[int]) -> dict[int, list[OrderFact]]:
    """Each shipment's orders, by order number."""
    orders: dict[int, list[OrderFact]] = {}
    for row in binary_rows(
        ShipmentOrder.objects.filter(shipment_id__in=shipment_ids)
        .order_by("order__order_number")
        .values_list(
            "shipment_id",
            "order_id",
            "order__order_number",
            "order__customer_account_id",
            "order__cancelled_at",
            "order__requested_delivery_date",
        )
    ):
        order = OrderFact(*row)
        orders.setdefault(order.shipment_id, []).append(order)
    return orders


class Fact(NamedTuple):
    """What derivation reads of a history fact (ShipmentEvent)."""

    shipment_id: int
    kind: str
    occurred_at: datetime
    milestone: str
    event_key: str
    received_by: str
    eta: datetime | None
    eta_window_start: datetime | None
    eta_window_end: datetime | None
    eta_basis: str


def _histories(shipment_ids: list[int]) -> dict[int, list[Fact]]:
    histories: dict[int, list[Fact]] = {}
    for row in binary_rows(
        ShipmentEvent.objects.filter(shipment_id__in=shipment_ids).values_list(*Fact._fields)
    ):
        fact = Fact(*row)
        histories.setdefault(fact.shipment_id, []).append(fact)
    return histories


def _derive_shipment(shipment: Shipment, history: list[Fact], orders: list[OrderFact]) -> None:
    if orders:
        # The primary account is its first order's (by order number), even if that
        # order's snapshot moved it after the shipment was created; visibility follows
        # the set of all its orders' accounts (`_write_account_sets`).
        shipment.customer_account_id = orders[0].customer_account_id
    milestones = [fact for fact in history if fact.kind == ShipmentEvent.Kind.MILESTONE]
    latest = max(
        milestones,
        key=lambda fact: (fact.occurred_at, MILESTONE_RANK[fact.milestone], fact.event_key),
        default=None,
    )
    delivered = [fact for fact in milestones if fact.milestone == Milestone.DELIVERED]
    first_delivery = min(
        delivered, key=lambda fact: (fact.occurred_at, fact.event_key), default=None
    )

    if latest is not None:
        shipment.status = MILESTONE_STATUS[latest.milestone]
        shipment.status_at = latest.occurred_at
    else:
        shipment.status_at = None
        if orders and all(order.cancelled_at for order in orders):
            shipment.status = ShipmentStatus.CANCELLED
        elif shipment.carrier_scac:
            shipment.status = ShipmentStatus.CARRIER_ASSIGNED
        elif shipment.planned_pickup_at or shipment.planned_delivery_at:
            shipment.status = ShipmentStatus.PLANNED
        else:
            shipment.status = ShipmentStatus.BOOKED
    shipment.delivered_at = first_delivery.occurred_at if first_delivery else None
    shipment.received_by = first_delivery.received_by if first_delivery else ""

    estimates = [fact for fact in history if fact.eta is not None]
    newest_estimate = max(
        estimates, key=lambda fact: (fact.occurred_at, fact.event_key), default=None
    )
    if newest_estimate is not None:
        shipment.eta = newest_estimate.eta
        shipment.eta_window_start = newest_estimate.eta_window_start
        shipment.eta_window_end = newest_estimate.eta_window_end
        shipment.eta_basis = newest_estimate.eta_basis or (
            "carrier" if newest_estimate.kind == ShipmentEvent.Kind.DELAY else ""
        )
    else:
        shipment.eta = shipment.planned_delivery_at
        shipment.eta_window_start = shipment.eta_window_end = None
        shipment.eta_basis = "planned" if shipment.planned_delivery_at else ""

    requested = [order.requested_delivery_date for order in orders if order.requested_delivery_date]
    shipment.promised_date = (
        min(requested)
        if requested
        else (shipment.planned_delivery_at.date() if shipment.planned_delivery_at else None)
    )
    is_open = shipment.status not in (ShipmentStatus.DELIVERED, ShipmentStatus.CANCELLED)
    shipment.at_risk = bool(
        is_open
        and shipment.eta
        and shipment.promised_date
        and shipment.eta.date() > shipment.promised_date
    )
    reported_delay = any(fact.kind == ShipmentEvent.Kind.DELAY for fact in history)
    late_against_plan = bool(
        shipment.eta
        and shipment.planned_delivery_at
        and shipment.eta > shipment.planned_delivery_at
    )
    shipment.delayed = is_open and (reported_delay or late_against_plan)
    moments = [fact.occurred_at for fact in history]
    moments += [
        moment for moment in (shipment.snapshot_occurred_at, shipment.carrier_occurred_at) if moment
    ]
    shipment.last_event_at = max(moments, default=None)


ORDER_STATUS_PRECEDENCE = [
    ShipmentStatus.EXCEPTION,
    ShipmentStatus.OUT_FOR_DELIVERY,
    ShipmentStatus.IN_TRANSIT,
    ShipmentStatus.CARRIER_ASSIGNED,
    ShipmentStatus.PLANNED,
    ShipmentStatus.BOOKED,
]


def derive_orders(order_ids: Iterable[int]) -> None:
    orders = list(
        Order.objects.filter(id__in=list(order_ids))
        .only("cancelled_at", "snapshot_occurred_at", "status", "last_event_at")
        .order_by("id")
    )
    shipments_of: dict[int, list[tuple[str, datetime | None]]] = {}
    for order_id, status, last_event_at in binary_rows(
        ShipmentOrder.objects.filter(order_id__in=[order.id for order in orders]).values_list(
            "order_id", "shipment__status", "shipment__last_event_at"
        )
    ):
        shipments_of.setdefault(order_id, []).append((status, last_event_at))
    for order in orders:
        shipments = shipments_of.get(order.id, [])
        statuses = {status for status, _ in shipments}
        if order.cancelled_at and not statuses & {ShipmentStatus.DELIVERED}:
            order.status = ShipmentStatus.CANCELLED
        elif shipments and statuses == {ShipmentStatus.DELIVERED}:
            order.status = ShipmentStatus.DELIVERED
        else:
            order.status = next(
                (status for status in ORDER_STATUS_PRECEDENCE if status in statuses),
                ShipmentStatus.BOOKED,
            )
        moments = [moment for _, moment in shipments if moment]
        moments += [moment for moment in (order.snapshot_occurred_at, order.cancelled_at) if moment]
        order.last_event_at = max(moments, default=None)
    bulk_update_rows(orders, ["status", "last_event_at"])


def _follow_their_shipment(model: type[Document], shipment_ids: list[int]) -> None:
    """A shipment's own documents are filed under its primary account and move with a
    shipment whose primary account changed."""
    if not shipment_ids:
        return
    model.objects.filter(shipment_id__in=shipment_ids).exclude(
        customer_account_id=F("shipment__customer_account_id")
    ).update(
        customer_account_id=Subquery(
            Shipment.objects.filter(id=OuterRef("shipment_id")).values("customer_account_id")[:1]
        )
    )
