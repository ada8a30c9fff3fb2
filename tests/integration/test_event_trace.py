""" "What happened to event X": from an event id or an intake request's correlation id to
its inbox row, the batch that projected it, what it changed and the webhooks it caused
(integration/event_trace.py, the platform admin's page); and the webhook latency
histograms a real delivery moves in `/metrics`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.test import Client

from integration.models import InboxEvent
from integration.services.processing import process_inbox_until_empty
from tests.helpers import post_events, sign_in_verified
from visibility.models import Notification, Webhook, WebhookEventType
from visibility.services.notifications import notifications_deliver

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-0123456789"


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver on loopback answering 204."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver_url(settings) -> Iterator[str]:
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # the receiver listens on loopback
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


@pytest.fixture
def delivered(client, brenner, source_tokens, story, receiver_url) -> None:
    """The story sent in two requests with their own ids, projected, webhooks delivered."""
    Webhook.objects.create(
        tenant=brenner, url=receiver_url, secret="whsec_t", event_types=WebhookEventType.values
    )
    for source, request_id in (("erp", "req-erp-1"), ("tms", "req-tms-1")):
        events = [event for event in story if event["source"] == source]
        response = post_events(
            client, source_tokens[source], {"events": events}, HTTP_X_REQUEST_ID=request_id
        )
        assert response.status_code == 202
        process_inbox_until_empty()
    notifications_deliver()


@pytest.fixture
def admin(platform_admin) -> Client:
    client = Client()
    sign_in_verified(client, platform_admin)
    return client


def test_an_event_is_followed_to_its_batch_changes_and_webhooks(admin, delivered):
    milestone = InboxEvent.objects.get(event_id="tms-demo-0009")

    page = admin.get("/platform/events/", {"q": "tms-demo-0009"}).content.decode()

    assert page.count('data-testid="event-trace"') == 1
    assert "tms:tms-demo-0009" in page
    assert "shipment.milestone" in page
    assert "request <code>req-tms-1</code>" in page
    assert ">processed<" in page.replace('data-testid="trace-state">', ">")
    assert len(milestone.batch_id) == 16
    assert f"<code>{milestone.batch_id}</code>" in page
    # What it changed: the shipment, with the history fact this event added.
    assert 'href="/shipments/SHP-778120/"' in page
    assert "history fact (Milestone)" in page
    # What its batch caused for that shipment: the webhooks, each delivered (204).
    caused = Notification.objects.filter(shipment_ref="SHP-778120", batch_id=milestone.batch_id)
    assert caused.exists()
    assert page.count('data-testid="trace-notification"') == caused.count()
    assert "#1" in page and ": 204 in" in page


def test_a_request_id_finds_every_event_of_that_request(admin, delivered, story):
    page = admin.get("/platform/events/", {"q": "req-erp-1"}).content.decode()

    erp_events = [event for event in story if event["source"] == "erp"]
    assert page.count('data-testid="event-trace"') == len(erp_events)
    assert "erp:erp-demo-0001" in page
    assert 'href="/orders/SO-100045/"' in page
    assert "tms:" not in page


def test_source_and_event_id_and_an_unknown_id(admin, delivered):
    found = admin.get("/platform/events/", {"q": "erp:erp-demo-0002"}).content.decode()
    missing = admin.get("/platform/events/", {"q": "no-such-event"}).content.decode()

    assert "INV-2026-004512" in found
    assert "snapshot (current)" in found
    assert 'data-testid="trace-none"' in missing


def test_only_platform_admins_may_follow_events(client, cs_staff, customer_user):
    for user in (cs_staff, customer_user):
        sign_in_verified(client, user)
        assert client.get("/platform/events/", {"q": "tms-demo-0009"}).status_code == 404


def scraped(text: str, series: str) -> float:
    """The value of one series in an exposition (0 before its first observation)."""
    lines = [line for line in text.splitlines() if line.startswith(series + " ")]
    return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0


def test_webhook_latency_is_measured_in_metrics_after_a_real_delivery(client, settings, request):
    settings.METRICS_TOKEN = TOKEN
    duration = 'portal_webhook_request_duration_seconds_count{outcome="delivered"}'
    lag = "portal_webhook_delivery_lag_seconds_count"
    # The histograms are the process's: what earlier tests delivered is counted too.
    before = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    request.getfixturevalue("delivered")
    delivered = Notification.objects.filter(
        subscriber__startswith="webhook:", state=Notification.State.SENT
    ).count()

    after = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()

    assert delivered > 0
    assert scraped(after, duration) == scraped(before, duration) + delivered
    assert scraped(after, lag) == scraped(before, lag) + delivered
    assert 'portal_webhook_request_duration_seconds_bucket{le="0.5",outcome="delivered"}' in after
