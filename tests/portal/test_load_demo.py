"""`load_demo`: twelve weeks of demo data through the real intake, nothing rejected,
every state the portal's pages show present, and links that use the demo's port."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db.models import Count

from accounts.models import Tenant
from integration.models import InboxEvent, InboxState, RejectedEvent
from portal.demo.scenario import (
    SHIPMENTS_PER_ACCOUNT,
    UNASSIGNED_ACCOUNT,
    demo_events,
    story_events_now,
)
from portal.management.commands.run_demo import demo_environment
from visibility.models import Document, Invoice, Shipment, ShipmentException, ShipmentStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def loaded(capsys) -> str:
    call_command("load_demo")
    return capsys.readouterr().out


def test_load_demo_fills_twelve_weeks_through_intake_with_nothing_rejected(loaded):
    assert "0 rejected" in loaded
    assert RejectedEvent.objects.count() == 0
    assert InboxEvent.objects.filter(state=InboxState.DEAD).count() == 0
    # Only the unassigned account's events wait (for an admin to assign C-9001).
    held = InboxEvent.objects.filter(state=InboxState.HELD)
    assert held.exists()
    unassigned_invoices = {
        f"invoice:{data['invoice_number']}"
        for data in InboxEvent.objects.filter(
            event_type="invoice.posted", data__customer_account=UNASSIGNED_ACCOUNT
        ).values_list("data", flat=True)
    }
    for waiting in held.values_list("waiting_for", flat=True):
        assert "9001" in waiting or waiting in unassigned_invoices, waiting
    assert Tenant.objects.count() == 3
    # Every generated shipment of an owned account, plus the contract story's.
    assert Shipment.objects.count() == sum(SHIPMENTS_PER_ACCOUNT.values()) + 1
    by_account = dict(
        Shipment.objects.values_list("customer_account__number").annotate(Count("id"))
    )
    assert by_account["C-2001"] == SHIPMENTS_PER_ACCOUNT["C-2001"]
    assert UNASSIGNED_ACCOUNT not in by_account


def test_demo_data_shows_every_state_a_page_filters_on(loaded):
    now = datetime.now(UTC)
    shipments = Shipment.objects.all()
    statuses = set(shipments.values_list("status", flat=True))
    assert {ShipmentStatus.DELIVERED, ShipmentStatus.IN_TRANSIT, ShipmentStatus.EXCEPTION} <= (
        statuses
    )
    assert len(set(shipments.values_list("mode", flat=True))) >= 5
    assert len(set(shipments.values_list("carrier_scac", flat=True))) >= 5
    assert shipments.filter(delayed=True).exists()
    # Spread over twelve weeks, none in the future.
    pickups = shipments.order_by("planned_pickup_at").values_list("planned_pickup_at", flat=True)
    assert pickups.first() < now - timedelta(weeks=10)
    assert shipments.filter(overdue=True).exists() and shipments.filter(pod_missing=True).exists()
    delivered = shipments.filter(delivered_at__isnull=False)
    assert delivered.filter(delivered_at__gte=now - timedelta(days=7)).exists()
    assert delivered.filter(delivered_at__lt=now - timedelta(weeks=8)).exists()
    # Some shipments carry orders of two accounts (consolidation).
    consolidated = shipments.annotate(
        accounts=Count("order_links__order__customer_account", distinct=True)
    )
    assert consolidated.filter(accounts=2).exists()
    # Documents, open and paid invoices, and open exceptions of several kinds.
    assert Document.objects.filter(document_type="pod").count() > 100
    paid = Invoice.objects.filter(paid_at__isnull=False).count()
    assert 0 < paid < Invoice.objects.count()
    reasons = set(ShipmentException.objects.filter(status="open").values_list("reason", flat=True))
    assert {"late", "damaged", "tracking_stale", "missing_pod"} <= reasons


def test_loading_again_changes_nothing(loaded, capsys):
    shipments = Shipment.objects.count()
    call_command("load_demo")
    output = capsys.readouterr().out
    assert "0 newly accepted" in output and "0 rejected" in output
    assert Shipment.objects.count() == shipments


def test_demo_events_are_deterministic_and_never_in_the_future():
    anchor = datetime(2026, 11, 29, 18, 0, tzinfo=UTC)
    events = story_events_now(anchor) + demo_events(anchor)
    assert events == story_events_now(anchor) + demo_events(anchor)
    assert max(datetime.fromisoformat(event["occurred_at"]) for event in events) <= anchor
    assert min(datetime.fromisoformat(event["occurred_at"]) for event in events) >= (
        anchor - timedelta(weeks=12, days=1)
    )
    # The story's invoice is paid two days before the anchor, not in December 2026.
    paid = next(event for event in events if event["event_type"] == "invoice.paid")
    assert paid["occurred_at"].startswith("2026-11-2")


def test_demo_servers_link_to_the_port_they_run_on():
    assert demo_environment(8011, {})["PORTAL_BASE_URL"] == "http://127.0.0.1:8011"
    assert (
        demo_environment(8011, {"PORTAL_BASE_URL": "https://portal.example"})["PORTAL_BASE_URL"]
        == "https://portal.example"
    )
