"""Visibility's Celery tasks by name, for services to enqueue without importing the tasks.

Tasks import services and services enqueue by name, so the two never import each other
(docs/ARCHITECTURE.md, "Who may import whom").
"""

from __future__ import annotations

from celery import current_app

DELIVER_NOTIFICATIONS = "visibility.tasks.deliver_notifications"
SWEEP_CLOCK = "visibility.tasks.sweep_clock"
STAMP_CHANGE_POSITIONS = "visibility.tasks.stamp_change_positions"
PRUNE_CHANGES = "visibility.tasks.prune_changes"
RECORD_INVOICES_OVERDUE = "visibility.tasks.record_invoices_overdue"


def enqueue_deliver_notifications() -> None:
    """Publish a `deliver_notifications` wake-up (raises when the broker is unreachable)."""
    current_app.send_task(DELIVER_NOTIFICATIONS)
