"""A tenant's standing with the operator: deactivated and reactivated, never deleted.

Deactivating a tenant takes effect at its members' next request (they are signed out by
`accounts.middleware.InactiveTenantSignOutMiddleware`) and at its partner tokens' next
call (refused with 401, `accounts.authentication`). Its events are still accepted and
projected, and nothing of it is deleted: reactivating restores everything as it was,
tokens included (a token revoked meanwhile stays revoked).
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from accounts.audit import audit_record
from accounts.models import AuditAction, Tenant


def _set_active(*, tenant: Tenant, active: bool, actor: User | str, reason: str) -> Tenant:
    with transaction.atomic():
        locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if locked.is_active != active:
            locked.is_active = active
            locked.save(update_fields=["is_active"])
            audit_record(
                action=AuditAction.TENANT_REACTIVATED if active else AuditAction.TENANT_DEACTIVATED,
                actor=actor,
                tenant=locked,
                target=f"tenant:{locked.slug}",
                details={"reason": reason} if reason else {},
            )
    tenant.is_active = active
    return tenant


def deactivate_tenant(*, tenant: Tenant, actor: User | str, reason: str = "") -> Tenant:
    """Sign the tenant's members out and refuse its tokens; keep its data and its events
    flowing. Deactivating an inactive tenant changes nothing and audits nothing."""
    return _set_active(tenant=tenant, active=False, actor=actor, reason=reason)


def reactivate_tenant(*, tenant: Tenant, actor: User | str, reason: str = "") -> Tenant:
    return _set_active(tenant=tenant, active=True, actor=actor, reason=reason)
