"""Notifications: recorded once per (shipment, trigger, occurrence, subscriber), delivered
by a worker.

Projection records a notification when a shipment *becomes* delivered (a transition
found by derivation), for each new exception record, and for each delay that moves the
ETA later than the last delay notified (visibility/services/exceptions.py), in the same
transaction as the change, so nothing is lost and a duplicate or replayed event finds
the row already there (unique constraint) and sends nothing twice. A delay that arrives
after delivery is superseded: a delivered shipment is never `delayed`, so no occurrence.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import http.client
import json
import logging
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import NamedTuple
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import DatabaseError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import RFC3986_SUBDELIMS

from accounts.scoping import visible_account_ids
from core.db.failures import is_infrastructure_failure
from visibility.enqueue import enqueue_deliver_notifications
from visibility.models import (
    ExceptionReason,
    Notification,
    NotificationSubscription,
    NotificationTrigger,
    Shipment,
    ShipmentAccount,
    Webhook,
    WebhookDelivery,
)
from visibility.services.webhook_targets import (
    WebhookTargetRefused,
    webhook_connection,
    webhook_target_resolve,
)

logger = logging.getLogger(__name__)

MAX_DELIVERY_ATTEMPTS = 6
WEBHOOK_TIMEOUT_SECONDS = 5


def shipment_url(shipment_id: str) -> str:
    """What reverse("shipment-detail") gives, without resolving the URLconf for each of
    the thousands of notifications a batch can record."""
    return _shipment_list_url() + quote(shipment_id, safe=RFC3986_SUBDELIMS + "/~:@") + "/"


@functools.cache
def _shipment_list_url() -> str:
    # The detail route is the list route plus the id (portal/urls.py).
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse("shipment-list")


def _payload(shipment: Shipment, trigger: str, occurrence: str) -> dict:
    reason = occurrence.partition(":")[0] if trigger == NotificationTrigger.EXCEPTION else ""
    return {
        "trigger": trigger,
        "reason": ExceptionReason(reason).label if reason in ExceptionReason.values else None,
        "shipment_id": shipment.shipment_id,
        "status": shipment.status,
        "eta": shipment.eta.isoformat() if shipment.eta else None,
        "promised_date": shipment.promised_date.isoformat() if shipment.promised_date else None,
        "delivered_at": shipment.delivered_at.isoformat() if shipment.delivered_at else None,
        "received_by": shipment.received_by or None,
        "url": shipment_url(shipment.shipment_id),
    }


class Occurrence(NamedTuple):
    """One occurrence of a trigger on a shipment: notified once per subscriber.

    `occurrence` tells occurrences apart: an exception's reason and id, the ETA a delay
    announced; empty for the one delivery."""

    shipment: Shipment
    trigger: str
    occurrence: str = ""


def notifications_record(transitions: Sequence[tuple[Shipment, str] | Occurrence]) -> int:
    """Record the notifications these transitions owe their subscribers; return how many."""
    if not transitions:
        return 0
    occurrences = [Occurrence(*transition) for transition in transitions]
    # A consolidated shipment is visible to each of its accounts, so each of their
    # tenants' subscribers may hear of it (its own facts only: the payload names no order).
    accounts_of: dict[int, dict[int, int]] = {}
    for shipment_id, account_id, tenant_id in ShipmentAccount.objects.filter(
        shipment_id__in={occurrence.shipment.id for occurrence in occurrences},
        customer_account__tenant__isnull=False,
    ).values_list("shipment_id", "customer_account_id", "customer_account__tenant_id"):
        accounts_of.setdefault(shipment_id, {})[account_id] = tenant_id
    tenant_ids = {tenant for accounts in accounts_of.values() for tenant in accounts.values()}
    subscriptions = list(NotificationSubscription.objects.filter(tenant_id__in=tenant_ids))
    webhooks = list(Webhook.objects.filter(tenant_id__in=tenant_ids, active=True))
    users = {
        user.id: user
        for user in get_user_model().objects.filter(
            id__in={subscription.user_id for subscription in subscriptions}, is_active=True
        )
    }
    visible: dict[int, set[int]] = {
        user_id: set(visible_account_ids(user).values_list("id", flat=True))
        for user_id, user in users.items()
    }
    rows = []
    for shipment, trigger, occurrence in occurrences:
        accounts = accounts_of.get(shipment.id, {})
        payload = _payload(shipment, trigger, occurrence)
        for tenant_id in sorted(set(accounts.values())):
            common = {
                "shipment_ref": shipment.shipment_id,
                "trigger": trigger,
                "occurrence": occurrence[:64],
                "tenant_id": tenant_id,
                "payload": payload,
            }
            for subscription in subscriptions:
                if (
                    subscription.tenant_id == tenant_id
                    and subscription.trigger == trigger
                    and accounts.keys() & visible.get(subscription.user_id, set())
                ):
                    rows.append(Notification(subscriber=f"user:{subscription.user_id}", **common))
            for webhook in webhooks:
                if webhook.tenant_id == tenant_id and trigger in webhook.triggers:
                    rows.append(Notification(subscriber=f"webhook:{webhook.id}", **common))
    created = Notification.objects.bulk_create(rows, ignore_conflicts=True)
    if created:
        transaction.on_commit(wake_notification_worker)
    return len(created)


def wake_notification_worker() -> None:
    try:
        enqueue_deliver_notifications()
    except Exception:
        logger.warning(
            "could not wake the notification worker; the sweep will catch up", exc_info=True
        )


# --- delivery ------------------------------------------------------------------------------


def sign_webhook_body(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", hex: the receiver recomputes and compares."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _send_email(notification: Notification) -> None:
    user = get_user_model().objects.get(id=int(notification.subscriber.split(":")[1]))
    if not user.email:
        raise ValueError(f"user {user.pk} has no email address")
    context = {"user": user, **notification.payload}
    # One line whatever the id holds: an id stored before intake refused control
    # characters ("XM-NL\nBcc: x@y") must neither inject a header nor fail every retry.
    subject = " ".join(render_to_string("notifications/subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("notifications/email.txt", context),
        to=[user.email],
    )
    message.attach_alternative(render_to_string("notifications/email.html", context), "text/html")
    message.send()


def _send_webhook(notification: Notification) -> None:
    """POST the signed payload to the address the SSRF guard checked; a 3xx is a failure.

    Redirects are never followed (visibility/services/webhook_targets.py says why).
    """
    webhook = Webhook.objects.get(id=int(notification.subscriber.split(":")[1]))
    try:
        target = webhook_target_resolve(webhook.url)
    except WebhookTargetRefused as refusal:
        WebhookDelivery.objects.create(
            webhook=webhook, notification=notification, error=f"not sent: {refusal}"[:500]
        )
        raise ConnectionError(str(refusal)) from None
    body = json.dumps(
        {"notification_id": notification.id, **notification.payload}, sort_keys=True
    ).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": "portal-webhooks/1",
        "X-Portal-Timestamp": timestamp,
        "X-Portal-Signature": "sha256=" + sign_webhook_body(webhook.secret, timestamp, body),
        "X-Portal-Notification-Id": str(notification.id),
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
    WebhookDelivery.objects.create(
        webhook=webhook,
        notification=notification,
        status_code=status,
        error=error[:500],
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    if error:
        raise ConnectionError(error)


def notifications_deliver(*, limit: int = 100) -> int:
    """Send pending notifications whose time has come; retry failures with backoff.

    Each notification is claimed, sent and marked in its own short transaction: a worker
    killed mid-run resends at most the one it was sending, never ones already recorded
    as sent, and a slow webhook holds the lock of one row, not of a whole batch.
    """
    sent = 0
    for _ in range(limit):
        outcome = _deliver_next_notification()
        if outcome is None:
            break
        sent += outcome
    return sent


def _deliver_next_notification() -> int | None:
    """Deliver the oldest due notification; None when there is none, else 1 if sent."""
    now = timezone.now()
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(state=Notification.State.PENDING)
            .exclude(next_attempt_at__gt=now)
            .order_by("id")
            .first()
        )
        if notification is None:
            return None
        # A statement that fails while sending (the delivery log, a lookup) aborts the
        # transaction; without this savepoint the notification's own update would fail
        # too, and the same notification, first in line, would block all others forever.
        before_sending = transaction.savepoint()
        try:
            if notification.subscriber.startswith("webhook:"):
                _send_webhook(notification)
            else:
                _send_email(notification)
        except Exception as failure:  # any delivery failure is retried, then recorded
            if is_infrastructure_failure(failure):
                raise
            logger.warning("notification %s failed", notification.id, exc_info=True)
            if isinstance(failure, DatabaseError):
                transaction.savepoint_rollback(before_sending)
            notification.attempts += 1
            notification.last_error = f"{type(failure).__name__}: {failure}"[:2000]
            if notification.attempts >= MAX_DELIVERY_ATTEMPTS:
                notification.state = Notification.State.FAILED
            else:
                notification.next_attempt_at = now + timedelta(
                    seconds=30 * 2 ** (notification.attempts - 1)
                )
            was_sent = 0
        else:
            notification.state = Notification.State.SENT
            notification.sent_at = timezone.now()
            was_sent = 1
        notification.save(
            update_fields=["state", "attempts", "last_error", "next_attempt_at", "sent_at"]
        )
    return was_sent


def pending_notifications_exist() -> bool:
    return (
        Notification.objects.filter(state=Notification.State.PENDING)
        .exclude(next_attempt_at__gt=timezone.now())
        .exists()
    )
