"""Pages where users choose notifications and tenant admins manage webhooks."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts.models import Membership
from accounts.selectors import membership_of
from portal.access import signed_in_user, tenant_admin_or_404
from portal.forms import posted_id
from visibility import selectors
from visibility.models import EMAIL_TRIGGERS, WEBHOOK_EVENT_OF_TRIGGER, Webhook, WebhookEventType
from visibility.services.subscriptions import (
    subscriptions_set,
    webhook_create,
    webhook_deactivate,
    webhook_delete,
    webhook_ping,
    webhook_redeliver,
    webhook_rotate_secret,
    webhook_update,
)


def _membership(request: HttpRequest) -> Membership:
    membership = membership_of(request.user)
    if membership is None:
        raise Http404("Notifications belong to a tenant's users")
    return membership


@login_required
def notification_settings(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    if request.method == "POST":
        subscriptions_set(
            user=signed_in_user(request),
            tenant=membership.tenant,
            triggers=request.POST.getlist("trigger"),
        )
        messages.success(request, "Notification settings saved.")
        return redirect("notification-settings")
    chosen = selectors.subscriptions_of(signed_in_user(request), membership.tenant_id)
    return render(
        request,
        "settings/notifications.html",
        {
            "tenant": membership.tenant,
            "triggers": [
                (trigger.value, trigger.label, trigger.value in chosen)
                for trigger in EMAIL_TRIGGERS
            ],
        },
    )


WEBHOOK_ACTIONS = ("deactivate", "activate", "rotate", "ping", "save_types", "delete")


@login_required
def webhook_settings(request: HttpRequest) -> HttpResponse:
    """Register webhooks, choose their event types, rotate secrets, ping, read the delivery
    log with every attempt and redeliver (docs/API.md, "Webhooks"). A new secret is
    shown once, on the page that answers the creation or rotation."""
    membership = tenant_admin_or_404(request)
    tenant_id = membership.tenant_id
    shown_secret: tuple[Webhook, str] | None = None
    if request.method == "POST":
        action = next((name for name in WEBHOOK_ACTIONS if name in request.POST), None)
        if "redeliver" in request.POST:
            delivery = selectors.webhook_delivery_of_tenant(
                tenant_id, posted_id(request, "redeliver")
            )
            if delivery is None:
                raise Http404("No such delivery")
            webhook_redeliver(notification=delivery)
            messages.success(request, f"Delivery {delivery.id} will be sent again shortly.")
            return redirect("webhook-settings")
        if action is not None:
            webhook = selectors.webhook_of_tenant(tenant_id, posted_id(request, action))
            if webhook is None:
                raise Http404("No such webhook")
            try:
                shown_secret = _webhook_action(request, action, webhook)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            if shown_secret is None:
                return redirect("webhook-settings")
        else:
            try:
                webhook = webhook_create(
                    tenant=membership.tenant,
                    url=request.POST.get("url", ""),
                    event_types=request.POST.getlist("event_type"),
                    description=request.POST.get("description", ""),
                )
                shown_secret = (webhook, webhook.secret)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
    return render(
        request,
        "settings/webhooks.html",
        {
            "tenant": membership.tenant,
            "shown_secret": shown_secret,
            "webhooks": [
                (
                    webhook,
                    [
                        (value, label, value in webhook.event_types)
                        for value, label in WebhookEventType.choices
                    ],
                )
                for webhook in selectors.webhooks_of_tenant(tenant_id)
            ],
            "deliveries": [
                (delivery, WEBHOOK_EVENT_OF_TRIGGER[delivery.trigger][0])
                for delivery in selectors.recent_webhook_deliveries_of_tenant(tenant_id)
            ],
            "event_types": WebhookEventType.choices,
        },
    )


def _webhook_action(
    request: HttpRequest, action: str, webhook: Webhook
) -> tuple[Webhook, str] | None:
    """Do what the button asked; a rotation answers the new secret to show once."""
    if action == "deactivate":
        webhook_deactivate(webhook=webhook)
    elif action == "activate":
        webhook_update(webhook=webhook, active=True)
    elif action == "delete":
        webhook_delete(webhook=webhook)
        messages.success(request, "Webhook deleted.")
    elif action == "save_types":
        webhook_update(webhook=webhook, event_types=request.POST.getlist("event_type"))
        messages.success(request, "Event types saved.")
    elif action == "rotate":
        webhook = webhook_rotate_secret(webhook=webhook, now=timezone.now())
        return (webhook, webhook.secret)
    elif action == "ping":
        attempt = webhook_ping(webhook=webhook, now=timezone.now())
        if attempt is not None and not attempt.error:
            messages.success(request, f"Ping answered HTTP {attempt.status_code}.")
        else:
            messages.error(request, f"Ping failed: {attempt.error if attempt else 'not sent'}")
    return None
