"""Business SLAs: the outcomes an integration is judged by, per tenant and per source.

Selectors (read only). Each SLA is a set of open items with an age, and a threshold age
(settings, docs/OPERATIONS.md "Business SLAs") past which an item breaches it:

- order to shipment: orders released and still waiting for a shipment (status booked),
  aged from their release; source: the system that released the order;
- milestone freshness: moving shipments (in transit, out for delivery) aged from their
  last event; source: the system last heard from about the shipment;
- exception aging: unresolved exceptions aged from their opening; tenant and source: the
  shipment's account and last source when it opened (stored on the exception);
- delivered not invoiced: shipments the clock flagged delivered and not invoiced, aged
  from their delivery; source: as above.

Each figure is one GROUP BY over a partial index that holds only the open items and
covers the account and source (`order_awaiting_shipment`, `shipment_moving_last_event`,
`shipment_not_invoiced`, `exception_open_by_account`): its cost grows with the open
items, never with the history (measured at 1,000,000 shipments: docs/BENCHMARKS.md,
"Operations figures"). Accounts are mapped to tenants in Python from one small query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import CustomerAccount
from visibility.models import ShipmentException, ShipmentStatus

UNASSIGNED = "(unassigned)"
UNKNOWN_SOURCE = "(unknown)"


@dataclass(frozen=True)
class ServiceLevel:
    key: str
    title: str
    items: str  # what an open item is, in a sentence's words
    threshold: Callable[[], timedelta]  # read when measured: settings may change in tests
    sql: str  # (account id, source, open, breaching, oldest) given the cutoff


SERVICE_LEVELS: tuple[ServiceLevel, ...] = (
    ServiceLevel(
        key="order_to_shipment",
        title="Order to shipment",
        items="orders waiting for a shipment",
        threshold=lambda: timedelta(hours=settings.SLA_ORDER_TO_SHIPMENT_HOURS),
        sql=f"""
            SELECT customer_account_id, released_by, count(*),
                   count(*) FILTER (WHERE snapshot_occurred_at < %s), min(snapshot_occurred_at)
            FROM visibility_order WHERE status = '{ShipmentStatus.BOOKED.value}'
            GROUP BY 1, 2""",
    ),
    ServiceLevel(
        key="milestone_freshness",
        title="Milestone freshness",
        items="moving shipments without a recent milestone",
        threshold=lambda: timedelta(hours=settings.SLA_MILESTONE_FRESHNESS_HOURS),
        sql=f"""
            SELECT customer_account_id, last_heard_source, count(*),
                   count(*) FILTER (WHERE last_event_at < %s), min(last_event_at)
            FROM visibility_shipment
            WHERE status IN ('{ShipmentStatus.IN_TRANSIT.value}',
                             '{ShipmentStatus.OUT_FOR_DELIVERY.value}')
            GROUP BY 1, 2""",
    ),
    ServiceLevel(
        key="exception_aging",
        title="Exception aging",
        items="unresolved exceptions",
        threshold=lambda: timedelta(hours=settings.SLA_EXCEPTION_AGE_HOURS),
        sql=f"""
            SELECT customer_account_id, source, count(*),
                   count(*) FILTER (WHERE opened_at < %s), min(opened_at)
            FROM visibility_shipmentexception
            WHERE status <> '{ShipmentException.Status.RESOLVED.value}'
            GROUP BY 1, 2""",
    ),
    ServiceLevel(
        key="delivered_not_invoiced",
        title="Delivered, not invoiced",
        items="delivered shipments not invoiced",
        threshold=lambda: timedelta(days=settings.SLA_DELIVERED_NOT_INVOICED_DAYS),
        sql="""
            SELECT customer_account_id, last_heard_source, count(*),
                   count(*) FILTER (WHERE delivered_at < %s), min(delivered_at)
            FROM visibility_shipment WHERE not_invoiced
            GROUP BY 1, 2""",
    ),
)
SERVICE_LEVEL_KEYS = tuple(level.key for level in SERVICE_LEVELS)


@dataclass
class Tally:
    """Open and breaching items of one SLA in one scope (a tenant, a source, all)."""

    name: str
    open: int = 0
    breaching: int = 0
    oldest: datetime | None = None

    def add(self, open_count: int, breaching: int, oldest: datetime | None) -> None:
        self.open += open_count
        self.breaching += breaching
        if oldest is not None and (self.oldest is None or oldest < self.oldest):
            self.oldest = oldest

    def as_json(self, now: datetime) -> dict[str, Any]:
        age = None if self.oldest is None else max((now - self.oldest).total_seconds(), 0.0)
        return {
            "name": self.name,
            "open": self.open,
            "breaching": self.breaching,
            "oldest_age_seconds": None if age is None else round(age, 1),
            "alert": self.breaching > 0,
        }


def _tenant_of_accounts() -> dict[int, tuple[str, str]]:
    """Account id -> (tenant slug, tenant name); accounts are few next to shipments."""
    return {
        account_id: (slug or UNASSIGNED, name or UNASSIGNED)
        for account_id, slug, name in CustomerAccount.objects.values_list(
            "id", "tenant__slug", "tenant__name"
        )
    }


def _by_name(tallies: dict[str, Tally], now: datetime) -> list[dict[str, Any]]:
    """Worst first: most breaching, then most open, then by name."""
    ordered = sorted(
        tallies.values(), key=lambda tally: (-tally.breaching, -tally.open, tally.name)
    )
    return [tally.as_json(now) for tally in ordered]


def service_level_figures(
    level: ServiceLevel, *, now: datetime, tenants: dict[int, tuple[str, str]]
) -> dict[str, Any]:
    """One SLA's figures: totals, by tenant (slug), by source; each with open, breaching,
    the oldest item's age and whether it raises an alert (anything breaching)."""
    threshold = level.threshold()
    with connection.cursor() as cursor:
        cursor.execute(level.sql, [now - threshold])
        rows = cursor.fetchall()
    total = Tally("all")
    by_tenant: dict[str, Tally] = {}
    tenant_names: dict[str, str] = {}
    by_source: dict[str, Tally] = {}
    for account_id, source, open_count, breaching, oldest in rows:
        slug, name = tenants.get(account_id, (UNASSIGNED, UNASSIGNED))
        tenant_names[slug] = name
        source = source or UNKNOWN_SOURCE
        for tally in (
            total,
            by_tenant.setdefault(slug, Tally(slug)),
            by_source.setdefault(source, Tally(source)),
        ):
            tally.add(open_count, breaching, oldest)
    tenant_rows = _by_name(by_tenant, now)
    for row in tenant_rows:
        row["title"] = tenant_names[row["name"]]
    return {
        "key": level.key,
        "title": level.title,
        "items": level.items,
        "threshold_seconds": threshold.total_seconds(),
        **{key: value for key, value in total.as_json(now).items() if key != "name"},
        "by_tenant": tenant_rows,
        "by_source": _by_name(by_source, now),
    }


def service_levels(*, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every business SLA's figures (`service_level_figures`), in SERVICE_LEVELS order."""
    now = now or timezone.now()
    tenants = _tenant_of_accounts()
    return [service_level_figures(level, now=now, tenants=tenants) for level in SERVICE_LEVELS]
