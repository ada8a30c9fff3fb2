"""The naive design, for comparison: one Celery task per event, ORM saves row by row.

What docs/ARCHITECTURE.md, decision 2 rejects, built from the project's own projection code so that
only the shape differs: each event is published on its own (`.delay()` per event) and a
worker, per event and in its own transaction, stores the inbox row with the ORM,
projects it with `project_event`, re-derives the shipments and orders it touched and
saves the row's state. An event whose order or shipment is not there yet is held and
re-published (one task per released event) when that arrives, as the real pipeline does.

Runs on its own Celery app and queue (`bench-naive`) so that it never meets the
portal's workers: `celery -A bench.naive worker -Q bench-naive`.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

QUEUE = "bench-naive"

app = Celery("bench_naive")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_default_queue = QUEUE


@app.task(name="bench.naive.project_one_event")
def project_one_event(source: str, event: dict) -> str:
    """Store and project one event (the naive intake and worker in one)."""
    from django.db import transaction
    from django.utils import timezone

    from core.timestamps import parse_timestamp
    from integration.models import InboxEvent, InboxState

    with transaction.atomic():
        row, created = InboxEvent.objects.get_or_create(
            source=source,
            event_id=event["event_id"],
            defaults={
                "event_type": event["event_type"],
                "spec_version": event["spec_version"],
                "occurred_at": parse_timestamp(event["occurred_at"]),
                "sequence": event.get("sequence"),
                "data": event["data"],
                "received_at": timezone.now(),
                "state": InboxState.PENDING,
            },
        )
        if not created:
            return "duplicate"
        return _project_and_save(row)


@app.task(name="bench.naive.project_released_event")
def project_released_event(inbox_id: int) -> str:
    from django.db import transaction

    from integration.models import InboxEvent, InboxState

    with transaction.atomic():
        row = (
            InboxEvent.objects.select_for_update()
            .filter(id=inbox_id, state=InboxState.PENDING)
            .first()
        )
        return "gone" if row is None else _project_and_save(row)


def _project_and_save(row) -> str:
    from django.db import transaction
    from django.utils import timezone

    from integration.models import InboxEvent, InboxState
    from visibility.services.derivation import derive_orders, derive_shipments
    from visibility.services.projection import (
        Hold,
        ProjectedEvent,
        ProjectionEffects,
        project_event,
    )

    effects = ProjectionEffects()
    try:
        with transaction.atomic():
            project_event(
                ProjectedEvent(
                    key=row.key,
                    event_type=row.event_type,
                    occurred_at=row.occurred_at,
                    sequence=row.sequence,
                    data=row.data,
                ),
                effects,
            )
    except Hold as hold:
        row.state, row.waiting_for = InboxState.HELD, hold.waiting_for.format()
        row.save()
        return "held"
    derived = derive_shipments(effects.shipment_ids)
    # derive_shipments returns the orders to follow (a set, or an object carrying them).
    derive_orders(effects.order_ids | set(getattr(derived, "order_ids", derived) or ()))
    row.state, row.waiting_for, row.processed_at = InboxState.PROCESSED, "", timezone.now()
    row.save()
    if effects.released_keys:
        for held in InboxEvent.objects.filter(
            state=InboxState.HELD,
            waiting_for__in=[key.format() for key in effects.released_keys],
        ):
            held.state, held.waiting_for = InboxState.PENDING, ""
            held.save()
            transaction.on_commit(lambda inbox_id=held.id: project_released_event.delay(inbox_id))
    return "processed"
