"""A deterministic, realistic event mix, and how it is cut into intake requests.

Per order: `order.released` (sometimes released again with a newer sequence), one
shipment (sometimes two) with `shipment.created`, `shipment.tender_accepted`, one or two
`shipment.eta_updated`, 6-8 milestones (about a third sent by carriers as X12 214 status
codes, some with an extra "arrived at pick-up" code), sometimes `shipment.delayed`, one
or two `freight.charge_posted`, sometimes a POD `document.available` with tiny content,
then `invoice.posted` per order and sometimes `invoice.paid`. Shipments start spread
over weeks, so the stream sorted by `occurred_at` interleaves hundreds of live
shipments, as an ERP, a TMS and carrier feeds would send them.
"""

from __future__ import annotations

import base64
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

# (slug, name, ERP customer accounts)
TENANTS = [
    ("acme", "Acme Industrial", ["A-1001", "A-1002", "A-1003"]),
    ("brightline", "Brightline Retail", ["B-2001", "B-2002"]),
    ("coldchain", "Coldchain Foods", ["C-3001", "C-3002", "C-3003"]),
    ("delta", "Delta Medical", ["D-4001", "D-4002"]),
]
ACCOUNTS = [number for _, _, numbers in TENANTS for number in numbers]
SOURCES = ("erp", "tms", "carrier")  # also the order in which one window is posted

CITIES = [
    ("Rotterdam", "NL"),
    ("Hamburg", "DE"),
    ("Lyon", "FR"),
    ("Milan", "IT"),
    ("Antwerp", "BE"),
    ("Poznan", "PL"),
    ("Vienna", "AT"),
    ("Munich", "DE"),
    ("Gothenburg", "SE"),
    ("Valencia", "ES"),
    ("Brno", "CZ"),
    ("Porto", "PT"),
]
CARRIERS = [
    ("DHLF", "DHL Freight"),
    ("DSVR", "DSV Road"),
    ("KNIG", "Kuehne+Nagel"),
    ("UPSN", "UPS"),
    ("GEFC", "Gefco"),
    ("RABN", "Raben"),
]
# milestone -> X12 214 code a carrier may send instead (out_for_delivery has none)
X12_FOR = {
    "picked_up": "CP",
    "departed_origin": "AF",
    "arrived_hub": "X4",
    "departed_hub": "P1",
    "in_transit": "X6",
    "delivery_attempted": "AH",
    "delivered": "D1",
}
DELAY_REASONS = [("AO", "Weather"), ("AI", "Mechanical breakdown"), ("AQ", "Recipient unavailable")]
EPOCH = datetime(2026, 3, 2, tzinfo=UTC)
POD_CONTENT = base64.b64encode(b"%PDF-1.4\n% proof of delivery (bench)\n" + b"x" * 160).decode()


def _stamp(moment: datetime) -> str:
    return moment.isoformat()


def _location(city: tuple[str, str]) -> dict[str, Any]:
    return {"name": f"{city[0]} terminal", "city": city[0], "country": city[1]}


class _Stream:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.events: list[tuple[datetime, int, dict[str, Any]]] = []

    def add(
        self,
        source: str,
        event_type: str,
        moment: datetime,
        data: dict[str, Any],
        sequence: int | None = None,
    ) -> None:
        number = len(self.events)
        event = {
            "spec_version": "1.0",
            "event_id": f"{self.prefix}-{source}-{number:07d}",
            "event_type": event_type,
            "source": source,
            "occurred_at": _stamp(moment),
            "data": data,
        }
        if sequence is not None:
            event["sequence"] = sequence
        self.events.append((moment, number, event))


def _order(stream: _Stream, rng: random.Random, order_index: int, start: datetime) -> None:
    prefix = stream.prefix
    order_number = f"{prefix}-SO-{order_index:06d}"
    account = ACCOUNTS[order_index % len(ACCOUNTS)]
    origin, destination = rng.sample(CITIES, 2)
    lines = [
        {
            "line_number": 10 * (n + 1),
            "sku": f"SKU-{rng.randint(1000, 9999)}",
            "description": "Bench goods",
            "quantity": rng.randint(1, 80),
            "uom": "EA",
            "weight_kg": round(rng.uniform(0.5, 40), 2),
        }
        for n in range(rng.randint(1, 5))
    ]
    requested = (start + timedelta(days=4)).date().isoformat()
    order = {
        "order_number": order_number,
        "customer_account": account,
        "customer_po": f"PO-{prefix}-{rng.randint(100000, 999999)}",
        "order_date": start.date().isoformat(),
        "requested_delivery_date": requested,
        "ship_from": _location(origin),
        "ship_to": _location(destination),
        "lines": lines,
    }
    stream.add("erp", "order.released", start, order, sequence=1)
    if rng.random() < 0.08:  # the ERP sends a corrected snapshot
        stream.add(
            "erp",
            "order.released",
            start + timedelta(minutes=50),
            {**order, "lines": lines[:1]},
            sequence=2,
        )

    shipment_ids = [
        f"{prefix}-SHP-{order_index:06d}-{n}" for n in range(2 if rng.random() < 0.1 else 1)
    ]
    delivered_at = start
    for shipment_id in shipment_ids:
        delivered_at = max(
            delivered_at,
            _shipment(
                stream,
                rng,
                shipment_id,
                order_number,
                [line["line_number"] for line in lines],
                start,
                origin,
                destination,
            ),
        )
    invoice_number = f"{prefix}-INV-{order_index:06d}"
    amount = f"{rng.randint(200, 9000)}.{rng.randint(0, 99):02d}"
    stream.add(
        "erp",
        "invoice.posted",
        delivered_at + timedelta(hours=20),
        {
            "invoice_number": invoice_number,
            "customer_account": account,
            "order_numbers": [order_number],
            "shipment_ids": shipment_ids,
            "issue_date": (delivered_at + timedelta(days=1)).date().isoformat(),
            "due_date": (delivered_at + timedelta(days=31)).date().isoformat(),
            "currency": "EUR",
            "total_amount": amount,
            "lines": [{"description": "Goods", "amount": amount}],
        },
        sequence=1,
    )
    if rng.random() < 0.3:
        stream.add(
            "erp",
            "invoice.paid",
            delivered_at + timedelta(days=rng.randint(2, 9)),
            {"invoice_number": invoice_number, "amount": amount},
        )


def _shipment(
    stream: _Stream,
    rng: random.Random,
    shipment_id: str,
    order_number: str,
    line_numbers: list[int],
    start: datetime,
    origin: tuple[str, str],
    destination: tuple[str, str],
) -> datetime:
    scac, carrier_name = rng.choice(CARRIERS)
    pickup = start + timedelta(hours=rng.randint(12, 30))
    planned_delivery = pickup + timedelta(hours=rng.randint(30, 60))
    created = start + timedelta(hours=2, minutes=rng.randint(0, 59))
    stream.add(
        "tms",
        "shipment.created",
        created,
        {
            "shipment_id": shipment_id,
            "load_id": f"LD-{shipment_id[-8:]}",
            "orders": [{"order_number": order_number, "line_numbers": line_numbers}],
            "carrier": {"scac": scac, "name": carrier_name},
            "mode": rng.choice(["ltl", "ftl", "parcel"]),
            "service_level": "standard",
            "tracking_numbers": [f"1Z{rng.randint(10**9, 10**10)}"],
            "origin": _location(origin),
            "destination": _location(destination),
            "stops": [
                {
                    "sequence": 1,
                    "type": "pickup",
                    "location": _location(origin),
                    "planned_arrival": _stamp(pickup),
                },
                {
                    "sequence": 2,
                    "type": "delivery",
                    "location": _location(destination),
                    "planned_arrival": _stamp(planned_delivery),
                },
            ],
            "planned_pickup_at": _stamp(pickup),
            "planned_delivery_at": _stamp(planned_delivery),
        },
        sequence=1,
    )
    stream.add(
        "tms",
        "shipment.tender_accepted",
        created + timedelta(minutes=40),
        {
            "shipment_id": shipment_id,
            "carrier": {"scac": scac, "name": carrier_name},
            "accepted_at": _stamp(created + timedelta(minutes=40)),
        },
    )
    stream.add(
        "tms",
        "shipment.eta_updated",
        created + timedelta(hours=1),
        {"shipment_id": shipment_id, "eta": _stamp(planned_delivery), "basis": "planned"},
    )

    milestones = [
        "picked_up",
        "departed_origin",
        "in_transit",
        "arrived_hub",
        "out_for_delivery",
        "delivered",
    ]
    count = rng.choice([6, 7, 8])
    if count >= 7:
        milestones.insert(4, "departed_hub")
    if count == 8:
        milestones.insert(-1, "delivery_attempted")
    by_code = rng.random() < 0.35
    moment = pickup
    if by_code and rng.random() < 0.5:
        stream.add(
            "carrier",
            "shipment.milestone",
            pickup - timedelta(minutes=30),
            {
                "shipment_id": shipment_id,
                "carrier_status_code": "X3",
                "location": _location(origin),
            },
        )
    transit_hours = (planned_delivery - pickup).total_seconds() / 3600 / len(milestones)
    for step, milestone in enumerate(milestones):
        moment = pickup + timedelta(hours=transit_hours * step + rng.uniform(0, 2))
        data: dict[str, Any] = {
            "shipment_id": shipment_id,
            "location": _location(origin if step < 2 else destination),
        }
        if by_code and milestone in X12_FOR:
            data["carrier_status_code"] = X12_FOR[milestone]
        else:
            data["milestone"] = milestone
        if milestone == "delivered":
            data["received_by"] = "J. Doe"
        stream.add("carrier", "shipment.milestone", moment, data)
        if step == 2 and rng.random() < 0.6:
            eta = planned_delivery + timedelta(hours=rng.randint(-4, 8))
            stream.add(
                "carrier",
                "shipment.eta_updated",
                moment + timedelta(minutes=5),
                {
                    "shipment_id": shipment_id,
                    "eta": _stamp(eta),
                    "basis": "carrier",
                    "eta_window_start": _stamp(eta - timedelta(hours=2)),
                    "eta_window_end": _stamp(eta + timedelta(hours=2)),
                },
            )
        if step == 3 and rng.random() < 0.15:
            code, text = rng.choice(DELAY_REASONS)
            stream.add(
                "carrier",
                "shipment.delayed",
                moment + timedelta(minutes=10),
                {
                    "shipment_id": shipment_id,
                    "reason_code": code,
                    "reason_text": text,
                    "new_eta": _stamp(planned_delivery + timedelta(hours=18)),
                },
            )
    delivered = moment
    charges = [("linehaul", f"{rng.randint(150, 2500)}.00")]
    if rng.random() < 0.5:
        charges.append(("fuel", f"{rng.randint(10, 300)}.50"))
    for n, (charge_type, amount) in enumerate(charges):
        stream.add(
            "tms",
            "freight.charge_posted",
            delivered + timedelta(hours=1, minutes=n),
            {
                "shipment_id": shipment_id,
                "charge_id": f"{shipment_id}-CH{n}",
                "charge_type": charge_type,
                "amount": amount,
                "currency": "EUR",
            },
        )
    if rng.random() < 0.2:
        stream.add(
            "tms",
            "document.available",
            delivered + timedelta(hours=2),
            {
                "document_id": f"{shipment_id}-POD",
                "document_type": "pod",
                "shipment_id": shipment_id,
                "filename": f"{shipment_id}-pod.pdf",
                "content_type": "application/pdf",
                "content_base64": POD_CONTENT,
            },
        )
    return delivered


def generate_events(count: int, *, prefix: str, seed: int = 2026) -> list[dict[str, Any]]:
    """`count` events, sorted by occurred_at, for orders numbered under `prefix`.

    Orders start about 15 events apart in a stream spread over weeks; the stream is cut
    at `count` events by time, so nothing is cut that a kept event depends on.
    """
    rng = random.Random(f"{seed}:{prefix}")
    stream = _Stream(prefix)
    orders = max(1, count // 13 + 8)
    spacing = timedelta(minutes=60 * 24 * 28 / orders)  # about four weeks of orders
    index = 0
    while True:
        while index < orders:
            _order(
                stream, rng, index, EPOCH + spacing * index + timedelta(minutes=rng.randint(0, 30))
            )
            index += 1
        stream.events.sort(key=lambda item: (item[0], item[1]))
        # Only keep what happened before the last order started: every order before it
        # has had time for the events that depend on it.
        horizon = EPOCH + spacing * (orders - 1)
        kept = [event for moment, _, event in stream.events if moment <= horizon]
        if len(kept) >= count:
            return kept[:count]
        orders = int(orders * 1.25) + 8


def intake_requests(
    events: list[dict[str, Any]], *, window: int, max_batch: int = 1000
) -> list[tuple[str, list[dict[str, Any]]]]:
    """Cut the stream into requests: per window of `window` events, one request per source
    (ERP first, then TMS, then carriers, as each system would send its own), each at most
    `max_batch` events. Within a window a carrier milestone may still arrive before the
    shipment it is about; the portal holds it until then, as in production."""
    requests: list[tuple[str, list[dict[str, Any]]]] = []
    for begin in range(0, len(events), window):
        chunk = events[begin : begin + window]
        for source in SOURCES:
            mine = [event for event in chunk if event["source"] == source]
            for offset in range(0, len(mine), max_batch):
                requests.append((source, mine[offset : offset + max_batch]))
    return requests


def window_for_batches_of(events: list[dict[str, Any]], size: int) -> int:
    """The window whose busiest source sends about `size` events per request."""
    shares = Counter(event["source"] for event in events)
    busiest = max(shares.values()) / max(1, len(events))
    return max(size, int(size / busiest))


def mix(events: list[dict[str, Any]]) -> dict[str, int]:
    return dict(Counter(event["event_type"] for event in events).most_common())
