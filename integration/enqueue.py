"""Integration's Celery tasks by name, for services to enqueue without importing the tasks.

Tasks import services and services enqueue by name, so the two never import each other
(docs/ARCHITECTURE.md, "Who may import whom").
"""

from __future__ import annotations

from celery import current_app

PROCESS_INBOX = "integration.tasks.process_inbox"
SWEEP_INBOX = "integration.tasks.sweep_inbox"
ARCHIVE_EVENTS = "integration.tasks.archive_events"
APPLY_RETENTION = "integration.tasks.apply_retention"


def enqueue_process_inbox() -> None:
    """Publish a `process_inbox` wake-up (raises when the broker is unreachable)."""
    current_app.send_task(PROCESS_INBOX)
