"""Celery entry points for notifications. Thin, and safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from visibility.enqueue import DELIVER_NOTIFICATIONS, SWEEP_CLOCK
from visibility.services.clock import clock_sweep
from visibility.services.notifications import notifications_deliver


@shared_task(name=DELIVER_NOTIFICATIONS)
def deliver_notifications() -> int:
    return notifications_deliver()


@shared_task(name=SWEEP_CLOCK)
def sweep_clock() -> int:
    """Re-evaluate the shipments whose next check has come (visibility/services/clock.py)."""
    return clock_sweep(timezone.now())
