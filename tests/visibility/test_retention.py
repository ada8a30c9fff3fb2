"""Retention per tenant of closed shipments (`apply_retention`,
visibility/services/retention.py), with their lane routes (integration/services/retention.py)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import AuditAction, AuditEntry
from integration.models import LaneRoute
from integration.tasks import apply_retention as apply_retention_task
from tests.factories import OrderFactory, ShipmentFactory, account
from visibility.models import Order, Shipment, ShipmentEvent, ShipmentStatus, ShipmentStop

pytestmark = pytest.mark.django_db


def shipment(number: str, *, status: str, quiet_days: int, orders=None, milestones=("picked_up",)):
    made = ShipmentFactory(
        shipment_id=number,
        customer_account=account("C-1001"),
        milestones=list(milestones),
        **({"orders": orders} if orders is not None else {}),
    )
    last_event_at = timezone.now() - timedelta(days=quiet_days)
    Shipment.objects.filter(pk=made.pk).update(status=status, last_event_at=last_event_at)
    Order.objects.filter(shipment_links__shipment=made).update(last_event_at=last_event_at)
    return made


def apply_retention(*options: str) -> str:
    stdout = io.StringIO()
    call_command("apply_retention", *options, stdout=stdout, stderr=io.StringIO())
    return stdout.getvalue()


def shipment_ids() -> set[str]:
    return set(Shipment.objects.values_list("shipment_id", flat=True))


def test_closed_shipments_past_two_years_go_with_their_history_and_lone_orders(brenner):
    gone = shipment("SHP-OLD", status=ShipmentStatus.DELIVERED, quiet_days=800)
    shared_order = OrderFactory(customer_account=account("C-1001"), order_number="SO-SHARED")
    shipment(
        "SHP-OLD-SHARED", status=ShipmentStatus.CANCELLED, quiet_days=800, orders=[shared_order]
    )
    shipment(
        "SHP-NOW-SHARED", status=ShipmentStatus.IN_TRANSIT, quiet_days=1, orders=[shared_order]
    )
    shipment("SHP-OLD-OPEN", status=ShipmentStatus.IN_TRANSIT, quiet_days=800)
    shipment("SHP-RECENT", status=ShipmentStatus.DELIVERED, quiet_days=700)
    lone_order = gone.order_links.get().order.order_number

    printed = apply_retention()

    assert shipment_ids() == {"SHP-NOW-SHARED", "SHP-OLD-OPEN", "SHP-RECENT"}
    assert not ShipmentEvent.objects.filter(shipment_id=gone.pk).exists()
    assert not ShipmentStop.objects.filter(shipment_id=gone.pk).exists()
    assert not Order.objects.filter(order_number=lone_order).exists()
    assert Order.objects.filter(order_number="SO-SHARED").exists(), "a shipment still carries it"
    [entry] = AuditEntry.objects.filter(action=AuditAction.RETENTION_APPLIED)
    assert entry.tenant_id == brenner.id and entry.actor == "system:retention"
    assert sorted(entry.details["shipments"]) == ["SHP-OLD", "SHP-OLD-SHARED"]
    assert entry.details["orders"] == [lone_order] and entry.details["retention_days"] == 730
    assert "brenner: deleted 2 shipments, 1 orders" in printed

    assert "deleted 0 closed shipments" in apply_retention(), "a second run finds nothing"


def test_the_tenant_setting_decides(brenner):
    shipment("SHP-100-DAYS", status=ShipmentStatus.DELIVERED, quiet_days=100)
    shipment("SHP-800-DAYS", status=ShipmentStatus.DELIVERED, quiet_days=800)
    brenner.closed_shipment_retention_days = 3650
    brenner.save()

    apply_retention()
    assert shipment_ids() == {"SHP-100-DAYS", "SHP-800-DAYS"}, "audits need ten years"

    brenner.closed_shipment_retention_days = 90
    brenner.save()
    apply_retention()
    assert shipment_ids() == set()


def test_a_tenant_keeping_longer_keeps_a_shipment_carrying_its_orders(brenner, nordwind):
    nordwind.closed_shipment_retention_days = 3650
    nordwind.save()
    # Ours sorts first: the shipment's primary account is brenner's.
    ours = OrderFactory(customer_account=account("C-1002"), order_number="SO-A-OURS")
    theirs = OrderFactory(customer_account=account("C-2001"), order_number="SO-B-THEIRS")
    shipment(
        "SHP-CONSOLIDATED", status=ShipmentStatus.DELIVERED, quiet_days=800, orders=[ours, theirs]
    )

    assert Shipment.objects.get().customer_account.number == "C-1002"

    apply_retention()

    assert shipment_ids() == {"SHP-CONSOLIDATED"}


def test_dry_run_only_counts(brenner):
    shipment("SHP-OLD", status=ShipmentStatus.DELIVERED, quiet_days=800)

    printed = apply_retention("--dry-run")

    assert "brenner: would delete 1 shipments, 1 orders" in printed
    assert shipment_ids() == {"SHP-OLD"}
    assert not AuditEntry.objects.filter(action=AuditAction.RETENTION_APPLIED).exists()


def lane_routes() -> set[str]:
    return set(LaneRoute.objects.values_list("aggregate_key", flat=True))


@pytest.mark.parametrize("run", ["command", "beat task"])
def test_the_lane_routes_of_deleted_shipments_go_with_them(brenner, run):
    """A route is kept per shipment (integration/services/lane_routes.py): retention
    removes it with its shipment, and keeps the others'."""
    shipment("SHP-OLD", status=ShipmentStatus.DELIVERED, quiet_days=800)
    shipment("SHP-RECENT", status=ShipmentStatus.DELIVERED, quiet_days=700)
    for key in ("shipment:SHP-OLD", "shipment:SHP-RECENT", "invoice:SHP-OLD"):
        LaneRoute.objects.create(aggregate_key=key, lane_slot=7)

    if run == "command":
        apply_retention()
    else:
        assert apply_retention_task() == 1

    assert shipment_ids() == {"SHP-RECENT"}
    assert lane_routes() == {"shipment:SHP-RECENT", "invoice:SHP-OLD"}


def test_a_dry_run_keeps_the_lane_routes(brenner):
    shipment("SHP-OLD", status=ShipmentStatus.DELIVERED, quiet_days=800)
    LaneRoute.objects.create(aggregate_key="shipment:SHP-OLD", lane_slot=7)
    apply_retention("--dry-run")
    assert lane_routes() == {"shipment:SHP-OLD"}
