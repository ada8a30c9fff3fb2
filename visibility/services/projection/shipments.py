"""shipment.created, shipment.tender_accepted and freight.charge_posted, a batch at a time."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from core.db.bulk import bulk_insert_rows, bulk_update_rows, insert_rows
from visibility.holds import HoldKey
from visibility.models import (
    FreightCharge,
    Order,
    Shipment,
    ShipmentOrder,
    ShipmentStop,
)
from visibility.services.projection.base import (
    SNAPSHOT_VERSION_FIELDS,
    Held,
    ProjectedEvent,
    ProjectionEffects,
    is_newer,
    newest_by,
    owned_account_ids,
    set_snapshot_version,
    timestamp,
)
from visibility.services.references import references_replace, shipment_references

CARRIER_FIELDS = ["carrier_scac", "carrier_name", "carrier_occurred_at", "carrier_event_key"]
SHIPMENT_SNAPSHOT_FIELDS = [
    "load_id",
    "mode",
    "service_level",
    "tracking_numbers",
    "origin",
    "destination",
    "planned_pickup_at",
    "planned_delivery_at",
    *SNAPSHOT_VERSION_FIELDS,
]


def locked_shipments(shipment_ids: Iterable[str]) -> dict[str, Shipment]:
    """The shipments with these ids that exist, locked, in one consistent order."""
    return {
        shipment.shipment_id: shipment
        for shipment in Shipment.objects.select_for_update(no_key=True)
        .filter(shipment_id__in=set(shipment_ids))
        .order_by("shipment_id")
    }


def shipment_pks(shipment_ids: Iterable[str]) -> dict[str, int]:
    return dict(
        Shipment.objects.filter(shipment_id__in=set(shipment_ids)).values_list("shipment_id", "id")
    )


def project_shipments_created(events: list[ProjectedEvent], effects: ProjectionEffects) -> Held:
    """Write the newest snapshot of each shipment, with stops, order links and references.

    A snapshot waits for all its orders. Every snapshot naming a carrier competes for it,
    newest (occurred_at, key) first, with tender acceptances; an older snapshot still can
    win the carrier, or the result would depend on arrival order.
    """
    order_numbers = {number for event in events for number in orders_of(event)}
    orders = {
        number: (order_id, account_id)
        for number, order_id, account_id in Order.objects.filter(
            order_number__in=order_numbers
        ).values_list("order_number", "id", "customer_account_id")
    }
    held: Held = {}
    applicable = []
    for event in events:
        missing = sorted(set(orders_of(event)) - orders.keys())
        if missing:
            held[event.key] = HoldKey.order(missing[0])
        else:
            applicable.append(event)
    if not applicable:
        return held

    shipments = locked_shipments(event.data["shipment_id"] for event in applicable)
    created: list[Shipment] = []
    changed: dict[str, Shipment] = {}
    winners: list[tuple[Shipment, ProjectedEvent]] = []
    for shipment_id, event in newest_by(
        applicable, lambda event: event.data["shipment_id"]
    ).items():
        shipment = shipments.get(shipment_id)
        if shipment is None:
            shipment = shipments[shipment_id] = Shipment(shipment_id=shipment_id)
            created.append(shipment)
        elif is_newer(event, shipment):
            changed[shipment_id] = shipment
        else:
            continue
        _apply_snapshot(shipment, event, orders)
        winners.append((shipment, event))
    for event in applicable:
        shipment = shipments[event.data["shipment_id"]]
        carrier = event.data.get("carrier") or {}
        if carrier.get("scac") and set_carrier(shipment, carrier, event) and shipment.pk:
            changed[shipment.shipment_id] = shipment

    bulk_insert_rows(created, set_ids_by="shipment_id")
    bulk_update_rows(list(changed.values()), SHIPMENT_SNAPSHOT_FIELDS + CARRIER_FIELDS)
    _replace_stops_and_links(winners, orders)
    references_replace([(shipment, shipment_references(shipment)) for shipment, _ in winners])
    effects.shipment_ids.update(shipments[event.data["shipment_id"]].id for event in applicable)
    effects.order_ids.update(
        orders[number][0] for _, event in winners for number in orders_of(event)
    )
    effects.released_keys.update(HoldKey.shipment(shipment.shipment_id) for shipment, _ in winners)
    return held


def _apply_snapshot(
    shipment: Shipment, event: ProjectedEvent, orders: dict[str, tuple[int, int]]
) -> None:
    data = event.data
    if shipment.pk is None:
        # Derivation sets the primary account (its first order's) and the set of all its
        # orders' accounts (`ShipmentAccount`); a new row needs one to be inserted.
        shipment.customer_account_id = orders[min(orders_of(event))][1]
    shipment.load_id = data.get("load_id") or ""
    shipment.mode = data.get("mode") or ""
    shipment.service_level = data.get("service_level") or ""
    shipment.tracking_numbers = list(data.get("tracking_numbers") or [])
    shipment.origin = data.get("origin")
    shipment.destination = data.get("destination")
    shipment.planned_pickup_at = timestamp(data.get("planned_pickup_at"))
    shipment.planned_delivery_at = timestamp(data.get("planned_delivery_at"))
    set_snapshot_version(shipment, event)


def orders_of(event: ProjectedEvent) -> list[str]:
    return [link["order_number"] for link in event.data["orders"]]


def _replace_stops_and_links(
    winners: list[tuple[Shipment, ProjectedEvent]], orders: dict[str, tuple[int, int]]
) -> None:
    shipment_ids = [shipment.id for shipment, _ in winners]
    ShipmentStop.objects.filter(shipment_id__in=shipment_ids).delete()
    ShipmentOrder.objects.filter(shipment_id__in=shipment_ids).delete()
    # Rows as dicts, not model instances: a snapshot batch writes thousands of stops and
    # links, and an instance costs a default per field to build.
    stops: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    for shipment, event in winners:
        by_sequence = {stop["sequence"]: stop for stop in event.data.get("stops") or []}
        stops += [
            {
                "shipment_id": shipment.id,
                "sequence": stop["sequence"],
                "stop_type": stop["type"],
                "location": stop.get("location"),
                "planned_arrival": timestamp(stop.get("planned_arrival")),
            }
            for stop in by_sequence.values()
        ]
        line_numbers: dict[str, set[int]] = {}
        for link in event.data["orders"]:
            line_numbers.setdefault(link["order_number"], set()).update(
                link.get("line_numbers") or []
            )
        links += [
            {
                "shipment_id": shipment.id,
                "order_id": orders[number][0],
                "line_numbers": sorted(line_numbers[number]),
            }
            for number in sorted(line_numbers)
        ]
    insert_rows(ShipmentStop, stops)
    insert_rows(ShipmentOrder, links)


def set_carrier(shipment: Shipment, carrier: dict[str, Any], event: ProjectedEvent) -> bool:
    """The carrier comes from the snapshot or a tender acceptance, newest (occurred_at) wins."""
    if (event.occurred_at, event.key) <= (
        shipment.carrier_occurred_at or datetime.min.replace(tzinfo=event.occurred_at.tzinfo),
        shipment.carrier_event_key,
    ):
        return False
    shipment.carrier_scac = carrier["scac"]
    shipment.carrier_name = carrier.get("name") or ""
    shipment.carrier_occurred_at = event.occurred_at
    shipment.carrier_event_key = event.key
    return True


def project_tenders_accepted(events: list[ProjectedEvent], effects: ProjectionEffects) -> Held:
    shipments = locked_shipments(event.data["shipment_id"] for event in events)
    held: Held = {}
    changed: dict[str, Shipment] = {}
    for event in events:
        shipment = shipments.get(event.data["shipment_id"])
        if shipment is None:
            held[event.key] = HoldKey.shipment(event.data["shipment_id"])
            continue
        if set_carrier(shipment, event.data["carrier"], event):
            changed[shipment.shipment_id] = shipment
        accepted_at = timestamp(event.data.get("accepted_at")) or event.occurred_at
        if shipment.tender_accepted_at is None or accepted_at > shipment.tender_accepted_at:
            shipment.tender_accepted_at = accepted_at
            changed[shipment.shipment_id] = shipment
        effects.shipment_ids.add(shipment.id)
    bulk_update_rows(list(changed.values()), [*CARRIER_FIELDS, "tender_accepted_at"])
    return held


def project_freight_charges(events: list[ProjectedEvent], effects: ProjectionEffects) -> Held:
    """Charges are keyed by charge id; the newest (occurred_at, key) event naming one
    stores it, so a corrected charge replaces the original in either arrival order."""
    pks = shipment_pks(event.data["shipment_id"] for event in events)
    held: Held = {}
    newest: dict[str, ProjectedEvent] = {}
    for event in events:
        current = newest.get(event.data["charge_id"])
        if current is None or (event.occurred_at, event.key) > (current.occurred_at, current.key):
            newest[event.data["charge_id"]] = event
    accounts = owned_account_ids(
        {
            event.data["customer_account"]
            for event in newest.values()
            if event.data.get("customer_account")
        }
    )
    charges: dict[str, FreightCharge] = {}
    for event in newest.values():
        data = event.data
        if data["shipment_id"] not in pks:
            held[event.key] = HoldKey.shipment(data["shipment_id"])
            continue
        account = data.get("customer_account")
        if account and account not in accounts:
            # Whose charge it is decides who sees it: held until a tenant owns the account.
            held[event.key] = HoldKey.account(account)
            continue
        charges[data["charge_id"]] = FreightCharge(
            customer_account_id=accounts[account] if account else None,
            charge_id=data["charge_id"],
            shipment_id=pks[data["shipment_id"]],
            charge_type=data["charge_type"],
            amount=Decimal(data["amount"]),
            currency=data["currency"],
            occurred_at=event.occurred_at,
            event_key=event.key,
        )
    # In key order: two lanes' batches writing one charge wait for each other in that order.
    bulk_insert_rows(
        [charges[charge_id] for charge_id in sorted(charges)],
        newest_wins=("charge_id", ("occurred_at", "event_key")),
    )
    return held
