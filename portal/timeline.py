"""A shipment's page as a story: stops planned against actual, milestones in order, the
ETA against the promise in words, and the route sketch (presentation only: every row
comes from the selectors the view read)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.utils import timezone

from portal.charts import RouteSketch, route_sketch
from visibility.exception_reasons import reason_for_delay
from visibility.models import (
    ExceptionReason,
    Milestone,
    Shipment,
    ShipmentEvent,
    ShipmentStatus,
    ShipmentStop,
)

STOP_ARRIVALS = {
    Milestone.PICKED_UP,
    Milestone.DEPARTED_ORIGIN,
    Milestone.ARRIVED_HUB,
    Milestone.DEPARTED_HUB,
    Milestone.DELIVERED,
    Milestone.DELIVERY_ATTEMPTED,
}
STOP_TYPES = {"pickup": "Pick-up", "delivery": "Delivery"}


@dataclass(frozen=True)
class StopRow:
    sequence: int
    kind: str
    place: str
    planned: datetime | None
    actual: datetime | None
    actual_what: str


@dataclass(frozen=True)
class TimelineEntry:
    when: datetime
    what: str
    where: str
    detail: str
    tone: str  # "done", "problem" or "" (drawn as a filled, red or empty dot and in words)


def place_of(location: dict | None) -> str:
    if not location:
        return ""
    parts = [location.get("city") or location.get("name") or "", location.get("country") or ""]
    return ", ".join(part for part in parts if part) or location.get("location_code", "")


def delay_reason_in_words(fact: ShipmentEvent) -> str:
    """The reason of a delay as customers read it: the canonical reason of its code, and
    the carrier's own words when they add something."""
    reason = ExceptionReason(reason_for_delay(fact.reason_code)).label if fact.reason_code else ""
    text = fact.reason_text.strip()
    if text and text.lower() != reason.lower():
        return f"{reason}: {text}" if reason else text
    return reason or text or "No reason given"


def _entry(fact: ShipmentEvent) -> TimelineEntry | None:
    where = place_of(fact.location)
    if fact.kind == ShipmentEvent.Kind.MILESTONE:
        detail = fact.remarks
        if fact.received_by:
            detail = f"Received by {fact.received_by}"
        problem = fact.milestone in (Milestone.EXCEPTION, Milestone.DELIVERY_ATTEMPTED)
        return TimelineEntry(
            fact.occurred_at,
            fact.get_milestone_display(),
            where,
            detail,
            "problem" if problem else "done",
        )
    if fact.kind == ShipmentEvent.Kind.DELAY:
        return TimelineEntry(
            fact.occurred_at, "Delay reported", where, delay_reason_in_words(fact), "problem"
        )
    if fact.kind == ShipmentEvent.Kind.ETA and fact.eta:
        return TimelineEntry(fact.occurred_at, "New ETA", where, "", "")
    return None


def timeline(history: Sequence[ShipmentEvent]) -> list[TimelineEntry]:
    """Milestones, delays and ETA updates, oldest first (raw carrier codes left out)."""
    return [entry for fact in history if (entry := _entry(fact)) is not None]


def stop_rows(stops: Sequence[ShipmentStop], history: Sequence[ShipmentEvent]) -> list[StopRow]:
    """Each stop with its planned arrival and the first milestone reported at it."""
    reached: dict[int, ShipmentEvent] = {}
    for fact in history:
        if fact.stop_sequence is not None and fact.milestone in STOP_ARRIVALS:
            reached.setdefault(fact.stop_sequence, fact)
    return [
        StopRow(
            sequence=stop.sequence,
            kind=STOP_TYPES.get(stop.stop_type, stop.stop_type.capitalize()),
            place=place_of(stop.location) or f"Stop {stop.sequence}",
            planned=stop.planned_arrival,
            actual=reached[stop.sequence].occurred_at if stop.sequence in reached else None,
            actual_what=reached[stop.sequence].get_milestone_display()
            if stop.sequence in reached
            else "",
        )
        for stop in stops
    ]


def eta_against_promise(shipment: Shipment) -> tuple[str, bool]:
    """The ETA (or delivery) against the promised date in words, and whether it is late:
    ("+1 day late", True), ("on time", False), ("" , False) when there is no promise."""
    if shipment.promised_date is None:
        return "", False
    if shipment.late_by_hours is not None:
        verb = "late" if shipment.status == ShipmentStatus.DELIVERED else "late against the promise"
        return f"{shipment.late_by} {verb}", True
    if shipment.status == ShipmentStatus.DELIVERED:
        return "delivered on time", False
    if shipment.eta is None:
        return "no ETA yet", False
    return "on time for the promised date", False


def route(shipment: Shipment, rows: Sequence[StopRow]) -> RouteSketch | None:
    """Origin, the stops between, destination, each marked reached or not."""
    delivered = shipment.status == ShipmentStatus.DELIVERED
    picked_up = (
        delivered
        or any(row.actual for row in rows)
        or shipment.status
        in (
            ShipmentStatus.IN_TRANSIT,
            ShipmentStatus.OUT_FOR_DELIVERY,
        )
    )
    points: list[tuple[str, str, bool]] = [
        (place_of(shipment.origin) or "Origin", "origin", picked_up)
    ]
    middle = rows[1:-1] if len(rows) >= 2 else []
    points += [(row.place, row.kind.lower(), row.actual is not None or delivered) for row in middle]
    points.append((place_of(shipment.destination) or "Destination", "destination", delivered))
    return route_sketch(points)


@dataclass(frozen=True)
class OrderRisk:
    """An order against its requested delivery date, in words."""

    text: str
    at_risk: bool


def order_risk(
    requested: date | None, shipments: Sequence[Shipment], *, flagged: bool
) -> OrderRisk:
    """When the order's last shipment arrives (delivered, or its ETA) against the requested
    date: "+2 days after the requested date", "on track", or why it cannot be said."""
    if requested is None:
        return OrderRisk("No requested delivery date.", flagged)
    if not shipments:
        return OrderRisk("Not shipped yet.", flagged)
    arrivals = [shipment.delivered_at or shipment.eta for shipment in shipments]
    if any(arrival is None for arrival in arrivals):
        return OrderRisk("A shipment has no ETA yet.", flagged)
    last = max(timezone.localdate(arrival) for arrival in arrivals if arrival is not None)
    days = (last - requested).days
    delivered = all(shipment.delivered_at for shipment in shipments)
    if days > 0:
        verb = "Delivered" if delivered else "Expected"
        plural = "day" if days == 1 else "days"
        return OrderRisk(f"{verb} {last:%-d %b}: +{days} {plural} after the requested date.", True)
    if delivered:
        return OrderRisk(f"Delivered {last:%-d %b}, on time.", False)
    return OrderRisk(f"On track: expected {last:%-d %b}.", flagged)
