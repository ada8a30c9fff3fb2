"""Tenant admins' pages: partner API tokens and the audit log."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts import selectors
from accounts.models import TokenScope
from accounts.services import api_token_create, api_token_revoke
from portal.access import signed_in_user, tenant_admin_or_404
from portal.forms import posted_id


@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    membership = tenant_admin_or_404(request)
    new_secret, error = None, None
    if request.method == "POST" and "revoke" in request.POST:
        token = selectors.api_token_of_tenant(membership.tenant_id, posted_id(request, "revoke"))
        if token is None:
            raise Http404("No such token")
        api_token_revoke(token=token, revoked_by=signed_in_user(request))
        return redirect("api-token-settings")
    if request.method == "POST":
        days = request.POST.get("expires_in_days", "").strip()
        name = request.POST.get("name", "").strip()
        if not name:
            error = "Give the token a name."
        elif days and (not days.isdigit() or not 1 <= int(days) <= 3650):
            error = "Expiry must be between 1 and 3650 days."
        else:
            try:
                _, new_secret = api_token_create(
                    tenant=membership.tenant,
                    name=name[:200],
                    scopes=request.POST.getlist("scope"),
                    account_numbers=request.POST.getlist("account"),
                    expires_at=timezone.now() + timedelta(days=int(days)) if days else None,
                    created_by=signed_in_user(request),
                )
            except ValueError as failure:
                error = str(failure)
    return render(
        request,
        "settings/tokens.html",
        {
            "tenant": membership.tenant,
            "tokens": selectors.api_tokens_of_tenant(membership.tenant_id),
            "accounts": selectors.accounts_of_tenant(membership.tenant_id),
            "scopes": TokenScope.choices,
            "new_secret": new_secret,
            "error": error,
            "now": timezone.now(),
        },
    )


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    if request.user.is_superuser:
        tenant, tenant_id = None, None
    else:
        membership = tenant_admin_or_404(request)
        tenant, tenant_id = membership.tenant, membership.tenant_id
    return render(
        request,
        "settings/audit.html",
        {
            "tenant": tenant,
            "entries": selectors.audit_entries(tenant_id=tenant_id),
        },
    )
