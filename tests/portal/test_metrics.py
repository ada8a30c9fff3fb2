"""`/metrics`: who may scrape it, and that what it reports moves with the work."""

from __future__ import annotations

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from accounts.services import user_create
from integration.models import InboxEvent, InboxState
from integration.services.processing import process_inbox_until_empty
from tests.factories import PASSWORD
from tests.helpers import post_events, send_story
from visibility.models import NotificationSubscription
from visibility.services.notifications import notifications_deliver
from visibility.tasks import sweep_clock

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-0123456789"


def scrape(client, token: str | None = TOKEN):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    return client.get("/metrics", **headers)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_do_not_exist_without_a_token_configured(client, settings):
    settings.METRICS_TOKEN = ""

    response = scrape(client)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_metrics_refuse_a_missing_or_wrong_token_as_problems(client, settings):
    settings.METRICS_TOKEN = TOKEN

    missing = scrape(client, token=None)
    wrong = scrape(client, token="scrape-token-0123456788")
    other_scheme = client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}")

    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert missing.json()["status"] == 401
    assert wrong.status_code == 403
    assert wrong["Content-Type"] == "application/problem+json"
    assert other_scheme.status_code == 401


def test_metrics_report_requests_by_route_and_the_inbox(client, settings, story):
    settings.METRICS_TOKEN = TOKEN
    client.get("/healthz")
    client.get("/no/such/path/12345")
    InboxEvent.objects.create(
        source="tms",
        event_id="dead-1",
        event_type="shipment.milestone",
        spec_version="1.0",
        occurred_at=story[0]["occurred_at"],
        data={},
        received_at=timezone.now(),
        state=InboxState.DEAD,
    )

    response = scrape(client)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert 'portal_http_requests_total{method="GET",route="healthz",status="200"}' in text
    assert 'route="unmatched",status="404"' in text
    assert "/no/such/path" not in text  # never the raw path
    assert "portal_http_request_duration_seconds_bucket" in text
    assert "portal_inbox_pending 0.0" in text
    assert "portal_inbox_dead 1.0" in text
    assert "portal_inbox_held 0.0" in text
    assert "portal_inbox_lag_seconds 0.0" in text


def test_intake_and_projection_move_the_counters(client, source_tokens, story):
    accepted_before = sample(
        "portal_events_received_total",
        source="erp",
        event_type="order.released",
        outcome="accepted",
    )
    rejected_before = sample(
        "portal_events_received_total", source="erp", event_type="other", outcome="rejected"
    )
    batches_before = sample("portal_projection_batch_size_count")
    left_before = sum(
        sample("portal_projection_events_total", outcome=state) for state in ("processed", "held")
    )

    response = post_events(
        client,
        source_tokens["erp"],
        {"events": [story[0], story[0], {"event_type": "made.up", "event_id": "x"}]},
    )
    process_inbox_until_empty()

    assert response.status_code == 202
    assert (
        sample(
            "portal_events_received_total",
            source="erp",
            event_type="order.released",
            outcome="accepted",
        )
        == accepted_before + 1
    )
    assert (
        sample(
            "portal_events_received_total",
            source="erp",
            event_type="order.released",
            outcome="duplicate",
        )
        >= 1
    )
    # A type outside the contract is counted, under a bounded label.
    assert (
        sample("portal_events_received_total", source="erp", event_type="other", outcome="rejected")
        == rejected_before + 1
    )
    assert sample("portal_projection_batch_size_count") == batches_before + 1
    # The order waits for its customer account (held) in this fixture: it left the batch.
    left = sum(
        sample("portal_projection_events_total", outcome=state) for state in ("processed", "held")
    )
    assert left == left_before + 1


def test_a_sane_request_id_is_echoed_and_an_insane_one_replaced(client):
    kept = client.get("/healthz", HTTP_X_REQUEST_ID="trace-7f3a.01")
    replaced = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\twith spaces")

    assert kept["X-Request-ID"] == "trace-7f3a.01"
    assert len(replaced["X-Request-ID"]) == 32
    assert replaced["X-Request-ID"] != "bad id\twith spaces"


def test_notifications_and_the_clock_sweep_are_counted(client, brenner, source_tokens, story):
    watcher = user_create(
        username="watcher", password=PASSWORD, email="watcher@example.com", tenant=brenner
    )
    NotificationSubscription.objects.create(user=watcher, tenant=brenner, trigger="delivery")
    sent_before = sample("portal_notifications_total", channel="email", outcome="sent")
    sweeps_before = sample("portal_clock_sweep_duration_seconds_count")
    send_story(client, source_tokens, story)

    notifications_deliver()
    sweep_clock()

    assert sample("portal_notifications_total", channel="email", outcome="sent") == sent_before + 1
    assert sample("portal_clock_sweep_duration_seconds_count") == sweeps_before + 1
