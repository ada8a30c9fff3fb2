"""Retention of closed shipments, per tenant: a delivered or cancelled shipment that has
heard nothing for longer than its tenant keeps history (`Tenant.closed_shipment_retention_days`,
else CLOSED_SHIPMENT_RETENTION_DAYS, two years) is deleted with its history, stops,
charges, documents, exception records and search references; an order goes with it only
when none of its shipments is left. Each deletion is audited under the tenant.

A shipment may carry orders of accounts of more than one tenant (decision 9): it goes
only when it is past the retention of every tenant that sees it, so the tenant keeping
history longest decides.

The events these rows were built from may sit in the archive (integration/services/archive.py):
a rebuild from the archive brings such shipments back, and the next retention run removes
them again (docs/OPERATIONS.md, "Archive and retention").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.audit import audit_record
from accounts.models import AuditAction, Tenant
from visibility.models import (
    Document,
    Order,
    Shipment,
    ShipmentAccount,
    ShipmentOrder,
    ShipmentStatus,
)

Progress = Callable[[int], None]
# Told the business keys of each chunk of deleted shipments, inside its transaction: what
# other layers keep per shipment (integration's lane routes) goes with them.
ShipmentsDeleted = Callable[[list[str]], object]

CLOSED_STATUSES = (ShipmentStatus.DELIVERED, ShipmentStatus.CANCELLED)
# Shipments deleted per transaction (and per audit entry).
RETENTION_CHUNK = 500
RETENTION_ACTOR = "system:retention"


@dataclass
class RetentionOutcome:
    # tenant slug → shipments / orders deleted (for a dry run: that would be).
    shipments: dict[str, int] = field(default_factory=dict)
    orders: dict[str, int] = field(default_factory=dict)


def tenant_retention_days(tenant: Tenant) -> int:
    if tenant.closed_shipment_retention_days is not None:
        return tenant.closed_shipment_retention_days
    return int(settings.CLOSED_SHIPMENT_RETENTION_DAYS)


def _longer_retentions(tenant: Tenant) -> dict[int, list[int]]:
    """Other tenants keeping history longer than `tenant`: days → their ids."""
    days = tenant_retention_days(tenant)
    longer: dict[int, list[int]] = {}
    for other in Tenant.objects.exclude(id=tenant.id):
        if (other_days := tenant_retention_days(other)) > days:
            longer.setdefault(other_days, []).append(other.id)
    return longer


def closed_shipments_past_retention(tenant: Tenant, now: datetime) -> QuerySet[Shipment]:
    """The tenant's closed shipments (by primary account) quiet for longer than its
    retention, and past the retention of every other tenant whose accounts they carry."""
    due = Shipment.objects.filter(
        customer_account__tenant=tenant,
        status__in=CLOSED_STATUSES,
        last_event_at__lt=now - timedelta(days=tenant_retention_days(tenant)),
    )
    for other_days, tenant_ids in _longer_retentions(tenant).items():
        seen_longer = Exists(
            ShipmentAccount.objects.filter(
                shipment=OuterRef("pk"), customer_account__tenant__in=tenant_ids
            )
        )
        due = due.exclude(seen_longer & Q(last_event_at__gte=now - timedelta(days=other_days)))
    return due


def _orders_going(
    tenant: Tenant, going: QuerySet[Shipment] | list[int], now: datetime
) -> QuerySet[Order]:
    """The orders that `going` shipments carry and that no other shipment does, quiet
    for longer than their own tenant's retention (`tenant`'s, or a longer one's)."""
    orders = (
        Order.objects.filter(
            Exists(ShipmentOrder.objects.filter(order=OuterRef("pk"), shipment__in=going))
        )
        .exclude(
            Exists(ShipmentOrder.objects.filter(order=OuterRef("pk")).exclude(shipment__in=going))
        )
        .filter(
            Q(last_event_at__lt=now - timedelta(days=tenant_retention_days(tenant)))
            | Q(last_event_at__isnull=True)
        )
    )
    for other_days, tenant_ids in _longer_retentions(tenant).items():
        orders = orders.exclude(
            customer_account__tenant__in=tenant_ids,
            last_event_at__gte=now - timedelta(days=other_days),
        )
    return orders


def _remove_unreferenced_files(names: set[str]) -> None:
    """Document files are content-addressed and may be shared: only those no document
    names any more are removed."""
    still_used = set(Document.objects.filter(file__in=names).values_list("file", flat=True))
    for name in names - still_used:
        if default_storage.exists(name):
            default_storage.delete(name)


def _delete_chunk(
    tenant: Tenant, shipment_ids: list[int], now: datetime, on_deleted: ShipmentsDeleted | None
) -> int:
    """Delete one chunk of shipments and the orders they leave alone; answer the orders."""
    days = tenant_retention_days(tenant)
    with transaction.atomic():
        shipment_keys = list(
            Shipment.objects.select_for_update()
            .filter(id__in=shipment_ids)
            .values_list("shipment_id", flat=True)
        )
        orders = _orders_going(tenant, shipment_ids, now)
        order_ids = list(orders.select_for_update().values_list("id", flat=True))
        order_numbers = list(
            Order.objects.filter(id__in=order_ids).values_list("order_number", flat=True)
        )
        files = set(
            Document.objects.filter(
                Q(shipment_id__in=shipment_ids) | Q(order_id__in=order_ids)
            ).values_list("file", flat=True)
        )
        Shipment.objects.filter(id__in=shipment_ids).delete()
        Order.objects.filter(id__in=order_ids).delete()
        if on_deleted:
            on_deleted(shipment_keys)
        audit_record(
            action=AuditAction.RETENTION_APPLIED,
            actor=RETENTION_ACTOR,
            tenant=tenant,
            target=f"{len(shipment_keys)} shipments, {len(order_numbers)} orders",
            details={
                "retention_days": days,
                "quiet_since_before": (now - timedelta(days=days)).isoformat(),
                "shipments": shipment_keys,
                "orders": order_numbers,
            },
        )
        transaction.on_commit(lambda: _remove_unreferenced_files(files))
    return len(order_numbers)


def shipment_retention_apply(
    now: datetime,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    on_deleted: ShipmentsDeleted | None = None,
) -> RetentionOutcome:
    """Delete, tenant by tenant, the closed shipments past retention (see the module)."""
    outcome = RetentionOutcome()
    for tenant in Tenant.objects.order_by("id"):
        due = closed_shipments_past_retention(tenant, now)
        if dry_run:
            if count := due.count():
                outcome.shipments[tenant.slug] = count
                outcome.orders[tenant.slug] = _orders_going(tenant, due, now).count()
                if progress:
                    progress(count)
            continue
        while shipment_ids := list(
            due.order_by("id").values_list("id", flat=True)[:RETENTION_CHUNK]
        ):
            orders = _delete_chunk(tenant, shipment_ids, now, on_deleted)
            outcome.shipments[tenant.slug] = outcome.shipments.get(tenant.slug, 0) + len(
                shipment_ids
            )
            outcome.orders[tenant.slug] = outcome.orders.get(tenant.slug, 0) + orders
            if progress:
                progress(len(shipment_ids))
    return outcome


def shipments_past_retention_count(now: datetime) -> int:
    return sum(
        closed_shipments_past_retention(tenant, now).count() for tenant in Tenant.objects.all()
    )
