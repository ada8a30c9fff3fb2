"""Platform admins' writes from the portal's pages, each audited: tenants and the
accounts assigned to them, source systems and their roles."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest

from accounts.audit import audit_record
from accounts.models import AuditAction, SourceSystem, Tenant
from accounts.services import source_create, tenant_create_or_update


def platform_tenant_save(
    *,
    actor: User,
    slug: str,
    name: str,
    account_numbers: Iterable[str],
    closed_shipment_retention_days: int | None = None,
    request: HttpRequest | None = None,
) -> Tenant:
    """Create a tenant (or rename one) and assign it accounts; events held for those
    accounts are released. `closed_shipment_retention_days`, when given, is how long its
    closed shipments are kept (visibility/services/retention.py); None leaves it as it is.
    Raises ValueError when an account belongs to another tenant."""
    numbers = sorted({number.strip() for number in account_numbers if number.strip()})
    with transaction.atomic():
        tenant = tenant_create_or_update(slug=slug, name=name, account_numbers=numbers)
        details: dict[str, object] = {"name": name, "accounts_assigned": numbers}
        if closed_shipment_retention_days is not None:
            details["closed_shipment_retention_days"] = {
                "from": tenant.closed_shipment_retention_days,
                "to": closed_shipment_retention_days,
            }
            tenant.closed_shipment_retention_days = closed_shipment_retention_days
            tenant.save(update_fields=["closed_shipment_retention_days"])
        audit_record(
            action=AuditAction.TENANT_SAVED,
            actor=actor,
            tenant=tenant,
            target=f"tenant:{tenant.slug}",
            request=request,
            details=details,
        )
    return tenant


def platform_source_register(
    *,
    actor: User,
    key: str,
    role: str,
    account_numbers: Iterable[str] = (),
    request: HttpRequest | None = None,
) -> tuple[SourceSystem, str]:
    """Register a source (or re-register it: a new token replaces the old one); answer
    it with its token, shown once."""
    numbers = sorted({number.strip() for number in account_numbers if number.strip()})
    with transaction.atomic():
        source, secret = source_create(key=key, role=role, account_numbers=numbers)
        audit_record(
            action=AuditAction.SOURCE_REGISTERED,
            actor=actor,
            target=f"source:{key}",
            request=request,
            details={"role": role, "accounts": numbers},
        )
    return source, secret
