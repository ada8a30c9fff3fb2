"""The change feed's objects are built from rows, not serializers: each must equal what
the REST detail answers the same actor (shipment with history, ETA updates, orders,
exceptions and their notes, charges; order with lines, shipments and invoices; invoice
with lines; document as it is filed), for a partner with finance, a member without, and
the operator's staff (who read internal notes)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer

from tests.factories import (
    ApiTokenFactory,
    DocumentFactory,
    FreightChargeFactory,
    InvoiceFactory,
    OrderFactory,
    OrderLineFactory,
    ShipmentFactory,
    account,
)
from tests.helpers import sign_in_verified
from visibility.api.serializers import DocumentSerializer
from visibility.models import Document, Milestone, Shipment, ShipmentException
from visibility.services.clock import shipments_clock_refresh
from visibility.services.exceptions import exception_add_note

pytestmark = pytest.mark.django_db(transaction=True)

DETAIL = {
    "shipment": "/api/v1/shipments/{}",
    "order": "/api/v1/orders/{}",
    "invoice": "/api/v1/invoices/{}",
}


@pytest.fixture
def worked_shipment(brenner, cs_staff) -> Shipment:
    order = OrderFactory(customer_account=account("C-1001"))
    OrderLineFactory(order=order, line_number=2)
    shipment = ShipmentFactory(
        customer_account=account("C-1001"),
        orders=[order],
        milestones=[Milestone.PICKED_UP, Milestone.IN_TRANSIT],
        delayed_by=timedelta(days=2),
    )
    shipments_clock_refresh(
        [Shipment.objects.get(pk=shipment.pk)], shipment.planned_delivery_at + timedelta(days=4)
    )
    record = ShipmentException.objects.filter(shipment=shipment).first()
    assert record is not None
    now = shipment.planned_delivery_at
    exception_add_note(cs_staff, record, "Internal", visible_to_customer=False, now=now)
    exception_add_note(cs_staff, record, "For you", visible_to_customer=True, now=now)
    FreightChargeFactory(shipment=shipment)
    InvoiceFactory(
        customer_account=account("C-1001"),
        order_numbers=[order.order_number],
        shipment_ids=[shipment.shipment_id],
    )
    DocumentFactory(shipment=shipment)
    return shipment


def assert_feed_equals_details(client: Client, **headers: str) -> set[str]:
    response = client.get("/api/v1/changes?after=0&limit=1000", **headers)
    assert response.status_code == 200, response.content
    kinds = set()
    for change in response.json()["changes"]:
        kind, key, current = change["kind"], change["id"], change["object"]
        if current.get("visible") is False or current.get("deleted"):
            continue
        kinds.add(kind)
        if kind == "document":
            document = Document.objects.get(document_id=key)
            expected = json.loads(JSONRenderer().render(DocumentSerializer(document).data))
        else:
            detail = client.get(DETAIL[kind].format(key), **headers)
            assert detail.status_code == 200, (kind, key)
            expected = detail.json()
        assert current == expected, (kind, key)
    return kinds


def test_a_partner_with_finance_reads_every_object_as_its_detail(client, brenner, worked_shipment):
    token = ApiTokenFactory(tenant=brenner, scopes=["shipments", "documents", "invoices"])
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token.secret}"}
    kinds = assert_feed_equals_details(client, **headers)
    assert kinds == {"shipment", "order", "invoice", "document"}
    shipment = client.get(f"/api/v1/shipments/{worked_shipment.shipment_id}", **headers).json()
    assert shipment["freight_charges"] and shipment["exceptions"] and shipment["eta_history"]
    notes = [note["text"] for record in shipment["exceptions"] for note in record["notes"]]
    assert "For you" in notes and "Internal" not in notes


def test_a_member_without_finance_and_the_staff_read_their_own_details(
    client, customer_user, cs_staff, worked_shipment
):
    sign_in_verified(client, customer_user)
    assert assert_feed_equals_details(client) >= {"shipment", "order"}
    sign_in_verified(client, cs_staff)
    assert assert_feed_equals_details(client) >= {"shipment", "order"}
    staff_view = client.get(f"/api/v1/shipments/{worked_shipment.shipment_id}").json()
    notes = [note["text"] for record in staff_view["exceptions"] for note in record["notes"]]
    assert "Internal" in notes


def test_a_page_reads_a_constant_number_of_queries_whatever_its_size(client, brenner):
    token = ApiTokenFactory(tenant=brenner, scopes=["shipments", "documents", "invoices"])
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token.secret}"}

    def queries_for_a_page_of(count: int) -> int:
        start = client.get("/api/v1/changes?after=now", **headers).json()["next"]
        for _ in range(count):
            shipment = ShipmentFactory(customer_account=account("C-1001"))
            FreightChargeFactory(shipment=shipment)
            InvoiceFactory(
                customer_account=account("C-1001"),
                order_numbers=list(
                    shipment.order_links.values_list("order__order_number", flat=True)
                ),
            )
        with CaptureQueriesContext(connection) as queries:
            page = client.get(f"/api/v1/changes?after={start}&limit=1000", **headers).json()
        assert len(page["changes"]) >= 3 * count
        return len(queries)

    assert queries_for_a_page_of(2) == queries_for_a_page_of(6)
