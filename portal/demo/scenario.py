"""The demo's world: tenants, accounts and twelve weeks of shipments, as contract events.

Everything is generated from one seed and placed relative to `anchor` (the moment the
demo is loaded, to the minute), so no `occurred_at` lies in the future and the intake's
clock-skew limit never rejects an event. Planned dates and ETAs may lie ahead, as they
do in life. The mix is chosen so that every tile, chart and filter of the portal shows
something true: on-time and late deliveries per carrier and lane, delays with reasons,
exceptions, shipments gone quiet (tracking stale, overdue), missing PODs, open and paid
invoices, a consolidated shipment per account pair, and a few orders for an account no
tenant owns yet (held until a platform admin assigns it).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

STORY = Path(__file__).with_name("order-to-cash.jsonl")
WEEKS = 12
SEED = 2026

# A one-page PDF, the content of every demo document.
PDF_BASE64 = (
    "JVBERi0xLjQKMSAwIG9iajw8L1R5cGUvQ2F0YWxvZy9QYWdlcyAyIDAgUj4+ZW5kb2JqCjIgMCBvYmo8PC9UeXBlL1Bh"
    "Z2VzL0tpZHNbMyAwIFJdL0NvdW50IDE+PmVuZG9iagozIDAgb2JqPDwvVHlwZS9QYWdlL1BhcmVudCAyIDAgUi9NZWRp"
    "YUJveFswIDAgMjAwIDEwMF0+PmVuZG9iagp0cmFpbGVyPDwvUm9vdCAxIDAgUj4+CiUlRU9GCg=="
)


@dataclass(frozen=True)
class DemoTenant:
    slug: str
    name: str
    accounts: tuple[str, ...]


TENANTS = (
    DemoTenant("brenner", "Brenner Tools GmbH", ("C-1001", "C-1002")),
    DemoTenant("nordwind", "Nordwind Retail AB", ("C-2001",)),
    DemoTenant("alpenmed", "Alpenmed Supplies AG", ("C-3001", "C-3002")),
)
# Shipments generated per account (the story adds SHP-778120 to C-1001).
SHIPMENTS_PER_ACCOUNT = {"C-1001": 80, "C-1002": 50, "C-2001": 80, "C-3001": 60, "C-3002": 30}
# Nobody owns this account when the demo loads: its events wait, held, for an admin.
UNASSIGNED_ACCOUNT = "C-9001"
UNASSIGNED_SHIPMENTS = 4

PLACES = {
    "Rotterdam": ("NL", 51.9244, 4.4777, "NLRTM"),
    "Hamburg": ("DE", 53.5511, 9.9937, "DEHAM"),
    "Munich": ("DE", 48.1351, 11.5820, "DEMUC"),
    "Lyon": ("FR", 45.7640, 4.8357, "FRLYS"),
    "Milan": ("IT", 45.4642, 9.1900, "ITMIL"),
    "Antwerp": ("BE", 51.2194, 4.4025, "BEANR"),
    "Poznan": ("PL", 52.4064, 16.9252, "PLPOZ"),
    "Vienna": ("AT", 48.2082, 16.3738, "ATVIE"),
    "Gothenburg": ("SE", 57.7089, 11.9746, "SEGOT"),
    "Stockholm": ("SE", 59.3293, 18.0686, "SESTO"),
    "Zurich": ("CH", 47.3769, 8.5417, "CHZRH"),
    "Shanghai": ("CN", 31.2304, 121.4737, "CNSHA"),
    "Chicago": ("US", 41.8781, -87.6298, "USCHI"),
}


@dataclass(frozen=True)
class Lane:
    origin: str
    destination: str
    mode: str
    transit_hours: int
    carriers: tuple[tuple[str, str], ...]
    service_level: str = "standard"


DHL = ("DHLF", "DHL Freight")
DSV = ("DSVR", "DSV Road")
KN = ("KNIG", "Kuehne+Nagel")
UPS = ("UPSN", "UPS")
DBS = ("DBSR", "DB Schenker")
MAERSK = ("MAEU", "Maersk")
LUFTHANSA = ("GEC", "Lufthansa Cargo")

LANES = (
    Lane("Rotterdam", "Munich", "ltl", 52, (DHL, DSV)),
    Lane("Hamburg", "Vienna", "ftl", 30, (DSV, DBS)),
    Lane("Antwerp", "Lyon", "ltl", 48, (KN, DHL)),
    Lane("Poznan", "Hamburg", "ftl", 20, (DBS,)),
    Lane("Milan", "Zurich", "parcel", 28, (UPS,), "express"),
    Lane("Munich", "Milan", "ltl", 40, (DHL, KN)),
    Lane("Gothenburg", "Stockholm", "parcel", 22, (UPS, DHL)),
    Lane("Hamburg", "Gothenburg", "rail", 60, (DBS,)),
    Lane("Shanghai", "Rotterdam", "ocean", 24 * 30, (MAERSK,)),
    Lane("Chicago", "Munich", "air", 60, (LUFTHANSA,), "priority"),
)
# Each tenant ships mostly on some lanes (so that per-lane charts differ by customer).
TENANT_LANES = {
    "brenner": (0, 2, 3, 5, 8, 9),
    "nordwind": (1, 3, 6, 7, 8),
    "alpenmed": (4, 5, 0, 9, 2),
}
# X12 1651 reasons a delay gives, with their words.
DELAY_REASONS = (
    ("AO", "Weather: storm warning on the route"),
    ("AI", "Truck breakdown, replacement vehicle sent"),
    ("AQ", "Recipient unavailable, delivery rebooked"),
    ("D2", "Driver not available"),
    ("CA", "Held at customs for documentation"),
    ("BE", "Road closure, detour"),
)
# X12 214 codes that record an exception, and what the carrier said.
EXCEPTION_CODES = (
    ("A9", "Pallet damaged in handling at the hub"),
    ("A7", "Refused by consignee: wrong quantity"),
)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _place(city: str, *, name: str | None = None) -> dict[str, Any]:
    country, lat, lon, code = PLACES[city]
    place: dict[str, Any] = {
        "city": city,
        "country": country,
        "lat": lat,
        "lon": lon,
        "location_code": code,
    }
    if name:
        place["name"] = name
    return place


class _Events:
    """The events of one run, with per-source counters for their ids."""

    def __init__(self, anchor: datetime) -> None:
        self.anchor = anchor
        self.events: list[dict[str, Any]] = []

    def add(
        self,
        source: str,
        event_id: str,
        event_type: str,
        occurred_at: datetime,
        data: dict[str, Any],
        sequence: int | None = None,
    ) -> bool:
        """Add the event unless it has not happened yet; say whether it was added."""
        if occurred_at > self.anchor:
            return False
        event: dict[str, Any] = {
            "spec_version": "1.0",
            "event_id": event_id,
            "event_type": event_type,
            "source": source,
            "occurred_at": _iso(occurred_at),
            "data": data,
        }
        if sequence is not None:
            event["sequence"] = sequence
        self.events.append(event)
        return True


@dataclass
class _Plan:
    """What will happen to one shipment: its clock and its fate."""

    shipment_id: str
    orders: list[tuple[str, str]]  # (order_number, account)
    lane: Lane
    carrier: tuple[str, str]
    released: datetime
    pickup: datetime
    planned_delivery: datetime
    fate: str  # on_time, delayed, exception, quiet
    delay: timedelta
    pod: bool
    invoiced: bool


def _fate(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.76:
        return "on_time"
    if roll < 0.9:
        return "delayed"
    if roll < 0.96:
        return "exception"
    return "quiet"


def _plan(
    rng: random.Random,
    *,
    anchor: datetime,
    shipment_id: str,
    orders: list[tuple[str, str]],
    lanes: tuple[int, ...],
) -> _Plan:
    lane = LANES[rng.choice(lanes)]
    # Ocean shipments start earlier so that some of them have arrived.
    span_hours = WEEKS * 7 * 24 - (lane.transit_hours // 2 if lane.mode == "ocean" else 0)
    released = anchor - timedelta(hours=rng.randint(6, span_hours), minutes=rng.randint(0, 59))
    pickup = (released + timedelta(days=1)).replace(hour=8, minute=0, second=0)
    fate = _fate(rng)
    delay = (
        timedelta(hours=rng.randint(18, 80)) if fate in ("delayed", "exception") else timedelta()
    )
    # Some on-time shipments arrive early or a little past the promise (the promise is a
    # date, so a few hours late on the day still counts as on time).
    if fate == "on_time":
        delay = timedelta(hours=rng.randint(-6, 3))
    return _Plan(
        shipment_id=shipment_id,
        orders=orders,
        lane=lane,
        carrier=rng.choice(lane.carriers),
        released=released,
        pickup=pickup,
        planned_delivery=pickup + timedelta(hours=lane.transit_hours),
        fate=fate,
        delay=delay,
        pod=rng.random() < 0.9,
        invoiced=rng.random() < 0.92,
    )


def _tracking_number(rng: random.Random, scac: str) -> str:
    if scac == "UPSN":
        return f"1Z{rng.randint(10**15, 10**16 - 1):X}"[:18]
    if scac == "MAEU":
        return f"MAEU{rng.randint(10**8, 10**9 - 1)}"
    return f"JJD{rng.randint(10**12, 10**13 - 1)}"


def _order_events(
    out: _Events, rng: random.Random, plan: _Plan, tenant: DemoTenant, skus: list[str]
) -> None:
    requested = plan.planned_delivery.date() + timedelta(days=rng.choice((0, 0, 0, 1)))
    for order_number, account in plan.orders:
        lines = [
            {
                "line_number": 10 * (number + 1),
                "sku": sku,
                "description": sku.replace("-", " ").title(),
                "quantity": rng.randint(1, 120),
                "uom": "EA",
                "weight_kg": round(rng.uniform(0.5, 400), 1),
            }
            for number, sku in enumerate(rng.sample(skus, rng.randint(1, 3)))
        ]
        out.add(
            "erp",
            f"erp-{order_number}",
            "order.released",
            plan.released,
            {
                "order_number": order_number,
                "customer_account": account,
                "customer_po": f"PO-{tenant.slug[:3].upper()}-{rng.randint(1000, 99999)}",
                "order_date": plan.released.date().isoformat(),
                "requested_delivery_date": requested.isoformat(),
                "ship_from": _place(plan.lane.origin, name=f"{plan.lane.origin} DC"),
                "ship_to": _place(plan.lane.destination, name=f"{tenant.name}, {account}"),
                "lines": lines,
            },
            sequence=1,
        )


def _shipment_events(out: _Events, rng: random.Random, plan: _Plan) -> datetime | None:
    """The shipment's execution; answer when it was delivered (None: not yet)."""
    shipment_id, lane = plan.shipment_id, plan.lane
    scac, carrier_name = plan.carrier
    created = plan.released + timedelta(hours=2)
    tms = f"tms-{shipment_id}"
    out.add(
        "tms",
        f"{tms}-created",
        "shipment.created",
        created,
        {
            "shipment_id": shipment_id,
            "load_id": f"LD-{shipment_id[4:]}",
            "orders": [{"order_number": number} for number, _ in plan.orders],
            "carrier": {"scac": scac, "name": carrier_name},
            "mode": lane.mode,
            "service_level": lane.service_level,
            "tracking_numbers": [_tracking_number(rng, scac)],
            "origin": _place(lane.origin),
            "destination": _place(lane.destination),
            "stops": [
                {
                    "sequence": 1,
                    "type": "pickup",
                    "location": _place(lane.origin),
                    "planned_arrival": _iso(plan.pickup),
                },
                {
                    "sequence": 2,
                    "type": "delivery",
                    "location": _place(lane.destination),
                    "planned_arrival": _iso(plan.planned_delivery),
                },
            ],
            "planned_pickup_at": _iso(plan.pickup),
            "planned_delivery_at": _iso(plan.planned_delivery),
        },
        sequence=1,
    )
    out.add(
        "tms",
        f"{tms}-tender",
        "shipment.tender_accepted",
        created + timedelta(minutes=40),
        {"shipment_id": shipment_id, "carrier": {"scac": scac, "name": carrier_name}},
    )
    transit = plan.planned_delivery - plan.pickup
    # Carrier feeds report DHL's shipments themselves, with X12 214 codes.
    feed = "carrier" if scac == "DHLF" else "tms"
    prefix = f"{feed}-{shipment_id}"

    def milestone(step: str, moment: datetime, stop: int | None = None, **extra: Any) -> bool:
        data: dict[str, Any] = {"shipment_id": shipment_id, **extra}
        codes = {"picked_up": "CP", "departed_origin": "AF", "arrived_hub": "X4"}
        if feed == "carrier" and step in codes:
            data["carrier_status_code"] = codes[step]
        else:
            data["milestone"] = step
        if stop is not None:
            data["stop_sequence"] = stop
        return out.add(feed, f"{prefix}-{step}", "shipment.milestone", moment, data)

    pickup_at = plan.pickup + timedelta(minutes=rng.randint(-30, 90))
    milestone("picked_up", pickup_at, 1, location=_place(lane.origin))
    milestone("departed_origin", pickup_at + timedelta(hours=1), 1, location=_place(lane.origin))
    hub = pickup_at + transit * 0.4
    milestone("arrived_hub", hub)
    if plan.fate == "quiet":
        return None  # the carrier goes silent: stale tracking, then overdue
    milestone("departed_hub", hub + timedelta(hours=3))
    if plan.fate == "delayed":
        code, text = rng.choice(DELAY_REASONS)
        out.add(
            feed,
            f"{prefix}-delay",
            "shipment.delayed",
            pickup_at + transit * 0.5,
            {
                "shipment_id": shipment_id,
                "reason_code": code,
                "reason_text": text,
                "new_eta": _iso(plan.planned_delivery + plan.delay),
            },
        )
    if plan.fate == "exception":
        code, text = rng.choice(EXCEPTION_CODES)
        raised = pickup_at + transit * 0.6
        if not out.add(
            feed,
            f"{prefix}-exception",
            "shipment.milestone",
            raised,
            {"shipment_id": shipment_id, "carrier_status_code": code, "remarks": text},
        ):
            return None
        # Most exceptions are worked and delivered later; recent ones are still open.
        if raised > out.anchor - timedelta(days=10):
            return None
    eta = plan.planned_delivery + plan.delay
    out.add(
        feed,
        f"{prefix}-eta",
        "shipment.eta_updated",
        pickup_at + transit * 0.7,
        {
            "shipment_id": shipment_id,
            "eta": _iso(eta),
            "eta_window_start": _iso(eta - timedelta(hours=2)),
            "eta_window_end": _iso(eta + timedelta(hours=2)),
            "basis": "carrier",
        },
    )
    milestone("out_for_delivery", eta - timedelta(hours=4), 2, location=_place(lane.destination))
    delivered = milestone(
        "delivered", eta, 2, location=_place(lane.destination), received_by="Goods-in"
    )
    return eta if delivered else None


def _paperwork(
    out: _Events, rng: random.Random, plan: _Plan, delivered: datetime, invoice_number: str
) -> None:
    shipment_id = plan.shipment_id
    if plan.pod:
        out.add(
            "tms",
            f"tms-{shipment_id}-pod",
            "document.available",
            delivered + timedelta(hours=rng.randint(1, 20)),
            {
                "document_id": f"DOC-POD-{shipment_id[4:]}",
                "document_type": "pod",
                "shipment_id": shipment_id,
                "filename": f"POD-{shipment_id}.pdf",
                "content_type": "application/pdf",
                "content_base64": PDF_BASE64,
            },
        )
    charged = delivered + timedelta(hours=6)
    amount = round(rng.uniform(180, 2400), 2)
    for order_number, account in plan.orders:
        out.add(
            "tms",
            f"tms-{shipment_id}-{order_number}-linehaul",
            "freight.charge_posted",
            charged,
            {
                "shipment_id": shipment_id,
                "charge_id": f"CHG-{shipment_id[4:]}-{order_number[3:]}-L",
                "charge_type": "linehaul",
                "amount": f"{amount:.2f}",
                "currency": "EUR",
                "customer_account": account,
            },
        )
        out.add(
            "tms",
            f"tms-{shipment_id}-{order_number}-fuel",
            "freight.charge_posted",
            charged,
            {
                "shipment_id": shipment_id,
                "charge_id": f"CHG-{shipment_id[4:]}-{order_number[3:]}-F",
                "charge_type": "fuel",
                "amount": f"{amount * 0.14:.2f}",
                "currency": "EUR",
                "customer_account": account,
            },
        )
    if not plan.invoiced:
        return  # delivered, not invoiced: the clock flags it
    order_number, account = plan.orders[0]
    issued = delivered + timedelta(days=1)
    goods = round(rng.uniform(900, 42000), 2)
    total = goods + amount
    posted = out.add(
        "erp",
        f"erp-{invoice_number}",
        "invoice.posted",
        issued,
        {
            "invoice_number": invoice_number,
            "customer_account": account,
            "order_numbers": [order_number],
            "shipment_ids": [shipment_id],
            "issue_date": issued.date().isoformat(),
            "due_date": (issued.date() + timedelta(days=30)).isoformat(),
            "currency": "EUR",
            "total_amount": f"{total:.2f}",
            "lines": [
                {"description": "Goods", "amount": f"{goods:.2f}"},
                {"description": "Freight", "amount": f"{amount:.2f}"},
            ],
        },
        sequence=1,
    )
    if posted and rng.random() < 0.8:
        paid = issued + timedelta(days=rng.randint(4, 40), hours=rng.randint(0, 8))
        out.add(
            "erp",
            f"erp-{invoice_number}-paid",
            "invoice.paid",
            paid,
            {"invoice_number": invoice_number, "paid_at": _iso(paid), "amount": f"{total:.2f}"},
            sequence=2,
        )


SKUS = {
    "brenner": ["DRL-18V", "BAT-5AH", "SAW-CIRC", "BIT-SET-32", "GRD-125", "LVL-LASER"],
    "nordwind": ["JKT-WIND-M", "BOOT-TREK", "TENT-2P", "BAG-40L", "SOCK-WOOL", "CAP-KNIT"],
    "alpenmed": ["GLV-NITR-M", "MASK-FFP2", "SYR-5ML", "BAND-ELAS", "THERM-DIG", "GAUZE-10"],
    "unassigned": ["KAYAK-SEA", "PADDLE-CF", "DRYBAG-20L"],
}


def demo_events(anchor: datetime, *, seed: int = SEED) -> list[dict[str, Any]]:
    """Every generated demo event up to `anchor`, the same for the same seed and anchor."""
    rng = random.Random(seed)
    out = _Events(anchor)
    invoice_serial = 10000
    tenants = [(tenant, account) for tenant in TENANTS for account in tenant.accounts]
    unassigned = DemoTenant("unassigned", "Kestrel Outdoor", (UNASSIGNED_ACCOUNT,))
    counts = {**SHIPMENTS_PER_ACCOUNT, UNASSIGNED_ACCOUNT: UNASSIGNED_SHIPMENTS}
    for tenant, account in [*tenants, (unassigned, UNASSIGNED_ACCOUNT)]:
        for index in range(1, counts[account] + 1):
            number = f"{account[2:]}{index:03d}"
            orders = [(f"SO-{number}", account)]
            # Every 12th shipment of a tenant's first account also carries an order of
            # its second account (consolidation: each account sees only its own order).
            if len(tenant.accounts) > 1 and account == tenant.accounts[0] and index % 12 == 0:
                orders.append((f"SO-{number}-B", tenant.accounts[1]))
            plan = _plan(
                rng,
                anchor=anchor,
                shipment_id=f"SHP-{number}",
                orders=orders,
                lanes=TENANT_LANES.get(tenant.slug, (0, 5)),
            )
            _order_events(out, rng, plan, tenant, SKUS[tenant.slug])
            delivered = _shipment_events(out, rng, plan)
            invoice_serial += 1
            if delivered is not None:
                _paperwork(out, rng, plan, delivered, f"INV-2026-{invoice_serial:06d}")
    return out.events


# --- the contract's story, moved to the present -------------------------------------------

_TIMESTAMP_FIELDS = {
    "occurred_at",
    "eta",
    "eta_window_start",
    "eta_window_end",
    "new_eta",
    "paid_at",
    "planned_arrival",
    "planned_pickup_at",
    "planned_delivery_at",
    "accepted_at",
}
_DATE_FIELDS = {"order_date", "requested_delivery_date", "issue_date", "due_date"}


def _shifted(value: Any, days: int) -> Any:
    if isinstance(value, list):
        return [_shifted(item, days) for item in value]
    if not isinstance(value, dict):
        return value
    moved: dict[str, Any] = {}
    for key, item in value.items():
        if key in _TIMESTAMP_FIELDS and isinstance(item, str):
            moved[key] = (datetime.fromisoformat(item) + timedelta(days=days)).isoformat()
        elif key in _DATE_FIELDS and isinstance(item, str):
            moved[key] = (date.fromisoformat(item) + timedelta(days=days)).isoformat()
        else:
            moved[key] = _shifted(item, days)
    return moved


def story_events_now(anchor: datetime) -> list[dict[str, Any]]:
    """The contract's order-to-cash story (docs/EVENTS.md), moved by whole days so that
    its last event (the invoice paid) happened two days before `anchor`."""
    story = [json.loads(line) for line in STORY.read_text().splitlines() if line.strip()]
    last = max(datetime.fromisoformat(event["occurred_at"]) for event in story)
    days = (anchor - timedelta(days=2) - last).days
    return [_shifted(event, days) for event in story]


def demo_anchor(now: datetime) -> datetime:
    """The demo's 'now': the minute it is loaded."""
    return now.astimezone(UTC).replace(second=0, microsecond=0)
