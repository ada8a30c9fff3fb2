"""Celery entry points for notifications and the change feed. Thin, and safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from core import metrics
from visibility.enqueue import (
    DELIVER_NOTIFICATIONS,
    PRUNE_CHANGES,
    RECORD_INVOICES_OVERDUE,
    STAMP_CHANGE_POSITIONS,
    SWEEP_CLOCK,
)
from visibility.services.changes import changes_prune, stamp_positions
from visibility.services.clock import clock_sweep, invoices_overdue_record
from visibility.services.notifications import notifications_deliver


@shared_task(name=DELIVER_NOTIFICATIONS)
def deliver_notifications() -> int:
    return notifications_deliver()


@shared_task(name=SWEEP_CLOCK)
def sweep_clock() -> int:
    """Re-evaluate the shipments whose next check has come (visibility/services/clock.py)."""
    with metrics.clock_sweep_duration.time():
        return clock_sweep(timezone.now())


@shared_task(name=STAMP_CHANGE_POSITIONS)
def stamp_change_positions() -> int:
    """Number committed changes, so the first reader after a quiet spell finds them
    stamped (readers stamp too; this only keeps the backlog short)."""
    return stamp_positions()


@shared_task(name=PRUNE_CHANGES)
def prune_changes() -> int:
    """Drop change-feed rows older than CHANGE_RETENTION_DAYS (visibility/services/changes.py)."""
    return changes_prune(timezone.now())


@shared_task(name=RECORD_INVOICES_OVERDUE)
def record_invoices_overdue() -> int:
    """Record, for the change feed, the unpaid invoices whose due date has passed."""
    return invoices_overdue_record(timezone.now())
