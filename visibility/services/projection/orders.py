"""order.released and order.cancelled, a batch at a time."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.db.bulk import bulk_update_rows, insert_rows
from visibility.holds import HoldKey
from visibility.models import Order, OrderLine, Reference, ShipmentOrder
from visibility.services.projection.base import (
    SNAPSHOT_VERSION_FIELDS,
    Held,
    ProjectedEvent,
    ProjectionEffects,
    event_version,
    set_snapshot_version,
)
from visibility.services.projection.snapshots import write_account_snapshots
from visibility.services.references import references_replace

ORDER_SNAPSHOT_FIELDS = [
    "customer_account",
    "customer_po",
    "order_date",
    "requested_delivery_date",
    "ship_from",
    "ship_to",
    "released_by",
    *SNAPSHOT_VERSION_FIELDS,
]


def project_orders_released(events: list[ProjectedEvent], effects: ProjectionEffects) -> Held:
    """Write the newest snapshot of each order, with its lines and search references.
    Only the source that released an order first may release it again (decision 7)."""
    owners: dict[str, str] = {}

    def refuse(candidates: list[ProjectedEvent], existing: dict[str, Order]) -> set[str]:
        owners.update(_releasing_sources(candidates, existing))
        return _reject_other_sources(candidates, owners, effects)

    def apply(order: Order, event: ProjectedEvent, account_id: int) -> None:
        order.released_by = owners[order.order_number]
        _apply_snapshot(order, event, account_id)

    written = write_account_snapshots(
        events,
        model=Order,
        number_field="order_number",
        snapshot_fields=ORDER_SNAPSHOT_FIELDS,
        apply=apply,
        refuse=refuse,
    )
    winners = written.winners
    effects.order_ids.update(order.id for order in written.kept)
    if not winners:
        return written.held
    order_ids = [order.id for order, _ in winners]
    OrderLine.objects.filter(order_id__in=order_ids).delete()
    insert_rows(
        OrderLine,
        [_line(order, line) for order, event in winners for line in event.data["lines"]],
    )
    references_replace(
        [
            (
                order,
                [
                    (Reference.ReferenceType.ORDER_NUMBER, order.order_number),
                    (Reference.ReferenceType.CUSTOMER_PO, order.customer_po),
                ],
            )
            for order, _ in winners
        ]
    )
    effects.order_ids.update(order_ids)
    effects.shipment_ids.update(
        ShipmentOrder.objects.filter(order_id__in=order_ids).values_list("shipment_id", flat=True)
    )
    effects.released_keys.update(HoldKey.order(order.order_number) for order, _ in winners)
    return written.held


def _releasing_sources(events: list[ProjectedEvent], existing: dict[str, Order]) -> dict[str, str]:
    """The source that owns each order: the one that released it first. For an order
    this batch creates, of the sources releasing it, the one whose release is the oldest
    by (sequence, occurred_at): the same owner whatever order the releases arrived in."""
    owners = {number: order.released_by for number, order in existing.items() if order.released_by}
    for event in sorted(events, key=event_version):
        owners.setdefault(event.data["order_number"], event.source)
    return owners


def _reject_other_sources(
    events: list[ProjectedEvent], owners: dict[str, str], effects: ProjectionEffects
) -> set[str]:
    """Keys of the events of a source that does not own their order, recorded in
    `effects.rejected` with the reason intake would have given."""
    rejected = {
        event.key: order_owned_by_message(number, owners[number])
        for event in events
        if owners.get(number := event.data["order_number"], event.source) != event.source
    }
    effects.rejected.update(rejected)
    return set(rejected)


def order_owned_by_message(order_number: str, owner: str) -> str:
    """The reason an event of another source about an owned order is refused; intake and
    projection give the same one."""
    return f"order {order_number} is owned by source {owner}"


def _apply_snapshot(order: Order, event: ProjectedEvent, account_id: int) -> None:
    data = event.data
    order.customer_account_id = account_id
    order.customer_po = data.get("customer_po") or ""
    order.order_date = data.get("order_date")
    order.requested_delivery_date = data.get("requested_delivery_date")
    order.ship_from = data.get("ship_from")
    order.ship_to = data.get("ship_to")
    set_snapshot_version(order, event)


def _line(order: Order, line: dict) -> dict[str, Any]:
    """An order line's row: a dict, not an instance (a default per field to build), as a
    batch of releases writes thousands."""
    weight = line.get("weight_kg")
    return {
        "order_id": order.id,
        "line_number": line["line_number"],
        "sku": line["sku"],
        "description": line.get("description") or "",
        "quantity": Decimal(str(line["quantity"])),
        "uom": line.get("uom") or "",
        "weight_kg": None if weight is None else Decimal(str(weight)),
    }


def project_orders_cancelled(events: list[ProjectedEvent], effects: ProjectionEffects) -> Held:
    """Cancel orders. Several cancellations of one order converge on the earliest. Only
    the source that released an order may cancel it."""
    orders = list(
        Order.objects.select_for_update(no_key=True)
        .filter(order_number__in={event.data["order_number"] for event in events})
        .order_by("order_number")
    )
    found = {order.order_number for order in orders}
    held = {
        event.key: HoldKey.order(event.data["order_number"])
        for event in events
        if event.data["order_number"] not in found
    }
    owners = {order.order_number: order.released_by for order in orders if order.released_by}
    rejected = _reject_other_sources(
        [event for event in events if event.key not in held], owners, effects
    )
    earliest: dict[str, ProjectedEvent] = {}
    for event in sorted(events, key=lambda event: (event.occurred_at, event.key)):
        if event.key not in held and event.key not in rejected:
            earliest.setdefault(event.data["order_number"], event)
    changed = []
    for order in orders:
        cancellation = earliest.get(order.order_number)
        if cancellation is None:
            continue
        if order.cancelled_at is None or cancellation.occurred_at < order.cancelled_at:
            order.cancelled_at = cancellation.occurred_at
            order.cancel_reason = cancellation.data.get("reason") or ""
            changed.append(order)
    bulk_update_rows(changed, ["cancelled_at", "cancel_reason"])
    order_ids = [order.id for order in orders]
    effects.order_ids.update(order_ids)
    effects.shipment_ids.update(
        ShipmentOrder.objects.filter(order_id__in=order_ids).values_list("shipment_id", flat=True)
    )
    return held
