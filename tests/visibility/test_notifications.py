"""Delay, delivery and exception notifications: exactly once, never superseded, signed."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from accounts.services import user_create
from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from tests.factories import PASSWORD
from visibility.models import Notification, NotificationSubscription, Webhook, WebhookDelivery
from visibility.services.notifications import (
    notifications_deliver,
    shipment_url,
)
from visibility.services.webhooks import sign_webhook_body

pytestmark = pytest.mark.django_db


def subscribe(user, tenant, *triggers):
    for trigger in triggers:
        NotificationSubscription.objects.create(user=user, tenant=tenant, trigger=trigger)


def project(events):
    for event in events:
        receive_events(source=event["source"], events=[event])
    process_inbox_until_empty()


@pytest.fixture
def subscriber(brenner):
    user = user_create(
        username="watcher", password=PASSWORD, email="watcher@example.com", tenant=brenner
    )
    subscribe(user, brenner, "delay", "delivery", "exception")
    return user


def sent_subjects():
    return sorted(message.subject for message in mail.outbox)


def test_one_email_per_shipment_and_trigger_whatever_is_replayed(subscriber, story):
    up_to_delay = story[:8]
    assert up_to_delay[-1]["event_type"] == "shipment.delayed"
    project(up_to_delay)  # delayed while in transit...
    project(story)  # ...then delivered; the first eight arrive again as duplicates
    project(story)
    call_command("replay_events", source="tms")
    call_command("rebuild_read_models")
    notifications_deliver()
    notifications_deliver()

    # Seen on the real clock (after the story's dates), the delayed shipment was also
    # overdue and late before its delivery: one exception each, once.
    assert sent_subjects() == [
        "Delayed: shipment SHP-778120",
        "Delivered: shipment SHP-778120",
        "Exception on shipment SHP-778120: Late against the promised date",
        "Exception on shipment SHP-778120: Overdue",
    ]
    [delivered] = [m for m in mail.outbox if m.subject.startswith("Delivered")]
    assert delivered.to == ["watcher@example.com"]
    assert "received by K. Huber" in delivered.body
    assert "http://localhost:8000/shipments/SHP-778120/" in delivered.body
    html, content_type = delivered.alternatives[0]
    assert content_type == "text/html"
    assert 'href="http://localhost:8000/shipments/SHP-778120/"' in html


def test_delay_and_delivery_in_one_batch_only_tell_of_the_delivery(subscriber, story):
    project(story)
    notifications_deliver()

    assert sent_subjects() == ["Delivered: shipment SHP-778120"]


def test_a_delay_reported_after_delivery_sends_nothing(subscriber, story):
    delay = next(event for event in story if event["event_type"] == "shipment.delayed")
    project([event for event in story if event is not delay])
    project([delay])
    notifications_deliver()

    assert sent_subjects() == ["Delivered: shipment SHP-778120"]


def test_subscribers_who_may_not_see_the_shipment_get_nothing(
    brenner, nordwind, story, limited_member, other_tenant_user
):
    assert limited_member.email and other_tenant_user.email
    subscribe(limited_member, brenner, "delivery")
    subscribe(other_tenant_user, nordwind, "delivery")
    project(story)
    notifications_deliver()

    assert mail.outbox == []


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
def receiver():
    Receiver.received, Receiver.answers = [], []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def test_webhook_is_signed_retried_with_backoff_and_logged(brenner, story, receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # the receiver listens on loopback
    webhook = Webhook.objects.create(
        tenant=brenner, url=receiver, secret="s3cret", event_types=["shipment.delivered"]
    )
    Receiver.answers = [500]
    project(story)

    notifications_deliver()  # first attempt: the receiver answers 500
    notification = Notification.objects.get(subscriber=f"webhook:{webhook.id}")
    assert notification.state == "pending" and notification.attempts == 1
    assert notification.next_attempt_at is not None
    assert notifications_deliver() == 0  # backoff: not due yet

    Notification.objects.update(next_attempt_at=None)
    assert notifications_deliver() == 1

    headers, body = Receiver.received[-1]
    stamp, signature = (part.split("=", 1)[1] for part in headers["Portal-Signature"].split(","))
    assert signature == sign_webhook_body("s3cret", stamp, body)
    assert json.loads(body)["type"] == "shipment.delivered"
    assert json.loads(body)["data"]["object"]["shipment_id"] == "SHP-778120"
    log = list(WebhookDelivery.objects.values_list("status_code", flat=True))
    assert sorted(log) == [204, 500]


class KilledMidRunBackend:
    """An email backend whose process dies while sending the second message."""

    sent_before_dying = 1

    def __init__(self, **kwargs):
        pass

    def send_messages(self, messages):
        if len(mail.outbox) >= self.sent_before_dying:
            raise SystemExit("worker killed")
        mail.outbox.extend(messages)
        return len(messages)


def test_a_worker_dying_mid_run_never_resends_what_it_already_sent(brenner, story, settings):
    for name in ("first", "second"):
        user = user_create(
            username=name, password=PASSWORD, email=f"{name}@example.com", tenant=brenner
        )
        subscribe(user, brenner, "delivery")
    project(story)
    settings.EMAIL_BACKEND = "tests.visibility.test_notifications.KilledMidRunBackend"

    with pytest.raises(SystemExit):
        notifications_deliver()
    assert [m.to for m in mail.outbox] == [["first@example.com"]]
    assert Notification.objects.filter(state="sent").count() == 1

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notifications_deliver() == 1
    assert sorted(m.to[0] for m in mail.outbox) == ["first@example.com", "second@example.com"]


def test_a_webhook_pointing_inside_the_network_is_never_called(brenner, story, receiver):
    webhook = Webhook.objects.create(
        tenant=brenner, url=receiver, secret="s3cret", event_types=["shipment.delivered"]
    )
    project(story)

    assert notifications_deliver() == 0

    assert Receiver.received == []
    notification = Notification.objects.get(subscriber=f"webhook:{webhook.id}")
    assert notification.state == "pending" and notification.attempts == 1
    assert "private address" in notification.last_error
    [attempt] = WebhookDelivery.objects.all()
    assert attempt.status_code is None and attempt.error.startswith("not sent:")


@pytest.mark.parametrize(
    "shipment_id", ["SHP-778120", "SHP/778/120", "Ä ?#%x", "a+b&c=d", "XM-NL\nBcc: x@y"]
)
def test_shipment_urls_are_what_reverse_gives(shipment_id):
    assert shipment_url(shipment_id) == (
        settings.PORTAL_BASE_URL.rstrip("/") + reverse("shipment-detail", args=[shipment_id])
    )


def test_a_notification_that_fails_in_the_database_does_not_block_the_others(
    brenner, story, monkeypatch
):
    from django.db import connection

    from visibility.services import notifications

    for name in ("first", "second"):
        user = user_create(
            username=name, password=PASSWORD, email=f"{name}@example.com", tenant=brenner
        )
        subscribe(user, brenner, "delivery")
    project(story)
    first = Notification.objects.order_by("id").first()
    original = notifications._send_email

    def failing_for_the_first(notification):
        if notification.id == first.id:
            with connection.cursor() as cursor:  # a statement that aborts the transaction
                cursor.execute("SELECT 1 / 0")
        original(notification)

    monkeypatch.setattr(notifications, "_send_email", failing_for_the_first)

    assert notifications_deliver() == 1
    assert [message.to for message in mail.outbox] == [["second@example.com"]]
    first.refresh_from_db()
    assert (first.state, first.attempts) == ("pending", 1)
    assert "DivisionByZero" in first.last_error or "division by zero" in first.last_error
    for _ in range(notifications.MAX_DELIVERY_ATTEMPTS - 1):
        Notification.objects.update(next_attempt_at=None)
        assert notifications_deliver() == 0
    first.refresh_from_db()
    assert (first.state, first.attempts) == ("failed", notifications.MAX_DELIVERY_ATTEMPTS)


def test_an_id_with_a_newline_stored_before_intake_refused_it_is_mailed_once(brenner, subscriber):
    odd = "XM-NL\nBcc: x@y"
    Notification.objects.create(
        shipment_ref=odd,
        trigger="delivery",
        subscriber=f"user:{subscriber.id}",
        tenant=brenner,
        payload={"trigger": "delivery", "shipment_id": odd, "url": shipment_url(odd)},
    )

    assert notifications_deliver() == 1

    [message] = mail.outbox
    assert message.subject == "Delivered: shipment XM-NL Bcc: x@y"
    assert message.to == ["watcher@example.com"] and not message.bcc
    assert "/shipments/XM-NL%0ABcc:%20x@y/" in message.body
