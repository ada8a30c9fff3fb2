"""Celery entry points for the inbox. Thin: each calls a service and is safe to run twice."""

from __future__ import annotations

from celery import shared_task

from integration.services.processing import (
    pending_inbox_exists,
    process_inbox_until_empty,
    release_satisfied_holds,
)


@shared_task(name="integration.tasks.process_inbox")
def process_inbox() -> int:
    """Drain the inbox in batches. Woken by intake; concurrent runs share it via SKIP LOCKED."""
    return process_inbox_until_empty()


@shared_task(name="integration.tasks.sweep_inbox")
def sweep_inbox() -> bool:
    """Re-queue work that no wake-up reached (lost message, dead worker, retry due):
    pending inbox rows, held rows whose missing piece has arrived, pending notifications."""
    from visibility.services.notifications import pending_notifications_exist
    from visibility.tasks import deliver_notifications

    if pending_notifications_exist():
        deliver_notifications.delay()
    release_satisfied_holds()
    if pending_inbox_exists():
        process_inbox.delay()
        return True
    return False
