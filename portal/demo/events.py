"""Demo events: the contract's order-to-cash story plus generated shipments in several states."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

STORY = Path(__file__).with_name("order-to-cash.jsonl")

CITIES = [
    ("Rotterdam", "NL"),
    ("Hamburg", "DE"),
    ("Lyon", "FR"),
    ("Milan", "IT"),
    ("Antwerp", "BE"),
    ("Poznan", "PL"),
    ("Vienna", "AT"),
    ("Munich", "DE"),
]
CARRIERS = [
    ("DHLF", "DHL Freight"),
    ("DSVR", "DSV Road"),
    ("KNIG", "Kuehne+Nagel"),
    ("UPSN", "UPS"),
]
PROGRESS = [
    "picked_up",
    "departed_origin",
    "arrived_hub",
    "departed_hub",
    "out_for_delivery",
    "delivered",
]


def story_events() -> list[dict[str, Any]]:
    return [json.loads(line) for line in STORY.read_text().splitlines() if line.strip()]


def _event(
    source: str,
    event_id: str,
    event_type: str,
    occurred_at: datetime,
    data: dict[str, Any],
    sequence: int | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "spec_version": "1.0",
        "event_id": event_id,
        "event_type": event_type,
        "source": source,
        "occurred_at": occurred_at.isoformat(),
        "data": data,
    }
    if sequence is not None:
        event["sequence"] = sequence
    return event


def generated_events(
    accounts: list[str], shipments_per_account: int = 8, seed: int = 7
) -> list[dict[str, Any]]:
    """Orders and shipments at every stage of the lifecycle, relative to now."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    events: list[dict[str, Any]] = []
    for account in accounts:
        for index in range(shipments_per_account):
            number = f"{account[2:]}{index:03d}"
            order_number, shipment_id = f"SO-{number}", f"SHP-{number}"
            start = now - timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 23))
            origin, destination = rng.sample(CITIES, 2)
            scac, carrier_name = rng.choice(CARRIERS)
            requested = (start + timedelta(days=4)).date().isoformat()
            events.append(
                _event(
                    "erp",
                    f"erp-gen-{number}",
                    "order.released",
                    start,
                    {
                        "order_number": order_number,
                        "customer_account": account,
                        "customer_po": f"PO-{rng.randint(10000, 99999)}",
                        "order_date": start.date().isoformat(),
                        "requested_delivery_date": requested,
                        "ship_to": {"city": destination[0], "country": destination[1]},
                        "lines": [
                            {
                                "line_number": 10,
                                "sku": f"SKU-{rng.randint(100, 999)}",
                                "description": "Demo goods",
                                "quantity": rng.randint(1, 50),
                                "uom": "EA",
                            }
                        ],
                    },
                    sequence=1,
                )
            )
            created = start + timedelta(hours=2)
            events.append(
                _event(
                    "tms",
                    f"tms-gen-{number}-c",
                    "shipment.created",
                    created,
                    {
                        "shipment_id": shipment_id,
                        "load_id": f"LD-{number[:3]}",
                        "orders": [{"order_number": order_number, "line_numbers": [10]}],
                        "carrier": {"scac": scac, "name": carrier_name},
                        "mode": "ltl",
                        "tracking_numbers": [f"1Z{rng.randint(10**9, 10**10)}"],
                        "origin": {"city": origin[0], "country": origin[1]},
                        "destination": {"city": destination[0], "country": destination[1]},
                        "planned_pickup_at": (start + timedelta(days=1)).isoformat(),
                        "planned_delivery_at": (start + timedelta(days=3)).isoformat(),
                    },
                    sequence=1,
                )
            )
            steps = index % (len(PROGRESS) + 1)
            for step, milestone in enumerate(PROGRESS[:steps]):
                moment = start + timedelta(days=1, hours=8 * step)
                if moment > now:
                    break
                events.append(
                    _event(
                        "tms",
                        f"tms-gen-{number}-m{step}",
                        "shipment.milestone",
                        moment,
                        {
                            "shipment_id": shipment_id,
                            "milestone": milestone,
                            "location": {"city": origin[0], "country": origin[1]},
                        },
                    )
                )
            if index % 4 == 3:
                events.append(
                    _event(
                        "tms",
                        f"tms-gen-{number}-d",
                        "shipment.delayed",
                        start + timedelta(days=1, hours=3),
                        {
                            "shipment_id": shipment_id,
                            "reason_code": "AO",
                            "reason_text": "Weather",
                            "new_eta": (start + timedelta(days=5)).isoformat(),
                        },
                    )
                )
    return events
