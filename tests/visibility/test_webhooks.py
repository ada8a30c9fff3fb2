"""Webhooks v2: every event type fires once per occurrence, in a signed envelope carrying
the REST detail's object; secrets rotate with two signatures; failures are retried for
more than a day and then mark the webhook failing (docs/API.md, "Webhooks")."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import ApiToken
from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from tests.factories import ApiTokenFactory
from visibility.models import (
    Notification,
    ShipmentException,
    Webhook,
    WebhookDelivery,
    WebhookEventType,
)
from visibility.services.exceptions import exception_resolve
from visibility.services.notifications import notifications_deliver
from visibility.services.subscriptions import webhook_redeliver, webhook_rotate_secret
from visibility.services.webhooks import (
    WEBHOOK_MAX_ATTEMPTS,
    WEBHOOK_RETRY_DELAYS,
    webhook_retry_delay,
)

pytestmark = pytest.mark.django_db

TOLERANCE_SECONDS = 300


def verify_signature(header: str, body: bytes, secret: str, *, now: float) -> bool:
    """What docs/API.md tells receivers to do, written independently of the sender."""
    parts = [part.split("=", 1) for part in header.split(",")]
    stamps = [value for key, value in parts if key == "t"]
    signatures = [value for key, value in parts if key == "v1"]
    if len(stamps) != 1 or abs(now - int(stamps[0])) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(secret.encode(), stamps[0].encode() + b"." + body, hashlib.sha256)
    return any(hmac.compare_digest(expected.hexdigest(), given) for given in signatures)


class Receiver(BaseHTTPRequestHandler):
    received: list = []
    answers: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        self.send_response(Receiver.answers.pop(0) if Receiver.answers else 204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # the receiver listens on loopback
    Receiver.received, Receiver.answers = [], []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def project_one_by_one(events):
    """Each event in its own batch, as they arrive in real life."""
    for event in events:
        receive_events(source=event["source"], events=[event])
        process_inbox_until_empty()


def hook(tenant, url="https://hooks.example.com/in", event_types=None, secret="whsec_first"):
    return Webhook.objects.create(
        tenant=tenant,
        url=url,
        secret=secret,
        event_types=event_types or list(WebhookEventType.values),
    )


def fired(webhook) -> Counter:
    return Counter(
        Notification.objects.filter(subscriber=f"webhook:{webhook.id}").values_list(
            "trigger", flat=True
        )
    )


def test_each_event_type_fires_once_per_occurrence_whatever_is_replayed(brenner, story):
    webhook = hook(brenner)
    project_one_by_one(story)
    first = fired(webhook)

    project_one_by_one(story)  # every event again: duplicates
    call_command("replay_events", source="tms")
    call_command("rebuild_read_models")

    assert fired(webhook) == first
    # Six milestones (two named, four by X12 code), the ETA moved twice (planned, then the
    # carrier's ETA, then the delay's new ETA), one delay, one delivery, the POD, the invoice
    # posted and paid.
    assert first["milestone"] == 6
    assert first["eta_change"] == 2
    assert first["delay"] == 1
    assert first["delivery"] == 1
    assert first["document"] == 1
    assert first["invoice_posted"] == 1
    assert first["invoice_paid"] == 1
    milestones = Notification.objects.filter(
        subscriber=f"webhook:{webhook.id}", trigger="milestone"
    )
    assert sorted(n.payload["data"]["milestone"] for n in milestones) == sorted(
        [
            "picked_up",
            "departed_origin",
            "arrived_hub",
            "departed_hub",
            "out_for_delivery",
            "delivered",
        ]
    )
    # Every row of one occurrence shares the event id; ids differ between occurrences.
    ids = list(Notification.objects.values_list("event_id", flat=True))
    assert all(event_id.startswith("evt_") for event_id in ids)
    assert len(set(ids)) == len(ids)


def test_a_webhook_hears_only_the_event_types_it_chose(brenner, story):
    delivered_only = hook(brenner, event_types=["shipment.delivered", "invoice.paid"])
    project_one_by_one(story)

    assert fired(delivered_only) == Counter({"delivery": 1, "invoice_paid": 1})


def test_another_tenants_webhook_hears_nothing(brenner, nordwind, story):
    theirs = hook(nordwind)
    project_one_by_one(story)

    assert fired(theirs) == Counter()


def test_an_exception_opened_then_resolved_fires_each_once(brenner, story, cs_staff):
    webhook = hook(
        brenner, event_types=["shipment.exception_opened", "shipment.exception_resolved"]
    )
    refused = {
        **story[1],
        "event_id": "tms-refused",
        "event_type": "shipment.milestone",
        "occurred_at": "2026-11-17T11:00:00+01:00",
        "data": {"shipment_id": "SHP-778120", "carrier_status_code": "A7"},
    }
    project_one_by_one([*story[:4], refused])
    record = ShipmentException.objects.get(reason="refused")
    exception_resolve(cs_staff, record, now=timezone.now())
    exception_resolve(cs_staff, record, now=timezone.now())  # again: nothing more

    rows = Notification.objects.filter(subscriber=f"webhook:{webhook.id}")
    refused_rows = [n for n in rows if n.occurrence.startswith("refused:")]
    assert sorted(n.trigger for n in refused_rows) == ["exception", "exception_resolved"]
    assert {n.payload["data"]["reason"] for n in refused_rows} == {"refused"}
    assert refused_rows[0].event_id != refused_rows[1].event_id


def test_the_envelope_carries_the_rest_detail_and_verifies_with_both_secrets_in_a_rotation(
    brenner, story, receiver, client
):
    webhook = hook(brenner, url=receiver, event_types=["shipment.delivered"], secret="whsec_old")
    project_one_by_one(story)
    webhook = webhook_rotate_secret(webhook=webhook, now=timezone.now())
    new_secret = webhook.secret

    assert notifications_deliver() == 1

    [(headers, body)] = Receiver.received
    now = time.time()
    assert verify_signature(headers["Portal-Signature"], body, "whsec_old", now=now)
    assert verify_signature(headers["Portal-Signature"], body, new_secret, now=now)
    assert not verify_signature(headers["Portal-Signature"], body, "whsec_wrong", now=now)
    assert not verify_signature(headers["Portal-Signature"], body, new_secret, now=now + 301)
    assert not verify_signature(headers["Portal-Signature"], body + b" ", new_secret, now=now)
    event = json.loads(body)
    notification = Notification.objects.get(subscriber=f"webhook:{webhook.id}")
    assert headers["Portal-Event-Type"] == event["type"] == "shipment.delivered"
    assert headers["Portal-Event-Id"] == event["id"] == notification.event_id
    assert headers["Portal-Delivery-Id"] == str(notification.id)
    assert event["api_version"] == "v1"
    assert event["created"]
    token = ApiTokenFactory(tenant=brenner, name="mirror").secret
    detail = client.get(
        "/api/v1/shipments/SHP-778120", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert event["data"]["object"] == detail
    assert event["data"]["object"]["status"] == "delivered"


def test_after_the_rotation_window_only_the_new_secret_signs(brenner, story, receiver):
    webhook = hook(brenner, url=receiver, event_types=["shipment.delivered"], secret="whsec_old")
    project_one_by_one(story)
    webhook_rotate_secret(webhook=webhook, now=timezone.now(), previous_valid_for=timedelta(0))

    notifications_deliver()

    [(headers, _)] = Receiver.received
    assert headers["Portal-Signature"].count("v1=") == 1


def test_the_retry_schedule_spans_more_than_a_day_then_marks_the_webhook_failing(
    brenner, story, receiver
):
    assert sum(WEBHOOK_RETRY_DELAYS, timedelta()) >= timedelta(hours=24)
    webhook = hook(brenner, url=receiver, event_types=["shipment.delivered"])
    project_one_by_one(story)
    Receiver.answers = [500] * WEBHOOK_MAX_ATTEMPTS
    start = timezone.now()
    now = start

    for attempt in range(1, WEBHOOK_MAX_ATTEMPTS + 1):
        assert notifications_deliver(now=now) == 0
        notification = Notification.objects.get(subscriber=f"webhook:{webhook.id}")
        assert notification.attempts == attempt
        if attempt < WEBHOOK_MAX_ATTEMPTS:
            wait = notification.next_attempt_at - now
            planned = WEBHOOK_RETRY_DELAYS[attempt - 1]
            assert planned * 0.9 <= wait <= planned * 1.1
            # Not due a moment before its time: nothing is sent.
            assert (
                notifications_deliver(now=notification.next_attempt_at - timedelta(seconds=1)) == 0
            )
            now = notification.next_attempt_at

    assert notification.state == "failed" and notification.next_attempt_at is None
    assert now - start >= timedelta(hours=24)
    log = list(WebhookDelivery.objects.order_by("attempt"))
    assert [entry.attempt for entry in log] == list(range(1, WEBHOOK_MAX_ATTEMPTS + 1))
    assert {entry.status_code for entry in log} == {500}
    assert all(entry.next_attempt_at for entry in log[:-1]) and log[-1].next_attempt_at is None
    webhook.refresh_from_db()
    assert webhook.failing_since is not None

    webhook_redeliver(notification=notification)
    assert notifications_deliver(now=now) == 1  # the receiver answers 204 now

    webhook.refresh_from_db()
    assert webhook.failing_since is None
    assert WebhookDelivery.objects.order_by("-attempt").first().attempt == WEBHOOK_MAX_ATTEMPTS + 1
    assert len(Receiver.received) == WEBHOOK_MAX_ATTEMPTS + 1
    assert len({headers["Portal-Event-Id"] for headers, _ in Receiver.received}) == 1


@pytest.mark.parametrize("jitter", [-1.0, 0.0, 1.0])
def test_retry_delays_stay_within_ten_percent_of_the_schedule(jitter):
    for failed, planned in enumerate(WEBHOOK_RETRY_DELAYS, start=1):
        assert webhook_retry_delay(failed, jitter=jitter) == planned * (1 + 0.1 * jitter)
    assert webhook_retry_delay(len(WEBHOOK_RETRY_DELAYS) + 1) is None


def test_a_deactivated_webhook_is_not_called(brenner, story, receiver):
    webhook = hook(brenner, url=receiver, event_types=["shipment.delivered"])
    project_one_by_one(story)
    Webhook.objects.filter(id=webhook.id).update(active=False)

    assert notifications_deliver() == 0

    assert Receiver.received == []
    assert Notification.objects.get(subscriber=f"webhook:{webhook.id}").state == "failed"


def test_the_reader_token_is_never_stored(brenner, story, receiver):
    hook(brenner, url=receiver, event_types=["shipment.delivered"])
    project_one_by_one(story)
    notifications_deliver()

    assert not ApiToken.objects.exists()


def test_an_older_eta_arriving_late_is_not_an_eta_change(brenner, story):
    webhook = hook(brenner, event_types=["shipment.eta_changed"])
    eta_update = next(event for event in story if event["event_type"] == "shipment.eta_updated")
    rest = [event for event in story if event is not eta_update]
    delay_at = next(i for i, event in enumerate(rest) if event["event_type"] == "shipment.delayed")
    project_one_by_one([*rest[: delay_at + 1], eta_update, *rest[delay_at + 1 :]])

    # Only the delay moved the ETA; the carrier's ETA, older than the delay, never became it.
    changes = Notification.objects.filter(subscriber=f"webhook:{webhook.id}")
    assert [n.payload["data"]["eta"] for n in changes] == ["2026-11-20T09:00:00+00:00"]


def test_document_and_invoice_events_carry_their_rest_details(brenner, story, receiver, client):
    hook(
        brenner,
        url=receiver,
        event_types=["document.available", "invoice.posted", "invoice.paid"],
    )
    project_one_by_one(story)

    assert notifications_deliver() == 3

    events = {json.loads(body)["type"]: json.loads(body) for _, body in Receiver.received}
    token = ApiTokenFactory(tenant=brenner, name="mirror").secret
    invoice = client.get(
        "/api/v1/invoices/INV-2026-004512", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert events["invoice.paid"]["data"]["object"] == invoice
    assert events["invoice.paid"]["data"]["object"]["status"] == "paid"
    assert events["invoice.posted"]["data"]["object"]["invoice_number"] == "INV-2026-004512"
    document = events["document.available"]["data"]["object"]
    assert (document["document_id"], document["shipment_id"]) == ("DOC-POD-778120", "SHP-778120")
    assert len(document["sha256"]) == 64
