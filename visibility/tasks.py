"""Celery entry points for notifications. Thin, and safe to run twice."""

from __future__ import annotations

from celery import shared_task

from visibility.enqueue import DELIVER_NOTIFICATIONS
from visibility.services.notifications import notifications_deliver


@shared_task(name=DELIVER_NOTIFICATIONS)
def deliver_notifications() -> int:
    return notifications_deliver()
