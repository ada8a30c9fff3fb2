"""Celery entry points for the inbox. Thin: each calls a service and is safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from integration.enqueue import (
    APPLY_RETENTION,
    ARCHIVE_EVENTS,
    PROCESS_INBOX,
    SWEEP_INBOX,
    enqueue_process_inbox,
)
from integration.services.archive import ArchiveBusyError, archive_run
from integration.services.processing import (
    pending_inbox_exists,
    process_inbox_until_empty,
    release_satisfied_holds,
)
from integration.services.retention import shipment_retention_apply_with_routes
from visibility.enqueue import enqueue_deliver_notifications
from visibility.services.notifications import pending_notifications_exist

logger = logging.getLogger(__name__)


@shared_task(name=PROCESS_INBOX)
def process_inbox() -> int:
    """Drain the inbox in batches. Woken by intake; concurrent runs share it via SKIP LOCKED."""
    return process_inbox_until_empty()


@shared_task(name=SWEEP_INBOX)
def sweep_inbox() -> bool:
    """Re-queue work that no wake-up reached (lost message, dead worker, retry due):
    pending inbox rows, held rows whose missing piece has arrived, pending notifications."""
    if pending_notifications_exist():
        enqueue_deliver_notifications()
    try:
        release_satisfied_holds()
    except Exception:  # the next sweep tries again; pending rows must still be queued
        logger.warning("releasing satisfied holds failed", exc_info=True)
    if pending_inbox_exists():
        enqueue_process_inbox()
        return True
    return False


@shared_task(name=ARCHIVE_EVENTS)
def archive_events() -> int:
    """Archive and delete processed inbox and rejected events past their age
    (integration/services/archive.py). A run already in progress makes this one a no-op."""
    try:
        return archive_run(timezone.now()).rows
    except ArchiveBusyError:
        logger.info("an archive run is already in progress")
        return 0


@shared_task(name=APPLY_RETENTION)
def apply_retention() -> int:
    """Delete closed shipments past their tenant's retention, with their lane routes
    (integration/services/retention.py)."""
    return sum(shipment_retention_apply_with_routes(timezone.now()).shipments.values())
