"""Tenant admins' pages: partner API tokens and the audit log."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts import selectors
from accounts.models import TokenScope
from accounts.scoping import standing_of
from accounts.services import api_token_create, api_token_revoke
from portal.access import signed_in_user, tenant_admin_or_404
from portal.forms import posted_id


def scopes_in_words(scopes: list[str]) -> str:
    """A token's scopes as the page says them; none stored means every scope."""
    if not scopes:
        return "All data"
    return ", ".join(str(TokenScope(scope).label) for scope in scopes if scope in TokenScope)


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
    scope_mode = request.POST.get("scope_mode", "")
    account_mode = request.POST.get("account_mode", "")
    chosen_scopes = request.POST.getlist("scope") if scope_mode == "chosen" else []
    chosen_accounts = request.POST.getlist("account") if account_mode == "chosen" else []
    if request.method == "POST":
        days = request.POST.get("expires_in_days", "").strip()
        name = request.POST.get("name", "").strip()
        if not name:
            error = "Give the token a name."
        # "All" is a choice the admin makes, never what an empty tick list means.
        elif scope_mode not in ("all", "chosen") or account_mode not in ("all", "chosen"):
            error = "Choose what the token may read and for which accounts."
        elif scope_mode == "chosen" and not chosen_scopes:
            error = "Tick at least one kind of data, or choose All data."
        elif account_mode == "chosen" and not chosen_accounts:
            error = "Tick at least one account, or choose all accounts."
        elif days and (not days.isdigit() or not 1 <= int(days) <= 3650):
            error = "Expiry must be between 1 and 3650 days."
        else:
            try:
                _, new_secret = api_token_create(
                    tenant=membership.tenant,
                    name=name[:200],
                    scopes=chosen_scopes,
                    account_numbers=chosen_accounts,
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
            "token_rows": [
                (token, scopes_in_words(token.scopes))
                for token in selectors.api_tokens_of_tenant(membership.tenant_id)
            ],
            "scope_mode": scope_mode if error else "",
            "account_mode": account_mode if error else "",
            "chosen_scopes": chosen_scopes if error else [],
            "chosen_accounts": chosen_accounts if error else [],
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


@login_required
def settings_home(request: HttpRequest) -> HttpResponse:
    """/settings/: a tenant admin starts at members, a member at notification rules."""
    membership = standing_of(request.user).membership
    if membership is None:
        raise Http404
    return redirect(
        "member-settings" if membership.role == "tenant_admin" else "notification-settings"
    )
