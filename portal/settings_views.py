"""Pages where users choose notifications and tenant admins manage webhooks."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.models import Membership
from accounts.selectors import membership_of
from portal.access import signed_in_user, tenant_admin_or_404
from portal.forms import posted_id
from visibility import selectors
from visibility.models import NotificationTrigger
from visibility.services.subscriptions import (
    subscriptions_set,
    webhook_create,
    webhook_deactivate,
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
                (value, label, value in chosen) for value, label in NotificationTrigger.choices
            ],
        },
    )


@login_required
def webhook_settings(request: HttpRequest) -> HttpResponse:
    membership = tenant_admin_or_404(request)
    new_webhook = None
    if request.method == "POST" and "deactivate" in request.POST:
        webhook = selectors.webhook_of_tenant(
            membership.tenant_id, posted_id(request, "deactivate")
        )
        if webhook is None:
            raise Http404("No such webhook")
        webhook_deactivate(webhook=webhook)
        return redirect("webhook-settings")
    if request.method == "POST":
        try:
            new_webhook = webhook_create(
                tenant=membership.tenant,
                url=request.POST.get("url", ""),
                triggers=request.POST.getlist("trigger"),
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
    return render(
        request,
        "settings/webhooks.html",
        {
            "tenant": membership.tenant,
            "new_webhook": new_webhook,
            "webhooks": selectors.webhooks_of_tenant(membership.tenant_id),
            "deliveries": selectors.webhook_deliveries_of_tenant(membership.tenant_id),
            "triggers": NotificationTrigger.choices,
        },
    )
