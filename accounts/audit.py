"""Writing the audit log. Every entry names who (user or token), what, and for which tenant."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.models import ApiToken, AuditAction, AuditEntry, Tenant
from accounts.scoping import Actor, is_operator


def describe_actor(actor: Actor) -> str:
    if isinstance(actor, ApiToken):
        return f"token:{actor.prefix}"
    if actor is None or not getattr(actor, "is_authenticated", False):
        return "anonymous"
    return f"user:{actor.get_username()}"


def client_address(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def audit_record(
    *,
    action: AuditAction,
    actor: Actor | str,
    tenant: Tenant | int | None = None,
    target: str = "",
    request: HttpRequest | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        action=action,
        actor=actor if isinstance(actor, str) else describe_actor(actor),
        tenant_id=tenant.id if isinstance(tenant, Tenant) else tenant,
        target=target[:200],
        ip_address=client_address(request),
        details=details or {},
    )


def audit_staff_look(
    *, actor: Actor, tenant_id: int | None, target: str, request: HttpRequest | None = None
) -> None:
    if is_operator(actor):
        audit_record(
            action=AuditAction.STAFF_VIEWED,
            actor=actor,
            tenant=tenant_id,
            target=target,
            request=request,
        )


def audit_staff_search(
    *, actor: Actor, query: str, tenant_ids: set[int], request: HttpRequest | None = None
) -> None:
    if not is_operator(actor):
        return
    # One entry per tenant whose data the search showed, written in one statement.
    tenants: list[int | None] = [*sorted(tenant_ids)] if tenant_ids else [None]
    AuditEntry.objects.bulk_create(
        AuditEntry(
            action=AuditAction.STAFF_SEARCHED,
            actor=describe_actor(actor),
            tenant_id=tenant_id,
            target=query[:200],
            ip_address=client_address(request),
        )
        for tenant_id in tenants
    )
