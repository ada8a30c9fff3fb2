"""Writes for notification preferences: a user's subscriptions, a tenant's webhooks."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from accounts.models import Tenant
from visibility.models import NotificationSubscription, NotificationTrigger, Webhook
from visibility.services.webhook_targets import webhook_target_refusal


def subscriptions_set(*, user: User, tenant: Tenant, triggers: Iterable[str]) -> set[str]:
    wanted = set(triggers) & set(NotificationTrigger.values)
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


def webhook_create(*, tenant: Tenant, url: str, triggers: Iterable[str]) -> Webhook:
    """Register a webhook; its signing secret is generated here and shown to the admin."""
    URLValidator(schemes=["http", "https"])(url)
    refusal = webhook_target_refusal(url)
    if refusal:
        raise ValidationError(refusal)
    chosen = sorted(set(triggers) & set(NotificationTrigger.values))
    if not chosen:
        raise ValidationError("choose at least one trigger")
    return Webhook.objects.create(
        tenant=tenant, url=url, triggers=chosen, secret=secrets.token_urlsafe(32)
    )


def webhook_deactivate(*, webhook: Webhook) -> None:
    webhook.active = False
    webhook.save(update_fields=["active"])
