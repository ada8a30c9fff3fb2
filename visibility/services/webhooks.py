"""Webhook events: the envelope, its signature with every active secret, the retry
schedule, and one attempt at sending an event to a webhook (docs/API.md, "Webhooks").

The outbox rows and the worker that drains them are visibility/services/notifications.py;
this module knows what a webhook call is.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import random
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from core import metrics
from visibility.models import (
    WEBHOOK_EVENT_OF_TRIGGER,
    ExceptionReason,
    Notification,
    NotificationTrigger,
    Webhook,
    WebhookDelivery,
)
from visibility.services.webhook_targets import (
    WebhookTargetRefused,
    webhook_connection,
    webhook_target_resolve,
)
from visibility.webhook_objects import webhook_object

WEBHOOK_TIMEOUT_SECONDS = 5
WEBHOOK_API_VERSION = "v1"


def webhook_event_id(tenant_id: int, trigger: str, key: str, occurrence: str) -> str:
    """The event's id: the same for every webhook of the tenant and across rebuilds (made
    of what the outbox is keyed by), so receivers can de-duplicate on it."""
    digest = hashlib.sha256(f"{tenant_id}|{trigger}|{key}|{occurrence}".encode()).hexdigest()
    return "evt_" + digest[:28]


def webhook_event_context(trigger: str, occurrence: str) -> dict[str, Any]:
    """What an event says beyond its object: which milestone, exception or ETA."""
    if trigger in (NotificationTrigger.EXCEPTION, NotificationTrigger.EXCEPTION_RESOLVED):
        reason = occurrence.partition(":")[0]
        label = ExceptionReason(reason).label if reason in ExceptionReason.values else None
        return {"reason": reason, "reason_label": label}
    if trigger == NotificationTrigger.MILESTONE:
        milestone, _, occurred_at = occurrence.partition("@")
        return {"milestone": milestone, "occurred_at": occurred_at}
    if trigger in (NotificationTrigger.DELAY, NotificationTrigger.ETA_CHANGE):
        return {"eta": occurrence}
    return {}


def webhook_envelope(
    *, event_id: str, trigger: str, created: datetime, context: dict[str, Any]
) -> dict[str, Any]:
    """An event as sent: `data.object` is filled when it is first sent."""
    event_type, _ = WEBHOOK_EVENT_OF_TRIGGER[trigger]
    return {
        "id": event_id,
        "type": event_type,
        "created": created.isoformat(),
        "api_version": WEBHOOK_API_VERSION,
        "data": {"object": None, **context},
    }


# After the n-th failed attempt of a webhook delivery the next comes this much later (with
# up to 10% jitter either way, so failed deliveries of one outage do not all return at
# once); after the last one the delivery is given up and its webhook marked failing.
# 1 m + 5 m + 30 m + 2 h + 6 h + 12 h + 12 h: the last attempt comes about 32.6 h after
# the first, so a receiver down for a day still gets every event.
WEBHOOK_RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(hours=12),
)
WEBHOOK_MAX_ATTEMPTS = len(WEBHOOK_RETRY_DELAYS) + 1
WEBHOOK_RETRY_JITTER = 0.1


def webhook_retry_delay(failed_attempts: int, *, jitter: float | None = None) -> timedelta | None:
    """How long after its `failed_attempts`-th failure a delivery is tried again; None when
    it is given up. `jitter` in [-1, 1] (random when None) scales the 10% spread."""
    if failed_attempts > len(WEBHOOK_RETRY_DELAYS):
        return None
    spread = random.uniform(-1, 1) if jitter is None else jitter
    return WEBHOOK_RETRY_DELAYS[failed_attempts - 1] * (1 + WEBHOOK_RETRY_JITTER * spread)


def sign_webhook_body(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", hex: the receiver recomputes and compares."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def webhook_signing_secrets(webhook: Webhook, now: datetime) -> list[str]:
    """The secrets a delivery is signed with: the current one, and during a rotation
    window the previous one too."""
    secrets_ = [webhook.secret]
    if (
        webhook.previous_secret
        and webhook.previous_secret_expires_at
        and webhook.previous_secret_expires_at > now
    ):
        secrets_.append(webhook.previous_secret)
    return secrets_


def webhook_signature_header(secrets_: Sequence[str], timestamp: int, body: bytes) -> str:
    """`t=<unix>,v1=<hex>[,v1=<hex>]`: one `v1` per active secret (Stripe's scheme), so a
    receiver that knows either secret verifies during a rotation."""
    stamp = str(timestamp)
    return ",".join(
        [f"t={stamp}", *(f"v1={sign_webhook_body(secret, stamp, body)}" for secret in secrets_)]
    )


class WebhookAttemptFailed(ConnectionError):
    """A webhook attempt that did not get a 2xx; `attempt` is its line in the log."""

    def __init__(self, error: str, attempt: WebhookDelivery) -> None:
        super().__init__(error)
        self.attempt = attempt


class WebhookGone(Exception):
    """The webhook was deactivated or deleted: nothing is sent, nothing retried."""


def webhook_of_notification(notification: Notification) -> Webhook | None:
    return Webhook.objects.filter(id=int(notification.subscriber.split(":")[1])).first()


def _event_body(notification: Notification, webhook: Webhook) -> bytes:
    """The envelope, its object rendered at the first attempt and kept for the others."""
    envelope = notification.payload
    if "type" not in envelope:
        # Recorded before webhooks had envelopes: give it the one it would get now.
        envelope = notification.payload = webhook_envelope(
            event_id=webhook_event_id(
                notification.tenant_id,
                notification.trigger,
                notification.shipment_ref,
                notification.occurrence,
            ),
            trigger=notification.trigger,
            created=notification.created_at,
            context=webhook_event_context(notification.trigger, notification.occurrence),
        )
        notification.event_id = envelope["id"]
        Notification.objects.filter(id=notification.id).update(event_id=notification.event_id)
    if envelope["data"].get("object") is None:
        _, kind = WEBHOOK_EVENT_OF_TRIGGER[notification.trigger]
        envelope["data"]["object"] = webhook_object(
            webhook.tenant_id, kind, notification.shipment_ref
        )
        Notification.objects.filter(id=notification.id).update(payload=envelope)
    return json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode()


def send_webhook(notification: Notification, now: datetime) -> WebhookDelivery:
    """POST the signed event to the address the SSRF guard checked; a 3xx is a failure.
    Every attempt is logged; a failed one raises WebhookAttemptFailed.

    Redirects are never followed (visibility/services/webhook_targets.py says why).
    """
    webhook = webhook_of_notification(notification)
    if webhook is None or not webhook.active:
        raise WebhookGone("the webhook was deactivated")
    attempt_number = WebhookDelivery.objects.filter(notification=notification).count() + 1
    try:
        target = webhook_target_resolve(webhook.url)
    except WebhookTargetRefused as refusal:
        attempt = WebhookDelivery.objects.create(
            webhook=webhook,
            notification=notification,
            attempt=attempt_number,
            attempted_at=now,
            error=f"not sent: {refusal}"[:500],
        )
        raise WebhookAttemptFailed(str(refusal), attempt) from None
    body = _event_body(notification, webhook)
    headers = {
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": "portal-webhooks/2",
        "Portal-Signature": webhook_signature_header(
            webhook_signing_secrets(webhook, now), int(now.timestamp()), body
        ),
        "Portal-Event-Type": notification.payload["type"],
        "Portal-Event-Id": notification.event_id,
        "Portal-Delivery-Id": str(notification.id),
    }
    started = time.monotonic()
    status, error = None, ""
    connection = webhook_connection(target, timeout=WEBHOOK_TIMEOUT_SECONDS)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        status = response.status
        if 300 <= status < 400:
            location = response.getheader("Location", "")
            error = f"HTTP {status}: redirect to {location} not followed"
        elif not 200 <= status < 300:
            error = f"HTTP {status}"
    except (OSError, http.client.HTTPException) as failure:
        error = str(failure) or type(failure).__name__
    finally:
        connection.close()
    elapsed = time.monotonic() - started
    metrics.webhook_request_duration.labels("failed" if error else "delivered").observe(elapsed)
    attempt = WebhookDelivery.objects.create(
        webhook=webhook,
        notification=notification,
        attempt=attempt_number,
        attempted_at=now,
        status_code=status,
        error=error[:500],
        duration_ms=int(elapsed * 1000),
    )
    if error:
        raise WebhookAttemptFailed(error, attempt)
    if notification.created_at is not None:
        metrics.webhook_delivery_lag.observe(
            max((now - notification.created_at).total_seconds(), 0)
        )
    if webhook.failing_since is not None:
        Webhook.objects.filter(id=webhook.id).update(failing_since=None)
    return attempt
