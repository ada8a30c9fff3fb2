"""Reads about who is who, for the admin pages."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import ApiToken, AuditEntry, CustomerAccount, Membership


def membership_of(user) -> Membership | None:
    return Membership.objects.filter(user=user).select_related("tenant").first()


def tenant_admin_membership(user) -> Membership | None:
    membership = membership_of(user)
    if membership is None or membership.role != "tenant_admin":
        return None
    return membership


def api_tokens_of_tenant(tenant_id: int) -> QuerySet[ApiToken]:
    return (ApiToken.objects.filter(tenant_id=tenant_id).prefetch_related("accounts")
            .order_by("-created_at"))


def accounts_of_tenant(tenant_id: int) -> QuerySet[CustomerAccount]:
    return CustomerAccount.objects.filter(tenant_id=tenant_id).order_by("number")


def audit_entries(*, tenant_id: int | None, limit: int = 200) -> QuerySet[AuditEntry]:
    """A tenant's entries, or (tenant_id None: platform admins) everyone's."""
    entries = AuditEntry.objects.order_by("-occurred_at", "-id")
    if tenant_id is not None:
        entries = entries.filter(tenant_id=tenant_id)
    return entries[:limit]
