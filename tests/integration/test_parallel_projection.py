"""Several workers sharing the inbox, four processes projecting lanes at once, build the
same read models as one process (docs/ARCHITECTURE.md, "Projection lanes")."""

from __future__ import annotations

import pytest

from integration.models import InboxEvent, InboxState
from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from tests.factories import TenantFactory, order_to_cash_stories
from tests.helpers import read_model_state, reset_read_models
from tests.processes import start_worker, stop, wait_until, worker_log

TENANTS = {"acme": ["A-1001", "A-1002"], "brightline": ["B-2001"], "delta": ["D-4001", "D-4002"]}


@pytest.mark.fault
@pytest.mark.django_db(transaction=True)
def test_two_workers_with_two_processes_each_build_what_one_process_builds():
    """Stories cross lanes (an order's lane is not its shipment's, an invoice names both),
    so the four processes meet on rows: no deadlock, nothing left behind, the same rows."""
    for slug, accounts in TENANTS.items():
        TenantFactory(slug=slug, account_numbers=accounts)
    events = order_to_cash_stories(
        [number for numbers in TENANTS.values() for number in numbers], per_account=110
    )
    assert len(events) > 2_500

    def receive() -> None:
        """In windows of 300 events (by occurred_at), each source posting its share."""
        for offset in range(0, len(events), 300):
            window = events[offset : offset + 300]
            for source in ("erp", "tms"):
                receive_events(source=source, events=[e for e in window if e["source"] == source])

    receive()
    process_inbox_until_empty()
    assert not InboxEvent.objects.exclude(state=InboxState.PROCESSED).exists()
    sequential = read_model_state()
    reset_read_models()

    receive()
    workers = [
        start_worker("--concurrency=2", INBOX_BATCH_SIZE="100", INBOX_LANES="8") for _ in range(2)
    ]
    try:
        from portal.celery import app

        for _ in range(8):
            app.send_task("integration.tasks.process_inbox")
        drained = wait_until(
            lambda: not InboxEvent.objects.exclude(state=InboxState.PROCESSED).exists(),
            timeout=120,
            interval=0.2,
        )
    finally:
        logs = []
        for worker in workers:
            stop(worker)
            logs.append(worker_log(worker))

    assert drained, (
        list(
            InboxEvent.objects.exclude(state=InboxState.PROCESSED).values_list(
                "event_id", "state", "waiting_for", "last_error"
            )[:10]
        ),
        [log[-3000:] for log in logs],
    )
    assert not any("deadlock detected" in log for log in logs)
    assert read_model_state() == sequential
