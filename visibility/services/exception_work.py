"""What people did on exception records, kept across a rebuild of the read models.

Exception records are derived (visibility/services/exceptions.py opens and auto-resolves
them from a shipment's state), so a rebuild re-creates them from the events. What staff
did on them is not in any event: notes, the owner, an acknowledgement, a resolution by
hand. `exception_work_keep` reads it before the read models are cleared, and
`exception_work_restore` puts it back on the rebuilt records, matched by what identifies
an occurrence: (shipment, reason, occurrence key). A record the rebuild did not open again
(its problem is gone by now) is restored as it was, resolved, so its notes stay readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from visibility.models import ExceptionNote, Shipment, ShipmentException

Status = ShipmentException.Status


@dataclass(frozen=True)
class KeptNote:
    author_id: int | None
    text: str
    visible_to_customer: bool
    created_at: datetime


@dataclass
class KeptWork:
    shipment_ref: str
    reason: str
    occurrence_key: str
    opened_by: str
    source_code: str
    detail: str
    status: str
    opened_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    resolved_automatically: bool
    owner_id: int | None
    notes: list[KeptNote] = field(default_factory=list)


def exception_work_keep() -> list[KeptWork]:
    """The records people worked on (a note, an owner, acknowledged, resolved by hand)."""
    worked = (
        ShipmentException.objects.filter(
            Q(notes__isnull=False)
            | Q(owner__isnull=False)
            | Q(acknowledged_at__isnull=False)
            | Q(status=Status.RESOLVED, resolved_automatically=False)
        )
        .distinct()
        .select_related("shipment")
        .prefetch_related("notes")
        .order_by("id")
    )
    return [
        KeptWork(
            shipment_ref=record.shipment.shipment_id,
            reason=record.reason,
            occurrence_key=record.occurrence_key,
            opened_by=record.opened_by,
            source_code=record.source_code,
            detail=record.detail,
            status=record.status,
            opened_at=record.opened_at,
            acknowledged_at=record.acknowledged_at,
            resolved_at=record.resolved_at,
            resolved_automatically=record.resolved_automatically,
            owner_id=record.owner_id,
            notes=[
                KeptNote(note.author_id, note.text, note.visible_to_customer, note.created_at)
                for note in record.notes.all()
            ],
        )
        for record in worked
    ]


@transaction.atomic
def exception_work_restore(kept: list[KeptWork], now: datetime) -> int:
    """Put the kept work back on the rebuilt records; how many records got it back (work
    on a shipment that no longer exists after the rebuild is dropped)."""
    shipments = dict(
        Shipment.objects.filter(shipment_id__in={work.shipment_ref for work in kept}).values_list(
            "shipment_id", "id"
        )
    )
    rebuilt = {
        (record.shipment_id, record.reason, record.occurrence_key): record
        for record in ShipmentException.objects.filter(shipment_id__in=shipments.values())
    }
    restored = 0
    notes: list[ExceptionNote] = []
    for work in kept:
        shipment_id = shipments.get(work.shipment_ref)
        if shipment_id is None:
            continue
        record = rebuilt.get((shipment_id, work.reason, work.occurrence_key))
        if record is None:
            # Not open again now: kept as it was, resolved (one unresolved record per
            # reason may exist for a later occurrence).
            record = ShipmentException(
                shipment_id=shipment_id,
                reason=work.reason,
                opened_by=work.opened_by,
                occurrence_key=work.occurrence_key,
                source_code=work.source_code,
                detail=work.detail,
                opened_at=work.opened_at,
                status=Status.RESOLVED,
                resolved_at=work.resolved_at or now,
                resolved_automatically=work.resolved_automatically
                if work.status == Status.RESOLVED
                else True,
            )
        elif work.status == Status.RESOLVED and not work.resolved_automatically:
            # Resolved by a person: stays resolved for that occurrence (as live).
            record.status = Status.RESOLVED
            record.resolved_at = work.resolved_at
            record.resolved_automatically = False
        elif work.status == Status.ACKNOWLEDGED and record.status == Status.OPEN:
            record.status = Status.ACKNOWLEDGED
        record.opened_at = work.opened_at
        record.acknowledged_at = work.acknowledged_at
        record.owner_id = work.owner_id
        record.save()
        notes += [
            ExceptionNote(
                exception=record,
                author_id=note.author_id,
                text=note.text,
                visible_to_customer=note.visible_to_customer,
                created_at=note.created_at,
            )
            for note in work.notes
        ]
        restored += 1
    ExceptionNote.objects.bulk_create(notes)
    return restored
