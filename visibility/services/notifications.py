"""Notifications: recorded once per (object, trigger, occurrence, subscriber), delivered
by a worker: emails to users, signed events to webhooks (docs/API.md, "Webhooks").

Projection records a notification when a shipment *becomes* delivered (a transition
found by derivation), for each new exception record, and for each delay that moves the
ETA later than the last delay notified (visibility/services/exceptions.py), in the same
transaction as the change, so nothing is lost and a duplicate or replayed event finds
the row already there (unique constraint) and sends nothing twice. A delay that arrives
after delivery is superseded: a delivered shipment is never `delayed`, so no occurrence.
Webhooks also hear of milestones, ETA changes, resolved exceptions, documents and
invoices (found by the projectors that write them: visibility/services/projection).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
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

from accounts.models import CustomerAccount
from accounts.scoping import visible_account_ids
from core import metrics
from core.db.failures import is_infrastructure_failure
from core.logs import current_batch_id
from visibility.enqueue import enqueue_deliver_notifications
from visibility.models import (
    EMAIL_TRIGGERS,
    WEBHOOK_EVENT_OF_TRIGGER,
    Document,
    ExceptionReason,
    Invoice,
    Notification,
    NotificationSubscription,
    NotificationTrigger,
    Shipment,
    ShipmentAccount,
    Webhook,
    WebhookDelivery,
)
from visibility.services.webhooks import (
    WebhookAttemptFailed,
    WebhookGone,
    send_webhook,
    webhook_envelope,
    webhook_event_context,
    webhook_event_id,
    webhook_retry_delay,
)

logger = logging.getLogger(__name__)

# Emails: 30 s doubling, 6 attempts. Webhooks: visibility/services/webhooks.py.
MAX_DELIVERY_ATTEMPTS = 6


def shipment_url(shipment_id: str) -> str:
    """What reverse("shipment-detail") gives, without resolving the URLconf for each of
    the thousands of notifications a batch can record."""
    return _shipment_list_url() + quote(shipment_id, safe=RFC3986_SUBDELIMS + "/~:@") + "/"


@functools.cache
def _shipment_list_url() -> str:
    # The detail route is the list route plus the id (portal/urls.py).
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse("shipment-list")


# `ExceptionReason.values` builds a list on each access: looked up once.
_REASON_LABELS: dict[str, str] = {
    str(value): str(label) for value, label in ExceptionReason.choices
}


def _payload(shipment: Shipment, trigger: str, occurrence: str) -> dict:
    """What an email tells of a shipment occurrence."""
    reason = occurrence.partition(":")[0] if trigger == NotificationTrigger.EXCEPTION else ""
    return {
        "trigger": trigger,
        "reason": _REASON_LABELS.get(reason),
        "shipment_id": shipment.shipment_id,
        "status": shipment.status,
        "eta": shipment.eta.isoformat() if shipment.eta else None,
        "promised_date": shipment.promised_date.isoformat() if shipment.promised_date else None,
        "delivered_at": shipment.delivered_at.isoformat() if shipment.delivered_at else None,
        "received_by": shipment.received_by or None,
        "url": shipment_url(shipment.shipment_id),
    }


Subject = Shipment | Invoice | Document


class Occurrence(NamedTuple):
    """One occurrence of a trigger on a shipment, invoice or document: notified once
    per subscriber.

    `occurrence` tells occurrences apart: an exception's reason and the facts that
    opened it, the ETA a delay or ETA change announced, a milestone and its time; empty
    for the one delivery, a document, an invoice posted or paid."""

    shipment: Subject
    trigger: str
    occurrence: str = ""


def subject_key(subject: Subject) -> str:
    """The public key of a notified object (stored as the notification's `shipment_ref`)."""
    if isinstance(subject, Shipment):
        return subject.shipment_id
    if isinstance(subject, Invoice):
        return subject.invoice_number
    return subject.document_id


def _tenants_of(occurrences: list[Occurrence]) -> dict[tuple[str, int], dict[int, int]]:
    """{account id: tenant id} of each subject, by (model name, pk): a consolidated
    shipment is visible to each of its accounts, so each of their tenants may hear of it
    (its own facts only)."""
    found: dict[tuple[str, int], dict[int, int]] = {}
    shipment_ids = {o.shipment.id for o in occurrences if isinstance(o.shipment, Shipment)}
    if shipment_ids:
        for shipment_id, account_id, tenant_id in ShipmentAccount.objects.filter(
            shipment_id__in=shipment_ids, customer_account__tenant__isnull=False
        ).values_list("shipment_id", "customer_account_id", "customer_account__tenant_id"):
            found.setdefault(("shipment", shipment_id), {})[account_id] = tenant_id
    owned = {
        o.shipment.customer_account_id for o in occurrences if not isinstance(o.shipment, Shipment)
    }
    if owned:
        tenant_of = dict(
            CustomerAccount.objects.filter(id__in=owned, tenant__isnull=False).values_list(
                "id", "tenant_id"
            )
        )
        for o in occurrences:
            subject = o.shipment
            if not isinstance(subject, Shipment) and subject.customer_account_id in tenant_of:
                account = subject.customer_account_id
                found[(type(subject).__name__.lower(), subject.id)] = {account: tenant_of[account]}
    return found


def notifications_record(transitions: Sequence[tuple[Subject, str] | Occurrence]) -> int:
    """Record the notifications these transitions owe their subscribers; return how many."""
    if not transitions:
        return 0
    # Every active webhook, few next to a batch's events: most occurrences are milestones
    # only webhooks hear of, and without a webhook of their type they are dropped here,
    # before any lookup (the same number of queries as reading the tenants' webhooks).
    webhooks = list(Webhook.objects.filter(active=True).only("id", "tenant_id", "event_types"))
    wanted = set(EMAIL_TRIGGERS) | {
        trigger
        for trigger, (event_type, _) in WEBHOOK_EVENT_OF_TRIGGER.items()
        if any(event_type in webhook.event_types for webhook in webhooks)
    }
    occurrences = [
        occurrence
        for occurrence in (Occurrence(*transition) for transition in transitions)
        if occurrence.trigger in wanted
    ]
    tenants_of = _tenants_of(occurrences)
    tenant_ids = {tenant for accounts in tenants_of.values() for tenant in accounts.values()}
    if not tenant_ids:
        return 0
    subscriptions = list(NotificationSubscription.objects.filter(tenant_id__in=tenant_ids))
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
    now = timezone.now()
    batch_id = current_batch_id()
    rows = []
    for subject, trigger, occurrence in occurrences:
        accounts = tenants_of.get((type(subject).__name__.lower(), subject.id), {})
        key = subject_key(subject)
        emailed = isinstance(subject, Shipment) and trigger in EMAIL_TRIGGERS
        # Built for the first subscriber it goes to: most occurrences have none.
        email_payload: dict | None = None
        event_type, _ = WEBHOOK_EVENT_OF_TRIGGER[trigger]
        for tenant_id in sorted(set(accounts.values())):
            common = {
                "shipment_ref": key,
                "trigger": trigger,
                "occurrence": occurrence[:64],
                "tenant_id": tenant_id,
                "batch_id": batch_id,
            }
            if emailed:
                for subscription in subscriptions:
                    if (
                        subscription.tenant_id == tenant_id
                        and subscription.trigger == trigger
                        and accounts.keys() & visible.get(subscription.user_id, set())
                    ):
                        if email_payload is None:
                            assert isinstance(subject, Shipment)
                            email_payload = _payload(subject, trigger, occurrence)
                        rows.append(
                            Notification(
                                subscriber=f"user:{subscription.user_id}",
                                payload=email_payload,
                                **common,
                            )
                        )
            subscribed = [
                webhook
                for webhook in webhooks
                if webhook.tenant_id == tenant_id and event_type in webhook.event_types
            ]
            if not subscribed:
                continue
            event_id = webhook_event_id(tenant_id, trigger, key, occurrence[:64])
            envelope = webhook_envelope(
                event_id=event_id,
                trigger=trigger,
                created=now,
                context=webhook_event_context(trigger, occurrence),
            )
            rows += [
                Notification(
                    subscriber=f"webhook:{webhook.id}",
                    payload=envelope,
                    event_id=event_id,
                    **common,
                )
                for webhook in subscribed
            ]
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


def notifications_deliver(*, limit: int = 100, now: datetime | None = None) -> int:
    """Send pending notifications whose time has come; retry failures with backoff.

    Each notification is claimed, sent and marked in its own short transaction: a worker
    killed mid-run resends at most the one it was sending, never ones already recorded
    as sent, and a slow webhook holds the lock of one row, not of a whole batch. `now`
    is the worker's clock (tests pass it to walk the retry schedule without sleeping).
    """
    sent = 0
    for _ in range(limit):
        outcome = _deliver_next_notification(now or timezone.now())
        if outcome is None:
            break
        sent += outcome
    return sent


def _deliver_next_notification(now: datetime) -> int | None:
    """Deliver the oldest due notification; None when there is none, else 1 if sent."""
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
        return notification_attempt(notification, now)


def notification_attempt(notification: Notification, now: datetime, *, retry: bool = True) -> int:
    """One attempt at a notification locked by the caller's transaction: mark it sent,
    or schedule its retry (none when `retry` is off), or give it up; 1 if sent."""
    # A statement that fails while sending (the delivery log, a lookup) aborts the
    # transaction; without this savepoint the notification's own update would fail
    # too, and the same notification, first in line, would block all others forever.
    before_sending = transaction.savepoint()
    is_webhook = notification.subscriber.startswith("webhook:")
    try:
        if is_webhook:
            send_webhook(notification, now)
        else:
            _send_email(notification)
    except WebhookGone as gone:
        notification.state = Notification.State.FAILED
        notification.last_error = str(gone)
        was_sent = 0
    except Exception as failure:  # any delivery failure is retried, then recorded
        if is_infrastructure_failure(failure):
            raise
        logger.warning("notification %s failed", notification.id, exc_info=True)
        if isinstance(failure, DatabaseError):
            transaction.savepoint_rollback(before_sending)
        notification.attempts += 1
        # A webhook's failed attempt is a connection error to its owner; its details are
        # in the delivery log.
        kind = "ConnectionError" if isinstance(failure, WebhookAttemptFailed) else None
        notification.last_error = f"{kind or type(failure).__name__}: {failure}"[:2000]
        _schedule_retry(notification, now, failure if retry else None, is_webhook=is_webhook)
        was_sent = 0
    else:
        notification.state = Notification.State.SENT
        notification.sent_at = now
        notification.next_attempt_at = None
        was_sent = 1
    notification.save(
        update_fields=["state", "attempts", "last_error", "next_attempt_at", "sent_at"]
    )
    _record_attempt(notification, channel="webhook" if is_webhook else "email")
    return was_sent


def _record_attempt(notification: Notification, *, channel: str) -> None:
    """Count the attempt (`portal_notifications_total`) and log it by the shipment (or
    invoice, document) it is about: a batch derives each shipment once from all its
    events, so a notification is the shipment's, not one event's (docs/OPERATIONS.md,
    "Follow one event"). A webhook's carries the id its receiver sees."""
    outcome = "sent" if notification.state == Notification.State.SENT else "failed"
    metrics.notifications.labels(channel, outcome).inc()
    logger.info(
        "notification %s",
        outcome,
        extra={
            "notification_id": notification.id,
            "channel": channel,
            "shipment": notification.shipment_ref,
            "webhook_event_id": notification.event_id,
            "batch_id": notification.batch_id,
            "trigger": notification.trigger,
            "state": notification.state,
            "attempts": notification.attempts,
        },
    )


def _schedule_retry(
    notification: Notification, now: datetime, failure: Exception | None, *, is_webhook: bool
) -> None:
    """Set when the failed notification is tried next, or give it up: a webhook that
    gives up a delivery is marked failing (shown on the page and in the API)."""
    if failure is None:
        delay = None
    elif is_webhook:
        delay = webhook_retry_delay(notification.attempts)
    elif notification.attempts < MAX_DELIVERY_ATTEMPTS:
        delay = timedelta(seconds=30 * 2 ** (notification.attempts - 1))
    else:
        delay = None
    if delay is None:
        notification.state = Notification.State.FAILED
        notification.next_attempt_at = None
        if is_webhook and failure is not None:
            Webhook.objects.filter(
                id=int(notification.subscriber.split(":")[1]), failing_since__isnull=True
            ).update(failing_since=now)
        return
    notification.next_attempt_at = now + delay
    if isinstance(failure, WebhookAttemptFailed):
        WebhookDelivery.objects.filter(id=failure.attempt.id).update(
            next_attempt_at=notification.next_attempt_at
        )


def pending_notifications_exist() -> bool:
    return (
        Notification.objects.filter(state=Notification.State.PENDING)
        .exclude(next_attempt_at__gt=timezone.now())
        .exists()
    )
