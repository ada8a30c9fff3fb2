"""Writes for notification preferences: a user's subscriptions, a tenant's webhooks
(registration, event types, secret rotation, test pings and redeliveries)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from accounts.models import Tenant
from visibility.models import (
    EMAIL_TRIGGERS,
    Notification,
    NotificationSubscription,
    NotificationTrigger,
    Webhook,
    WebhookDelivery,
    WebhookEventType,
)
from visibility.services.notifications import notification_attempt, wake_notification_worker
from visibility.services.webhook_targets import webhook_target_refusal
from visibility.services.webhooks import webhook_envelope

# How long the previous secret keeps signing after a rotation unless told otherwise, and
# at most (receivers switch to the new secret within this window).
ROTATION_WINDOW_DEFAULT = timedelta(hours=24)
ROTATION_WINDOW_MAX = timedelta(days=7)


def subscriptions_set(*, user: User, tenant: Tenant, triggers: Iterable[str]) -> set[str]:
    wanted = set(triggers) & set(EMAIL_TRIGGERS)
    with transaction.atomic():
        NotificationSubscription.objects.filter(user=user, tenant=tenant).exclude(
            trigger__in=wanted
        ).delete()
        NotificationSubscription.objects.bulk_create(
            [
                NotificationSubscription(user=user, tenant=tenant, trigger=trigger)
                for trigger in sorted(wanted)
            ],
            ignore_conflicts=True,
        )
    return wanted


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _checked_url(url: str) -> str:
    """A webhook URL: http(s), at most 500 characters, and not refused by the SSRF guard."""
    if len(url) > 500:
        raise ValidationError({"url": "at most 500 characters"})
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ValidationError({"url": "Enter a valid URL (http or https)."}) from None
    refusal = webhook_target_refusal(url)
    if refusal:
        raise ValidationError({"url": refusal})
    return url


def _checked_event_types(event_types: Iterable[str]) -> list[str]:
    chosen = set(event_types)
    unknown = sorted(chosen - set(WebhookEventType.values))
    if unknown:
        raise ValidationError({"event_types": f"unknown event types: {', '.join(unknown)}"})
    if not chosen:
        raise ValidationError({"event_types": "choose at least one event type"})
    return sorted(chosen)


def webhook_create(
    *, tenant: Tenant, url: str, event_types: Iterable[str], description: str = ""
) -> Webhook:
    """Register a webhook; its signing secret is generated here and shown to the admin once."""
    return Webhook.objects.create(
        tenant=tenant,
        url=_checked_url(url),
        event_types=_checked_event_types(event_types),
        description=description[:200],
        secret=new_webhook_secret(),
    )


def webhook_update(
    *,
    webhook: Webhook,
    url: str | None = None,
    event_types: Iterable[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> Webhook:
    """Change what is given; reactivating a webhook clears its failing mark."""
    if url is not None:
        webhook.url = _checked_url(url)
    if event_types is not None:
        webhook.event_types = _checked_event_types(event_types)
    if description is not None:
        webhook.description = description[:200]
    if active is not None:
        if active and not webhook.active:
            webhook.failing_since = None
        webhook.active = active
    webhook.save()
    return webhook


def webhook_rotate_secret(
    *, webhook: Webhook, now: datetime, previous_valid_for: timedelta = ROTATION_WINDOW_DEFAULT
) -> Webhook:
    """Give the webhook a new secret; the current one keeps signing (a second `v1=`) for
    `previous_valid_for` (0 ends it now, at most 7 days)."""
    if not timedelta(0) <= previous_valid_for <= ROTATION_WINDOW_MAX:
        raise ValidationError({"expire_previous_in_hours": "between 0 and 168 hours (7 days)"})
    with transaction.atomic():
        webhook = Webhook.objects.select_for_update().get(id=webhook.id)
        webhook.previous_secret = webhook.secret
        webhook.previous_secret_expires_at = now + previous_valid_for
        webhook.secret = new_webhook_secret()
        webhook.save(update_fields=["previous_secret", "previous_secret_expires_at", "secret"])
    return webhook


def webhook_deactivate(*, webhook: Webhook) -> None:
    webhook.active = False
    webhook.save(update_fields=["active"])


def webhook_delete(*, webhook: Webhook) -> None:
    """Delete the webhook and its delivery log; its pending deliveries are dropped."""
    with transaction.atomic():
        Notification.objects.filter(subscriber=f"webhook:{webhook.id}").delete()
        webhook.delete()


def webhook_ping(*, webhook: Webhook, now: datetime) -> WebhookDelivery | None:
    """Send a `webhook.ping` event to the webhook now, once (no retries), and return its
    line in the delivery log. Sent within the transaction that records it, so the worker
    never sees it pending."""
    if not webhook.active:
        raise ValidationError("the webhook is deactivated: activate it to ping it")
    occurrence = secrets.token_hex(8)
    event_id = "evt_ping_" + occurrence
    envelope = webhook_envelope(
        event_id=event_id, trigger=NotificationTrigger.PING, created=now, context={}
    )
    envelope["data"]["object"] = {
        "webhook_id": webhook.id,
        "url": webhook.url,
        "event_types": webhook.event_types,
    }
    with transaction.atomic():
        notification = Notification.objects.create(
            shipment_ref=f"webhook:{webhook.id}",
            trigger=NotificationTrigger.PING,
            occurrence=occurrence,
            subscriber=f"webhook:{webhook.id}",
            tenant_id=webhook.tenant_id,
            payload=envelope,
            event_id=event_id,
        )
        notification_attempt(notification, now, retry=False)
    return WebhookDelivery.objects.filter(notification=notification).order_by("-id").first()


def webhook_redeliver(*, notification: Notification) -> Notification:
    """Send a delivery again as soon as the worker runs, with a fresh retry schedule; its
    earlier attempts stay in the log (attempt numbers count on)."""
    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(id=notification.id)
        notification.state = Notification.State.PENDING
        notification.attempts = 0
        notification.next_attempt_at = None
        notification.save(update_fields=["state", "attempts", "next_attempt_at"])
        transaction.on_commit(wake_notification_worker)
    return notification
