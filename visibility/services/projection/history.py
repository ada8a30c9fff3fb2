"""Milestones, ETA updates and delays: facts added to a shipment's history as a set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.db.bulk import insert_rows
from visibility.event_types import EventType
from visibility.holds import HoldKey
from visibility.models import (
    NotificationTrigger,
    Shipment,
    ShipmentEvent,
    StatusCodeAction,
    StatusCodeMapping,
)
from visibility.services.notifications import Occurrence
from visibility.services.projection.base import (
    Held,
    ProjectedEvent,
    ProjectionEffects,
    timestamp,
)
from visibility.services.projection.shipments import shipment_pks

# The fields of the history fact an event adds, given the X12 214 mapping table.
HistoryFact = Callable[[ProjectedEvent, dict[str, StatusCodeMapping]], dict[str, Any]]


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
        fact.update(kind=ShipmentEvent.Kind.ETA, eta=timestamp(data["eta"]), eta_basis="carrier")
    elif mapping.action == StatusCodeAction.DELAY:
        fact.update(kind=ShipmentEvent.Kind.DELAY, reason_code=code, reason_text=fact["remarks"])
    else:
        fact["kind"] = ShipmentEvent.Kind.STATUS_CODE
    return fact


def _eta_fact(event: ProjectedEvent, mappings: dict[str, StatusCodeMapping]) -> dict:
    data = event.data
    return {
        "kind": ShipmentEvent.Kind.ETA,
        "eta": timestamp(data["eta"]),
        "eta_window_start": timestamp(data.get("eta_window_start")),
        "eta_window_end": timestamp(data.get("eta_window_end")),
        "eta_basis": data.get("basis") or "",
    }


def _delay_fact(event: ProjectedEvent, mappings: dict[str, StatusCodeMapping]) -> dict:
    data = event.data
    return {
        "kind": ShipmentEvent.Kind.DELAY,
        "reason_code": data["reason_code"],
        "reason_text": data.get("reason_text") or "",
        "eta": timestamp(data.get("new_eta")),
    }


HISTORY_FACTS: dict[str, HistoryFact] = {
    EventType.SHIPMENT_MILESTONE: _milestone_fact,
    EventType.SHIPMENT_ETA_UPDATED: _eta_fact,
    EventType.SHIPMENT_DELAYED: _delay_fact,
}


def project_history_events(events: list[ProjectedEvent], effects: ProjectionEffects) -> Held:
    """Add milestones, ETAs and delays to their shipments' history in bulk.

    These are most of the traffic, so a batch of them costs three statements: look up
    the shipments, read the mapping table, insert the facts (duplicates ignored).
    Returns the events held because their shipment is unknown, with what they wait for.
    """
    if not events:
        return {}
    pks = shipment_pks(event.data["shipment_id"] for event in events)
    mappings = _status_code_mappings()
    held: Held = {}
    facts: list[dict] = []
    # One subject per shipment, not per milestone: a model instance costs a default per
    # field to build, and most of a batch's milestones share their shipment with others.
    subjects: dict[int, Shipment] = {}
    for event in events:
        shipment_pk = pks.get(event.data["shipment_id"])
        if shipment_pk is None:
            held[event.key] = HoldKey.shipment(event.data["shipment_id"])
            continue
        fields = HISTORY_FACTS[event.event_type](event, mappings)
        facts.append(
            {
                "shipment_id": shipment_pk,
                "event_key": event.key,
                "occurred_at": event.occurred_at,
                **fields,
            }
        )
        effects.shipment_ids.add(shipment_pk)
        if fields["kind"] == ShipmentEvent.Kind.MILESTONE and fields.get("milestone"):
            # Once per milestone and time: the outbox's unique key drops a replayed one.
            occurred_at = event.occurred_at.isoformat()
            subject = subjects.get(shipment_pk)
            if subject is None:
                subject = subjects[shipment_pk] = Shipment(
                    id=shipment_pk, shipment_id=event.data["shipment_id"]
                )
            effects.occurrences.append(
                Occurrence(
                    subject,
                    NotificationTrigger.MILESTONE,
                    f"{fields['milestone']}@{occurred_at}",
                )
            )
    insert_rows(ShipmentEvent, facts, ignore_conflicts=True)
    return held
