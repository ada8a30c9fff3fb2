"""The factories build what the portal would have built: personas see what their role lets
them see, read models are indexed for search and derived, factory events are valid."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.scoping import visible_account_ids
from integration.models import InboxEvent, InboxState
from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from tests.factories import (
    DocumentFactory,
    InvoiceFactory,
    MilestoneFactory,
    ReferenceFactory,
    ShipmentFactory,
    account,
    order_to_cash_stories,
)
from visibility.models import Invoice, Order, Shipment, ShipmentStatus
from visibility.selectors import search_references

pytestmark = pytest.mark.django_db


def numbers(actor, scope="shipments") -> list[str]:
    return sorted(visible_account_ids(actor, scope).values_list("number", flat=True))


def test_personas_see_what_their_role_lets_them_see(
    customer_user, limited_member, tenant_admin, other_tenant_user, cs_staff, platform_admin
):
    assert numbers(customer_user) == ["C-1001", "C-1002"]
    assert numbers(customer_user, "invoices") == []
    assert numbers(limited_member) == ["C-1002"]
    assert numbers(tenant_admin, "invoices") == ["C-1001", "C-1002"]
    assert numbers(other_tenant_user) == ["C-2001"]
    assert numbers(cs_staff) == numbers(platform_admin) == ["C-1001", "C-1002", "C-2001"]


def test_a_shipment_is_indexed_derived_and_carries_its_order(customer_user, other_tenant_user):
    shipment = ShipmentFactory(
        customer_account=account("C-1001"),
        milestones=["picked_up", "delivered"],
        tracking_numbers=["JJD0001"],
    )
    [order] = Order.objects.filter(shipment_links__shipment=shipment)

    assert shipment.status == ShipmentStatus.DELIVERED and shipment.delivered_at
    assert order.status == ShipmentStatus.DELIVERED
    assert [hit.object_key for hit in search_references(customer_user, "jjd0001")] == [
        shipment.shipment_id
    ]
    assert search_references(customer_user, order.order_number)[0].object_key == order.order_number
    assert search_references(other_tenant_user, "JJD0001") == []


def test_history_facts_rederive_their_shipment(brenner):
    shipment = ShipmentFactory(customer_account=account("C-1001"), delayed_by=dt.timedelta(days=2))
    assert shipment.delayed and shipment.eta == shipment.planned_delivery_at + dt.timedelta(days=2)

    MilestoneFactory(shipment=shipment, milestone="out_for_delivery")

    shipment.refresh_from_db()
    assert shipment.status == ShipmentStatus.OUT_FOR_DELIVERY and shipment.delayed


def test_invoices_and_documents_are_found_by_their_numbers(tenant_admin):
    invoice = InvoiceFactory(customer_account=account("C-1001"))
    document = DocumentFactory(shipment=ShipmentFactory(customer_account=account("C-1002")))

    assert Invoice.objects.get().lines.get().amount == invoice.total_amount
    assert search_references(tenant_admin, invoice.invoice_number)[0].kind == "invoice"
    assert search_references(tenant_admin, document.document_id)[0].object_key == (
        document.shipment.shipment_id
    )
    assert document.file.read() == b"%PDF-1.4\n% proof of delivery\n"


def test_factory_stories_are_valid_events_that_project_completely(brenner):
    events = order_to_cash_stories(["C-1001", "C-1002"], per_account=6)
    for source in ("erp", "tms"):
        results = receive_events(source=source, events=[e for e in events if e["source"] == source])
        assert {result.status for result in results} == {"accepted"}, results
    process_inbox_until_empty()

    assert not InboxEvent.objects.exclude(state=InboxState.PROCESSED).exists()
    assert Shipment.objects.count() == Order.objects.count() == 12
    assert Shipment.objects.filter(status=ShipmentStatus.DELIVERED).count() == 2
    assert Invoice.objects.filter(paid_at__isnull=False).count() == 2


def test_an_extra_reference_finds_its_shipment(customer_user):
    reference = ReferenceFactory(
        shipment=ShipmentFactory(customer_account=account("C-1001")), value="1z 999-aa"
    )

    assert [hit.object_key for hit in search_references(customer_user, "1Z999AA")] == [
        reference.shipment.shipment_id
    ]
