"""A real Celery worker, woken through Redis, projects what intake accepted."""

from __future__ import annotations

import pytest

from integration.models import InboxEvent, InboxState
from tests.helpers import post_events
from tests.processes import start_worker, stop, wait_until
from visibility.models import Shipment

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]


def test_worker_projects_events_accepted_over_http(client, brenner, source_tokens, story):
    worker = start_worker()
    try:
        for source in ("erp", "tms"):
            batch = [event for event in story if event["source"] == source]
            response = post_events(client, source_tokens[source], {"events": batch})
            assert {r["status"] for r in response.json()["results"]} == {"accepted"}

        projected = wait_until(
            lambda: not InboxEvent.objects.exclude(state=InboxState.PROCESSED).exists(),
            timeout=60,
        )
    finally:
        stop(worker)

    assert projected, list(InboxEvent.objects.values_list("event_id", "state", "last_error"))
    assert Shipment.objects.get(shipment_id="SHP-778120").status == "delivered"
