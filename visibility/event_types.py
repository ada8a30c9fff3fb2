"""The event types of contract v1, defined once.

Every table keyed by event type is keyed by this enum and covers each member exactly
(`tests/test_event_types.py`): the contract's validators (`integration.contract.
DATA_VALIDATORS`), the projectors (`visibility.services.projection.PROJECTORS`) and the
history facts (`visibility.services.projection.history.HISTORY_FACTS`, for the types that
add to a shipment's history). It lives in visibility, the lowest layer that needs it;
integration imports it (docs/ARCHITECTURE.md, "The registry of event types"). The tables
are typed `dict[str, ...]`: their keys are members, looked up by the plain strings read
from the inbox (a member equals and hashes as its value).
"""

from __future__ import annotations

from django.db import models


class EventType(models.TextChoices):
    ORDER_RELEASED = "order.released"
    ORDER_CANCELLED = "order.cancelled"
    SHIPMENT_CREATED = "shipment.created"
    SHIPMENT_TENDER_ACCEPTED = "shipment.tender_accepted"
    SHIPMENT_MILESTONE = "shipment.milestone"
    SHIPMENT_ETA_UPDATED = "shipment.eta_updated"
    SHIPMENT_DELAYED = "shipment.delayed"
    DOCUMENT_AVAILABLE = "document.available"
    INVOICE_POSTED = "invoice.posted"
    INVOICE_PAID = "invoice.paid"
    FREIGHT_CHARGE_POSTED = "freight.charge_posted"


# The types whose events add facts to a shipment's history rather than replace a snapshot.
HISTORY_EVENT_TYPES = frozenset(
    {EventType.SHIPMENT_MILESTONE, EventType.SHIPMENT_ETA_UPDATED, EventType.SHIPMENT_DELAYED}
)
