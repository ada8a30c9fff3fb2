"""Clock-driven states: what is overdue, late, stale or awaiting a document *now*.

Derivation (visibility/services/derivation.py) calls `shipments_clock_refresh` for every
shipment it derives; beat calls `clock_sweep` every `CLOCK_SWEEP_SECONDS`. Each shipment
stores `next_check_at`, the earliest future instant at which one of the rules could flip
(NULL when none can), so the sweep reads only the rows that are due, through a partial
index, never the open shipments as a whole (docs/ARCHITECTURE.md, "Time is an input").
`now` is always passed in, so tests fix the clock instead of sleeping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from core.db.bulk import bulk_update_rows
from visibility.models import (
    Document,
    Invoice,
    Order,
    Shipment,
    ShipmentEvent,
    ShipmentOrder,
    ShipmentStatus,
)
from visibility.services.exceptions import exceptions_sync
from visibility.services.notifications import Occurrence, notifications_record

CLOCK_FIELDS = [
    "overdue",
    "late_by_hours",
    "tracking_stale",
    "pod_missing",
    "not_invoiced",
    "next_check_at",
]
FRESHNESS_FIELDS = ["last_heard_at", "last_heard_source"]

# What the rules read of a shipment, besides the fields they set.
CLOCK_INPUTS = [
    "shipment_id",
    "customer_account_id",
    "mode",
    "status",
    "eta",
    "eta_window_end",
    "promised_date",
    "delayed",
    "delivered_at",
    "last_event_at",
    "delay_notified_eta",
    "snapshot_event_key",
]

IN_TRANSIT = (ShipmentStatus.IN_TRANSIT, ShipmentStatus.OUT_FOR_DELIVERY)
CLOSED = (ShipmentStatus.DELIVERED, ShipmentStatus.CANCELLED)


def stale_after(mode: str) -> timedelta:
    hours = settings.TRACKING_STALE_HOURS.get(mode, settings.TRACKING_STALE_HOURS_DEFAULT)
    return timedelta(hours=hours)


def promised_deadline(shipment: Shipment) -> datetime | None:
    """The end of the promised day: delivering at any moment of that day is on time."""
    if shipment.promised_date is None:
        return None
    return datetime.combine(shipment.promised_date + timedelta(days=1), time.min, tzinfo=UTC)


@dataclass(frozen=True)
class Paperwork:
    """What the delivered-shipment rules read besides the shipment itself."""

    has_pod: bool
    invoiced: bool


def clock_evaluate(shipment: Shipment, now: datetime, paperwork: Paperwork) -> None:
    """Set the clock-driven states of `shipment` as of `now`, and when to look again."""
    upcoming: list[datetime] = []
    is_open = shipment.status not in CLOSED
    delivered = shipment.status == ShipmentStatus.DELIVERED

    deadline = shipment.eta_window_end or shipment.eta
    shipment.overdue = bool(is_open and deadline and deadline <= now)
    if is_open and deadline and deadline > now:
        upcoming.append(deadline)

    shipment.late_by_hours = None
    promised_end = promised_deadline(shipment)
    if promised_end is not None and shipment.status != ShipmentStatus.CANCELLED:
        if delivered:
            arrival = shipment.delivered_at
        elif shipment.eta and shipment.eta > now:
            arrival = shipment.eta
        else:
            # Not delivered and no future ETA: it arrives no earlier than now.
            arrival = now
        if arrival is not None and arrival > promised_end:
            shipment.late_by_hours = math.ceil((arrival - promised_end) / timedelta(hours=1))
            if is_open and arrival == now:
                # The slip grows while it waits; shown in days, so re-read it at the next
                # whole day past the promised end, strictly after now (at an exact day
                # boundary, rounding up would give now itself: due again at once, forever).
                days = math.floor((now - promised_end) / timedelta(days=1)) + 1
                upcoming.append(promised_end + timedelta(days=days))
        elif is_open and arrival is not None:
            upcoming.append(promised_end)

    shipment.tracking_stale = False
    if shipment.status in IN_TRANSIT and shipment.last_event_at:
        stale_at = shipment.last_event_at + stale_after(shipment.mode)
        shipment.tracking_stale = stale_at <= now
        if stale_at > now:
            upcoming.append(stale_at)

    shipment.pod_missing = shipment.not_invoiced = False
    if delivered and shipment.delivered_at:
        for flag, present, wait in (
            ("pod_missing", paperwork.has_pod, timedelta(hours=settings.POD_MISSING_HOURS)),
            ("not_invoiced", paperwork.invoiced, timedelta(days=settings.NOT_INVOICED_DAYS)),
        ):
            if present:
                continue
            due = shipment.delivered_at + wait
            setattr(shipment, flag, due <= now)
            if due > now:
                upcoming.append(due)

    shipment.next_check_at = min(upcoming, default=None)


def _paperwork(shipments: list[Shipment]) -> dict[int, Paperwork]:
    delivered = [shipment for shipment in shipments if shipment.status == ShipmentStatus.DELIVERED]
    if not delivered:
        return {}
    ids = [shipment.id for shipment in delivered]
    with_pod = set(
        Document.objects.filter(
            shipment_id__in=ids, document_type=Document.DocumentType.POD
        ).values_list("shipment_id", flat=True)
    )
    invoiced_refs: set[str] = set()
    refs = [shipment.shipment_id for shipment in delivered]
    for shipment_ids in Invoice.objects.filter(shipment_ids__overlap=refs).values_list(
        "shipment_ids", flat=True
    ):
        invoiced_refs.update(shipment_ids)
    return {
        shipment.id: Paperwork(
            has_pod=shipment.id in with_pod, invoiced=shipment.shipment_id in invoiced_refs
        )
        for shipment in delivered
    }


NO_PAPERWORK = Paperwork(has_pod=False, invoiced=False)


def _last_heard_sources(shipments: list[Shipment]) -> dict[int, str]:
    """The source of the most recently projected history fact of each shipment (facts
    are inserted in projection order, so the highest id is the last heard)."""
    sources: dict[int, str] = {}
    rows = (
        ShipmentEvent.objects.filter(shipment_id__in=[shipment.id for shipment in shipments])
        .order_by("shipment_id", "-id")
        .distinct("shipment_id")
        .values_list("shipment_id", "event_key")
    )
    for shipment_id, key in rows:
        sources[shipment_id] = key.partition(":")[0]
    return sources


def shipments_clock_refresh(
    shipments: list[Shipment], now: datetime, *, heard: bool = False
) -> list[Occurrence]:
    """Evaluate the clock rules for these (just derived or due) shipments, store the
    states, follow them with the orders' at-risk flag and the exception records, and
    return the notification occurrences they owe (visibility/services/exceptions.py).

    `heard`: an event touching them was just projected (freshness is updated).
    """
    if not shipments:
        return []
    paperwork = _paperwork(shipments)
    fields = list(CLOCK_FIELDS)
    if heard:
        sources = _last_heard_sources(shipments)
        fields += FRESHNESS_FIELDS
    for shipment in shipments:
        clock_evaluate(shipment, now, paperwork.get(shipment.id, NO_PAPERWORK))
        if heard:
            shipment.last_heard_at = now
            shipment.last_heard_source = (
                sources.get(shipment.id, "")
                or (getattr(shipment, "snapshot_event_key", "") or "").partition(":")[0]
            )
    bulk_update_rows(shipments, fields)
    orders_at_risk_refresh([shipment.id for shipment in shipments])
    return exceptions_sync(shipments, now)


def orders_at_risk_refresh(shipment_ids: list[int]) -> int:
    """An order is at risk when any of its open shipments is late or overdue."""
    risky = ShipmentOrder.objects.filter(order_id=OuterRef("id")).filter(
        Q(shipment__overdue=True) | Q(shipment__late_by_hours__isnull=False),
        ~Q(shipment__status__in=CLOSED),
    )
    return Order.objects.filter(
        id__in=ShipmentOrder.objects.filter(shipment_id__in=shipment_ids).values("order_id")
    ).update(at_risk=Exists(risky))


def due_shipments(now: datetime, limit: int):
    """The shipments whose next check has come, oldest first, locked (skipping rows a
    worker holds): reads the partial index `shipment_next_check`, never the whole table."""
    return (
        Shipment.objects.filter(next_check_at__lte=now)
        .order_by("next_check_at")
        .select_for_update(skip_locked=True, of=("self",))
        .only(*CLOCK_INPUTS, *CLOCK_FIELDS)[:limit]
    )


def clock_sweep(now: datetime, *, limit: int | None = None) -> int:
    """Re-evaluate the shipments that are due, in one batch; return how many."""
    limit = limit or settings.CLOCK_SWEEP_BATCH
    with transaction.atomic():
        shipments = list(due_shipments(now, limit))
        occurrences = shipments_clock_refresh(shipments, now)
        notifications_record(occurrences)
    return len(shipments)
