"""Integration health figures, for staff and platform admins only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from integration.models import InboxEvent, InboxState
from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from tests.helpers import sign_in_verified

pytestmark = pytest.mark.django_db


def test_health_reports_lag_held_rejected_dead_and_freshness(client, brenner, story, cs_staff):
    receive_events(source="erp", events=[story[0]])
    process_inbox_until_empty()
    milestone_without_shipment = {
        **story[3],
        "data": {**story[3]["data"], "shipment_id": "SHP-UNKNOWN"},
    }
    receive_events(
        source="tms", events=[milestone_without_shipment, {**story[4], "spec_version": "2.0"}]
    )
    process_inbox_until_empty()
    receive_events(source="tms", events=[story[1]])  # pending, not processed yet
    InboxEvent.objects.filter(event_id="tms-demo-0001").update(
        received_at=timezone.now() - timedelta(seconds=90)
    )
    InboxEvent.objects.create(
        source="tms",
        event_id="dead-1",
        event_type="shipment.milestone",
        spec_version="1.0",
        occurred_at=timezone.now(),
        data={},
        received_at=timezone.now(),
        state=InboxState.DEAD,
        last_error="KeyError: 'shipment_id'",
    )
    sign_in_verified(client, cs_staff)

    health = client.get("/api/v1/integration/health").json()

    assert health["inbox"]["pending"] == 1
    assert 89 <= health["inbox"]["lag_seconds"] < 120
    assert [(row["waiting_for"], row["count"]) for row in health["held"]] == [("shipment", 1)]
    assert health["rejected_last_24h"][0]["field"] == "spec_version"
    assert health["dead_letters"] == [{"error": "KeyError", "count": 1}]
    assert {row["source"] for row in health["sources"]} == {"erp", "tms"}
    rates = {
        (row["source"], row["event_type"]): row["per_minute"] for row in health["events_per_minute"]
    }
    assert rates[("erp", "order.released")] == round(1 / 15, 2)


def test_health_page_renders_for_staff(client, brenner, cs_staff):
    sign_in_verified(client, cs_staff)

    response = client.get("/operations/integration/")

    assert response.status_code == 200
    assert "Waiting to be projected" in response.content.decode()


def test_health_is_hidden_from_customers(client, customer_user):
    client.force_login(customer_user)

    assert client.get("/api/v1/integration/health").status_code == 404
    assert client.get("/operations/integration/").status_code == 404
