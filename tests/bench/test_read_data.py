"""The read-side bench generator writes rows the selectors read like projected ones."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from bench.read_data import generate
from visibility import selectors
from visibility.models import Order, Reference, Shipment, ShipmentEvent
from visibility.services.derivation import DERIVED_SHIPMENT_FIELDS, derive_shipments

pytestmark = pytest.mark.django_db


@pytest.fixture
def generated():
    return generate(200, tenants=3, rebuild_indexes=False, progress=False)


def test_generated_references_and_shipments_read_through_the_selectors(generated):
    member = get_user_model().objects.get(username="bench-t01-all")
    order = Order.objects.filter(customer_account__tenant__slug="bench-t01").first()
    shipment_id = order.shipment_links.first().shipment.shipment_id

    hits = selectors.search_references(member, order.order_number.lower())
    shipment = selectors.shipment_get(member, shipment_id)

    assert generated["shipments"] == Shipment.objects.count() == 200
    assert (hits[0].kind, hits[0].object_key) == ("order", order.order_number)
    assert shipment is not None and len(shipment.history.all()) >= 1
    assert shipment.order_links.get().order == order
    assert Reference.objects.filter(shipment=shipment, reference_type="tracking_number").exists()


def test_a_member_limited_to_one_account_sees_only_its_shipments(generated):
    limited = get_user_model().objects.get(username="bench-t01-one")
    visible = {shipment.customer_account_id for shipment in selectors.shipment_list(limited)}

    assert len(visible) == 1


def test_generated_derived_fields_are_what_derivation_gives(generated):
    ids = list(Shipment.objects.order_by("id").values_list("id", flat=True))
    fields = [
        field if field != "customer_account" else "customer_account_id"
        for field in DERIVED_SHIPMENT_FIELDS
    ]
    before = list(Shipment.objects.order_by("id").values_list(*fields))

    derive_shipments(ids)

    assert list(Shipment.objects.order_by("id").values_list(*fields)) == before
    assert ShipmentEvent.objects.filter(kind="milestone").count() > 1000
