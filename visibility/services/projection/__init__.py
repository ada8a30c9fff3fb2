"""Projection of accepted events into the read models, a batch at a time.

Every projector applies all of a batch's events of its types with a few set-based
statements, and is idempotent and order-independent (docs/ARCHITECTURE.md, decision 3): history
facts are a set keyed by event, snapshots apply only when newer by (sequence,
occurred_at, event key) so only the newest of a batch is written, and everything
customers read about a shipment is derived afterwards from what is stored
(`visibility.services.derivation`). An event whose order, shipment, invoice or account
owner is not known yet is held; the inbox keeps it and applies it when the missing
piece arrives.
"""

from __future__ import annotations

from visibility.event_types import EventType
from visibility.services.projection.base import (
    BatchProjector,
    Held,
    Hold,
    ProjectedEvent,
    ProjectionEffects,
)
from visibility.services.projection.documents import project_documents
from visibility.services.projection.history import project_history_events
from visibility.services.projection.invoices import (
    project_invoices_paid,
    project_invoices_posted,
)
from visibility.services.projection.orders import (
    project_orders_cancelled,
    project_orders_released,
)
from visibility.services.projection.shipments import (
    project_freight_charges,
    project_shipments_created,
    project_tenders_accepted,
)

__all__ = [
    "PROJECTION_ORDER",
    "PROJECTORS",
    "Hold",
    "ProjectedEvent",
    "ProjectionEffects",
    "project_batch",
    "project_event",
]

# In this order: snapshots that others depend on first, so fewer events are held.
PROJECTORS: dict[str, BatchProjector] = {
    EventType.ORDER_RELEASED: project_orders_released,
    EventType.ORDER_CANCELLED: project_orders_cancelled,
    EventType.SHIPMENT_CREATED: project_shipments_created,
    EventType.INVOICE_POSTED: project_invoices_posted,
    EventType.SHIPMENT_TENDER_ACCEPTED: project_tenders_accepted,
    EventType.SHIPMENT_MILESTONE: project_history_events,
    EventType.SHIPMENT_ETA_UPDATED: project_history_events,
    EventType.SHIPMENT_DELAYED: project_history_events,
    EventType.DOCUMENT_AVAILABLE: project_documents,
    EventType.INVOICE_PAID: project_invoices_paid,
    EventType.FREIGHT_CHARGE_POSTED: project_freight_charges,
}

PROJECTION_ORDER: dict[str, int] = {event_type: rank for rank, event_type in enumerate(PROJECTORS)}


def project_batch(events: list[ProjectedEvent], effects: ProjectionEffects) -> Held:
    """Apply a batch; return the keys of held events and what each waits for.

    Events go to their projector grouped (milestones, ETAs and delays share one), in
    PROJECTORS order, so a shipment created in the batch is found by its milestones.
    """
    groups: dict[BatchProjector, list[ProjectedEvent]] = {}
    for event in sorted(events, key=lambda event: PROJECTION_ORDER[event.event_type]):
        groups.setdefault(PROJECTORS[event.event_type], []).append(event)
    held: Held = {}
    for project, group in groups.items():
        held.update(project(group, effects))
    return held


def project_event(event: ProjectedEvent, effects: ProjectionEffects) -> None:
    """Apply one event; raise Hold if it cannot apply yet."""
    held = project_batch([event], effects)
    if held:
        raise Hold(held[event.key])
