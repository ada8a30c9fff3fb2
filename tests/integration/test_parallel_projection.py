"""Several workers sharing the inbox build the same read models as one process."""

from __future__ import annotations

import os

import pytest

from accounts.services import tenant_create_or_update
from bench import workload
from integration.models import InboxEvent, InboxState
from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from tests.integration.test_convergence_property import reset
from tests.integration.test_processing import read_model_state
from tests.processes import start_worker, stop, wait_until


@pytest.mark.fault
@pytest.mark.django_db(transaction=True)
def test_two_workers_with_two_processes_each_build_what_one_process_builds():
    for slug, name, accounts in workload.TENANTS:
        tenant_create_or_update(slug=slug, name=name, account_numbers=accounts)
    events = workload.generate_events(3_000, prefix="P")
    requests = workload.intake_requests(events, window=300)

    def receive() -> None:
        for source, batch in requests:
            receive_events(source=source, events=batch)

    receive()
    process_inbox_until_empty()
    assert not InboxEvent.objects.exclude(state=InboxState.PROCESSED).exists()
    sequential = read_model_state()
    reset()

    receive()
    os.environ["INBOX_BATCH_SIZE"] = "100"
    workers = [start_worker("--concurrency=2") for _ in range(2)]
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
        del os.environ["INBOX_BATCH_SIZE"]
        logs = []
        for worker in workers:
            stop(worker)
            logs.append(worker.stderr.read().decode())

    assert drained, InboxEvent.objects.exclude(state=InboxState.PROCESSED).values_list(
        "event_id", "state", "waiting_for", "last_error"
    )[:10]
    assert not any("deadlock detected" in log for log in logs)
    assert read_model_state() == sequential
