"""Projection of accepted events into the read models.

Each `project_*` function applies one event and is idempotent and order-independent
(DESIGN.md decision 3): history facts are a set keyed by event, snapshots apply only
when newer by (sequence, occurred_at, event key), and everything customers read about a
shipment is derived afterwards from what is stored (`visibility.services.derivation`).
An event whose order, shipment, invoice or account owner is not known yet raises
`Hold`; the inbox keeps it and applies it when the missing piece arrives.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from accounts.models import CustomerAccount
from integration.contract import parse_timestamp
from integration.models import StatusCodeAction, StatusCodeMapping
from visibility.models import (
    Document,
    FreightCharge,
    Invoice,
    InvoiceLine,
    Order,
    OrderLine,
    Reference,
    Shipment,
    ShipmentEvent,
    ShipmentOrder,
    ShipmentStop,
)
from visibility.services.references import references_add, references_replace


class Hold(Exception):
    """The event cannot apply yet; `waiting_for` names what it waits for."""

    def __init__(self, waiting_for: str) -> None:
        super().__init__(waiting_for)
        self.waiting_for = waiting_for


@dataclass(frozen=True)
class ProjectedEvent:
    """What projection needs of an inbox row."""

    key: str
    event_type: str
    occurred_at: datetime
    sequence: int | None
    data: dict[str, Any]


@dataclass
class ProjectionEffects:
    """What a batch touched: rows to re-derive, and keys that may release held events."""

    shipment_ids: set[int] = field(default_factory=set)
    order_ids: set[int] = field(default_factory=set)
    released_keys: set[str] = field(default_factory=set)


def _version(sequence: int | None, occurred_at: datetime | None, key: str) -> tuple:
    return (-1 if sequence is None else sequence, occurred_at or datetime.min, key)


def _is_newer(event: ProjectedEvent, row: Any) -> bool:
    return _version(event.sequence, event.occurred_at, event.key) > _version(
        row.snapshot_sequence, row.snapshot_occurred_at, row.snapshot_event_key
    )


def _set_snapshot_version(row: Any, event: ProjectedEvent) -> None:
    row.snapshot_sequence = event.sequence
    row.snapshot_occurred_at = event.occurred_at
    row.snapshot_event_key = event.key


def _timestamp(value: str | None) -> datetime | None:
    return parse_timestamp(value) if value else None


def _owned_account(number: str) -> CustomerAccount:
    account, _ = CustomerAccount.objects.get_or_create(number=number)
    if account.tenant_id is None:
        raise Hold(f"account:{number}")
    return account


def _shipment(shipment_id: str, *, lock: bool = False) -> Shipment:
    queryset = Shipment.objects.select_for_update() if lock else Shipment.objects
    shipment = queryset.filter(shipment_id=shipment_id).first()
    if shipment is None:
        raise Hold(f"shipment:{shipment_id}")
    return shipment


# --- orders ------------------------------------------------------------------------------


def project_order_released(event: ProjectedEvent, effects: ProjectionEffects) -> None:
    data = event.data
    account = _owned_account(data["customer_account"])
    order = Order.objects.select_for_update().filter(order_number=data["order_number"]).first()
    if order is None:
        order = Order(order_number=data["order_number"])
    elif not _is_newer(event, order):
        effects.order_ids.add(order.id)
        return
    order.customer_account = account
    order.customer_po = data.get("customer_po") or ""
    order.order_date = data.get("order_date")
    order.requested_delivery_date = data.get("requested_delivery_date")
    order.ship_from = data.get("ship_from")
    order.ship_to = data.get("ship_to")
    _set_snapshot_version(order, event)
    order.save()
    order.lines.all().delete()
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            line_number=line["line_number"],
            sku=line["sku"],
            description=line.get("description") or "",
            quantity=Decimal(str(line["quantity"])),
            uom=line.get("uom") or "",
            weight_kg=None if line.get("weight_kg") is None else Decimal(str(line["weight_kg"])),
        )
        for line in data["lines"]
    )
    effects.order_ids.add(order.id)
    effects.shipment_ids.update(order.shipment_links.values_list("shipment_id", flat=True))
    references_replace(order, [(Reference.ReferenceType.ORDER_NUMBER, order.order_number),
                               (Reference.ReferenceType.CUSTOMER_PO, order.customer_po)])
    effects.released_keys.add(f"order:{order.order_number}")


def project_order_cancelled(event: ProjectedEvent, effects: ProjectionEffects) -> None:
    order = (
        Order.objects.select_for_update().filter(order_number=event.data["order_number"]).first()
    )
    if order is None:
        raise Hold(f"order:{event.data['order_number']}")
    # Several cancellations of one order converge on the earliest (occurred_at, key).
    current = (order.cancelled_at, order.cancel_reason)
    if order.cancelled_at is None or event.occurred_at < order.cancelled_at:
        order.cancelled_at = event.occurred_at
        order.cancel_reason = event.data.get("reason") or ""
    if (order.cancelled_at, order.cancel_reason) != current:
        order.save(update_fields=["cancelled_at", "cancel_reason"])
    effects.order_ids.add(order.id)
    effects.shipment_ids.update(order.shipment_links.values_list("shipment_id", flat=True))


# --- shipments ---------------------------------------------------------------------------


def project_shipment_created(event: ProjectedEvent, effects: ProjectionEffects) -> None:
    data = event.data
    order_numbers = sorted({link["order_number"] for link in data["orders"]})
    orders = {order.order_number: order for order in Order.objects.filter(
        order_number__in=order_numbers).select_related("customer_account")}
    for number in order_numbers:
        if number not in orders:
            raise Hold(f"order:{number}")
    shipment = (
        Shipment.objects.select_for_update().filter(shipment_id=data["shipment_id"]).first()
    )
    carrier = data.get("carrier") or {}
    if shipment is None:
        shipment = Shipment(shipment_id=data["shipment_id"])
    elif not _is_newer(event, shipment):
        # An older snapshot still competes for the carrier, which any event naming one
        # sets by (occurred_at, key): otherwise the result would depend on arrival order.
        if carrier.get("scac") and _set_carrier(shipment, carrier, event):
            shipment.save(update_fields=CARRIER_FIELDS)
        effects.shipment_ids.add(shipment.id)
        return
    # Re-derived from the orders on every derivation; set here for the first insert.
    shipment.customer_account = orders[order_numbers[0]].customer_account
    shipment.load_id = data.get("load_id") or ""
    shipment.mode = data.get("mode") or ""
    shipment.service_level = data.get("service_level") or ""
    shipment.tracking_numbers = list(data.get("tracking_numbers") or [])
    shipment.origin = data.get("origin")
    shipment.destination = data.get("destination")
    shipment.planned_pickup_at = _timestamp(data.get("planned_pickup_at"))
    shipment.planned_delivery_at = _timestamp(data.get("planned_delivery_at"))
    if carrier.get("scac"):
        _set_carrier(shipment, carrier, event)
    _set_snapshot_version(shipment, event)
    shipment.save()

    shipment.stops.all().delete()
    ShipmentStop.objects.bulk_create(
        ShipmentStop(
            shipment=shipment,
            sequence=stop["sequence"],
            stop_type=stop["type"],
            location=stop.get("location"),
            planned_arrival=_timestamp(stop.get("planned_arrival")),
        )
        for stop in {stop["sequence"]: stop for stop in data.get("stops") or []}.values()
    )
    shipment.order_links.all().delete()
    line_numbers: dict[str, set[int]] = {}
    for link in data["orders"]:
        line_numbers.setdefault(link["order_number"], set()).update(link.get("line_numbers") or [])
    ShipmentOrder.objects.bulk_create(
        ShipmentOrder(shipment=shipment, order=orders[number],
                      line_numbers=sorted(line_numbers[number]))
        for number in order_numbers
    )
    effects.shipment_ids.add(shipment.id)
    effects.order_ids.update(order.id for order in orders.values())
    references_replace(shipment, [
        (Reference.ReferenceType.SHIPMENT_ID, shipment.shipment_id),
        (Reference.ReferenceType.LOAD_ID, shipment.load_id),
        *((Reference.ReferenceType.TRACKING_NUMBER, number)
          for number in shipment.tracking_numbers),
    ])
    effects.released_keys.add(f"shipment:{shipment.shipment_id}")


CARRIER_FIELDS = ["carrier_scac", "carrier_name", "carrier_occurred_at", "carrier_event_key"]


def _set_carrier(shipment: Shipment, carrier: dict[str, Any], event: ProjectedEvent) -> bool:
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


def project_tender_accepted(event: ProjectedEvent, effects: ProjectionEffects) -> None:
    shipment = _shipment(event.data["shipment_id"], lock=True)
    _set_carrier(shipment, event.data["carrier"], event)
    accepted_at = _timestamp(event.data.get("accepted_at")) or event.occurred_at
    if shipment.tender_accepted_at is None or accepted_at > shipment.tender_accepted_at:
        shipment.tender_accepted_at = accepted_at
    shipment.save()
    effects.shipment_ids.add(shipment.id)


def _status_code_mappings() -> dict[str, StatusCodeMapping]:
    return {mapping.code: mapping for mapping in StatusCodeMapping.objects.all()}


def _milestone_fact(event: ProjectedEvent, mappings: dict[str, StatusCodeMapping]) -> dict:
    data = event.data
    fact: dict[str, Any] = {
        "kind": ShipmentEvent.Kind.MILESTONE,
        "milestone": data.get("milestone") or "",
        "carrier_status_code": data.get("carrier_status_code") or "",
        "location": data.get("location"),
        "stop_sequence": data.get("stop_sequence"),
        "remarks": data.get("remarks") or "",
        "received_by": data.get("received_by") or "",
    }
    code = fact["carrier_status_code"]
    if fact["milestone"] or not code:
        return fact
    mapping = mappings.get(code)
    if mapping is None:
        fact["kind"] = ShipmentEvent.Kind.UNMAPPED_CODE
    elif mapping.action == StatusCodeAction.MILESTONE:
        fact["milestone"] = mapping.milestone
    elif mapping.action == StatusCodeAction.ETA and data.get("eta"):
        fact.update(kind=ShipmentEvent.Kind.ETA, eta=_timestamp(data["eta"]), eta_basis="carrier")
    elif mapping.action == StatusCodeAction.DELAY:
        fact.update(kind=ShipmentEvent.Kind.DELAY, reason_code=code,
                    reason_text=fact["remarks"])
    else:
        fact["kind"] = ShipmentEvent.Kind.STATUS_CODE
    return fact


def _eta_fact(event: ProjectedEvent, mappings: dict[str, StatusCodeMapping]) -> dict:
    data = event.data
    return {
        "kind": ShipmentEvent.Kind.ETA,
        "eta": _timestamp(data["eta"]),
        "eta_window_start": _timestamp(data.get("eta_window_start")),
        "eta_window_end": _timestamp(data.get("eta_window_end")),
        "eta_basis": data.get("basis") or "",
    }


def _delay_fact(event: ProjectedEvent, mappings: dict[str, StatusCodeMapping]) -> dict:
    data = event.data
    return {
        "kind": ShipmentEvent.Kind.DELAY,
        "reason_code": data["reason_code"],
        "reason_text": data.get("reason_text") or "",
        "eta": _timestamp(data.get("new_eta")),
    }


HISTORY_FACTS = {
    "shipment.milestone": _milestone_fact,
    "shipment.eta_updated": _eta_fact,
    "shipment.delayed": _delay_fact,
}


def project_history_events(events: list[ProjectedEvent],
                           effects: ProjectionEffects) -> dict[str, str]:
    """Add milestones, ETAs and delays to their shipments' history in bulk.

    These are most of the traffic, so a batch of them costs three statements: look up
    the shipments, read the mapping table, insert the facts (duplicates ignored).
    Returns the events held because their shipment is unknown, with what they wait for.
    """
    if not events:
        return {}
    shipment_pks = dict(
        Shipment.objects.filter(shipment_id__in={event.data["shipment_id"] for event in events})
        .values_list("shipment_id", "id")
    )
    mappings = _status_code_mappings()
    held: dict[str, str] = {}
    facts: list[ShipmentEvent] = []
    for event in events:
        shipment_pk = shipment_pks.get(event.data["shipment_id"])
        if shipment_pk is None:
            held[event.key] = f"shipment:{event.data['shipment_id']}"
            continue
        fields = HISTORY_FACTS[event.event_type](event, mappings)
        facts.append(ShipmentEvent(shipment_id=shipment_pk, event_key=event.key,
                                   occurred_at=event.occurred_at, **fields))
        effects.shipment_ids.add(shipment_pk)
    ShipmentEvent.objects.bulk_create(facts, ignore_conflicts=True, batch_size=1000)
    return held


def project_history_event(event: ProjectedEvent, effects: ProjectionEffects) -> None:
    held = project_history_events([event], effects)
    if held:
        raise Hold(held[event.key])


def project_freight_charge(event: ProjectedEvent, effects: ProjectionEffects) -> None:
    data = event.data
    shipment = _shipment(data["shipment_id"])
    FreightCharge.objects.bulk_create(
        [FreightCharge(charge_id=data["charge_id"], shipment=shipment,
                       charge_type=data["charge_type"], amount=Decimal(data["amount"]),
                       currency=data["currency"], occurred_at=event.occurred_at,
                       event_key=event.key)],
        ignore_conflicts=True,
    )


# --- invoices and documents ----------------------------------------------------------------


def project_invoice_posted(event: ProjectedEvent, effects: ProjectionEffects) -> None:
    data = event.data
    account = _owned_account(data["customer_account"])
    invoice = (
        Invoice.objects.select_for_update().filter(invoice_number=data["invoice_number"]).first()
    )
    if invoice is None:
        invoice = Invoice(invoice_number=data["invoice_number"])
    elif not _is_newer(event, invoice):
        return
    invoice.customer_account = account
    invoice.order_numbers = list(data.get("order_numbers") or [])
    invoice.shipment_ids = list(data.get("shipment_ids") or [])
    invoice.issue_date = data.get("issue_date")
    invoice.due_date = data.get("due_date")
    invoice.currency = data["currency"]
    invoice.total_amount = Decimal(data["total_amount"])
    _set_snapshot_version(invoice, event)
    invoice.save()
    invoice.lines.all().delete()
    InvoiceLine.objects.bulk_create(
        InvoiceLine(invoice=invoice, position=position,
                    description=line.get("description") or "", amount=Decimal(line["amount"]))
        for position, line in enumerate(data.get("lines") or [], start=1)
    )
    references_replace(invoice, [(Reference.ReferenceType.INVOICE_NUMBER,
                                  invoice.invoice_number)])
    effects.released_keys.add(f"invoice:{invoice.invoice_number}")


def project_invoice_paid(event: ProjectedEvent, effects: ProjectionEffects) -> None:
    data = event.data
    invoice = (
        Invoice.objects.select_for_update().filter(invoice_number=data["invoice_number"]).first()
    )
    if invoice is None:
        raise Hold(f"invoice:{data['invoice_number']}")
    if (event.occurred_at, event.key) > (
        invoice.paid_at or datetime.min.replace(tzinfo=event.occurred_at.tzinfo),
        invoice.payment_event_key,
    ):
        invoice.paid_at = _timestamp(data.get("paid_at")) or event.occurred_at
        invoice.paid_amount = Decimal(data["amount"]) if data.get("amount") else None
        invoice.payment_event_key = event.key
        invoice.save(update_fields=["paid_at", "paid_amount", "payment_event_key"])


def project_document_available(event: ProjectedEvent, effects: ProjectionEffects) -> None:
    data = event.data
    if Document.objects.filter(document_id=data["document_id"]).exists():
        return
    shipment = order = invoice = None
    if data.get("shipment_id"):
        shipment = _shipment(data["shipment_id"])
        account_id = shipment.customer_account_id
    elif data.get("order_number"):
        order = Order.objects.filter(order_number=data["order_number"]).first()
        if order is None:
            raise Hold(f"order:{data['order_number']}")
        account_id = order.customer_account_id
    else:
        invoice = Invoice.objects.filter(invoice_number=data["invoice_number"]).first()
        if invoice is None:
            raise Hold(f"invoice:{data['invoice_number']}")
        account_id = invoice.customer_account_id
    content = base64.b64decode(data["content_base64"])
    checksum = hashlib.sha256(content).hexdigest()
    document = Document(
        document_id=data["document_id"], document_type=data["document_type"],
        customer_account_id=account_id, shipment=shipment, order=order, invoice=invoice,
        filename=data["filename"], content_type=data["content_type"], size=len(content),
        sha256=checksum, occurred_at=event.occurred_at, event_key=event.key,
    )
    # Content-addressed name: replaying or rebuilding reuses the stored file. The client's
    # filename (up to 255 characters) stays out of the path; downloads send it back.
    name = f"documents/sha256/{checksum[:2]}/{checksum}"
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(content))
    document.file.name = name
    document.save()
    references_add(shipment or order or invoice,
                   [(Reference.ReferenceType.DOCUMENT_ID, document.document_id)])
    if shipment is not None:
        effects.shipment_ids.add(shipment.id)


PROJECTORS: dict[str, Callable[[ProjectedEvent, ProjectionEffects], None]] = {
    "order.released": project_order_released,
    "order.cancelled": project_order_cancelled,
    "shipment.created": project_shipment_created,
    "shipment.tender_accepted": project_tender_accepted,
    "shipment.milestone": project_history_event,
    "shipment.eta_updated": project_history_event,
    "shipment.delayed": project_history_event,
    "document.available": project_document_available,
    "invoice.posted": project_invoice_posted,
    "invoice.paid": project_invoice_paid,
    "freight.charge_posted": project_freight_charge,
}

# Within a batch, snapshots that others depend on go first so fewer events are held.
PROJECTION_ORDER = {event_type: rank for rank, event_type in enumerate(PROJECTORS)}
PROJECTION_ORDER["invoice.posted"] = 2


def project_event(event: ProjectedEvent, effects: ProjectionEffects) -> None:
    PROJECTORS[event.event_type](event, effects)


def project_batch(events: list[ProjectedEvent], effects: ProjectionEffects) -> dict[str, str]:
    """Apply a whole batch (sorted by PROJECTION_ORDER); return held keys -> waiting_for.

    Snapshots go one by one (each reads and compares a version); history events go in
    bulk after them, so a shipment created in the same batch is found.
    """
    held: dict[str, str] = {}
    history: list[ProjectedEvent] = []
    for event in events:
        if event.event_type in HISTORY_FACTS:
            history.append(event)
            continue
        try:
            project_event(event, effects)
        except Hold as hold:
            held[event.key] = hold.waiting_for
    held.update(project_history_events(history, effects))
    return held
