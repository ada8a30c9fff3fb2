"""Celery entry points for notifications and the change feed. Thin, and safe to run twice."""

from __future__ import annotations

from celery import shared_task

from visibility.enqueue import DELIVER_NOTIFICATIONS, STAMP_CHANGE_POSITIONS
from visibility.services.changes import stamp_positions
from visibility.services.notifications import notifications_deliver


@shared_task(name=DELIVER_NOTIFICATIONS)
def deliver_notifications() -> int:
    return notifications_deliver()


@shared_task(name=STAMP_CHANGE_POSITIONS)
def stamp_change_positions() -> int:
    """Number committed changes, so the first reader after a quiet spell finds them
    stamped (readers stamp too; this only keeps the backlog short)."""
    return stamp_positions()
