"""Replay and rebuild: put stored events through projection again.

Projection is idempotent and order-independent, so re-projecting any set of stored
events is safe, and rebuilding from nothing gives what the live projection built.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction
from core.db.readable import as_stored_text
from integration.models import InboxEvent, InboxState, RejectedEvent, event_key
from integration.services.archive import archived_inbox_restore
from integration.services.intake import receive_events
from integration.services.processing import process_inbox_batch, wake_inbox_worker
from visibility.models import Document, FreightCharge, Invoice, Order, Shipment
from visibility.services.exception_work import exception_work_keep, exception_work_restore

logger = logging.getLogger(__name__)

Progress = Callable[[int], None]


def inbox_selection(
    *,
    dead_only: bool = False,
    source: str | None = None,
    event_type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Q:
    selection = Q(state=InboxState.DEAD) if dead_only else Q()
    if source:
        selection &= Q(source=source)
    if event_type:
        selection &= Q(event_type=event_type)
    if since:
        selection &= Q(occurred_at__gte=since)
    if until:
        selection &= Q(occurred_at__lt=until)
    return selection


def inbox_events_requeue(selection: Q) -> int:
    """Make the selected stored events pending again, with a fresh retry budget."""
    return InboxEvent.objects.filter(selection).update(
        state=InboxState.PENDING,
        waiting_for="",
        attempts=0,
        last_error="",
        next_attempt_at=None,
    )


def rejected_events_replay(*, source: str | None = None) -> dict[str, int]:
    """Send stored rejected events through intake again (after a fix in validation)."""
    outcome = {"accepted": 0, "duplicate": 0, "rejected": 0}
    # The body is read as text and parsed row by row: one Python cannot parse (JSON
    # deeper than json.loads recurses) must not stop the replay of the others.
    rejected = (
        RejectedEvent.objects.filter(replayed_at__isnull=True)
        .order_by("id")
        .values_list("id", "source", as_stored_text("body"))
    )
    if source:
        rejected = rejected.filter(source=source)
    for id, row_source, body_text in rejected.iterator():
        try:
            body = json.loads(body_text) if body_text is not None else None
        except (ValueError, RecursionError):
            logger.warning("rejected event %s cannot be read; left as it is", id, exc_info=True)
            outcome["rejected"] += 1
            continue
        [result] = receive_events(source=row_source, events=[body])
        outcome[result.status] += 1
        # Marked replayed either way: a new rejection is stored again by intake.
        RejectedEvent.objects.filter(id=id).update(replayed_at=timezone.now())
    return outcome


def process_with_progress(progress: Progress, *, batch_size: int = 1000) -> int:
    projected = 0
    while True:
        outcome = process_inbox_batch(batch_size=batch_size)
        if outcome.claimed == 0:
            return projected
        projected += outcome.processed
        progress(outcome.processed + outcome.held + outcome.failed)


def read_models_clear() -> None:
    with transaction.atomic():
        Document.objects.all().delete()
        FreightCharge.objects.all().delete()
        Invoice.objects.all().delete()
        Shipment.objects.all().delete()
        Order.objects.all().delete()


def read_models_rebuild(
    progress: Progress, *, batch_size: int = 1000, from_archive: bool = True
) -> int:
    """Rebuild every read model from the stored events, archived ones included (put back
    in the inbox first; the next archive run takes them out again, once). Dead letters
    stay dead. What people did on exception records (notes, owner, acknowledgement,
    resolution by hand) is in no event: it is kept and put back on the rebuilt records.

    Raises `ArchiveTamperedError` before anything changes if an archive file is not what
    was written."""
    if from_archive:
        archived_inbox_restore()
    with transaction.atomic():
        worked = exception_work_keep()
        read_models_clear()
        InboxEvent.objects.exclude(state=InboxState.DEAD).update(
            state=InboxState.PENDING,
            waiting_for="",
            attempts=0,
            last_error="",
            next_attempt_at=None,
        )
    projected = process_with_progress(progress, batch_size=batch_size)
    exception_work_restore(worked, timezone.now())
    return projected


# --- dead letters, one by one or many, from the platform admin's page ---------------------


def _dead_rows(inbox_ids: Collection[int]) -> list[dict[str, Any]]:
    """The dead rows among `inbox_ids`, locked (two admins acting at once act once)."""
    return [
        dict(row)
        for row in InboxEvent.objects.select_for_update()
        .filter(state=InboxState.DEAD, id__in=list(inbox_ids))
        .order_by("id")
        .values(
            "id",
            "source",
            "event_id",
            "event_type",
            "attempts",
            "last_error",
            data_text=as_stored_text("data"),
        )
    ]


def dead_letters_replay(
    *, actor: User, inbox_ids: Collection[int], request: HttpRequest | None = None
) -> int:
    """Make the chosen dead events pending again with a fresh retry budget (after a fix),
    wake a worker, and audit each; answer how many were re-queued. Ids that are not
    dead (any more) are left alone."""
    with transaction.atomic():
        rows = _dead_rows(inbox_ids)
        requeued = inbox_events_requeue(Q(id__in=[row["id"] for row in rows]))
        for row in rows:
            audit_record(
                action=AuditAction.DEAD_LETTER_REPLAYED,
                actor=actor,
                target=event_key(row["source"], row["event_id"]),
                request=request,
                details={
                    "event_type": row["event_type"],
                    "attempts": row["attempts"],
                    "error": row["last_error"][:2000],
                },
            )
        transaction.on_commit(wake_inbox_worker)
    return requeued


def dead_letters_discard(
    *, actor: User, inbox_ids: Collection[int], request: HttpRequest | None = None
) -> int:
    """Remove the chosen dead events from the inbox for good; the audit entry keeps the
    event as it was stored, with its error, so a discard can be read back (and the
    source may send the same event id again). Answer how many were removed."""
    with transaction.atomic():
        rows = _dead_rows(inbox_ids)
        for row in rows:
            audit_record(
                action=AuditAction.DEAD_LETTER_DISCARDED,
                actor=actor,
                target=event_key(row["source"], row["event_id"]),
                request=request,
                details={
                    "event_type": row["event_type"],
                    "attempts": row["attempts"],
                    "error": row["last_error"][:2000],
                    "stored_event": row["data_text"],
                },
            )
        removed, _ = InboxEvent.objects.filter(id__in=[row["id"] for row in rows]).delete()
    return removed
