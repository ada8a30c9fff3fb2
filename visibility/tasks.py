"""Celery entry points for notifications. Thin, and safe to run twice."""

from __future__ import annotations

from celery import shared_task

from visibility.services.notifications import notifications_deliver


@shared_task(name="visibility.tasks.deliver_notifications")
def deliver_notifications() -> int:
    return notifications_deliver()
