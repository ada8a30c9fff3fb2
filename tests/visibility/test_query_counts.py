"""List reads cost the same number of SQL queries for 5 and for 30 objects (no N+1)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import ShipmentFactory, account
from visibility.models import Order, Shipment

pytestmark = pytest.mark.django_db

SHIPMENT_FIELDS = (
    "shipmentId status carrierName eta promisedDate delayed lastEventAt "
    "milestones { milestone occurredAt } orders { orderNumber } "
    "etaHistory { eta etaBasis }"
)
READS = {
    "shipment list page": ("page", "/shipments/"),
    "REST shipment list": ("api", "/api/v1/shipments?page_size=200"),
    "GraphQL shipments": ("graphql", f"{{ shipments(first: 200) {{ {SHIPMENT_FIELDS} }} }}"),
    "orders list page": ("page", "/orders/"),
    "REST orders list": ("api", "/api/v1/orders?page_size=200"),
    "GraphQL orders": (
        "graphql",
        "{ orders(first: 200) { orderNumber status lines { sku } shipments { shipmentId eta } } }",
    ),
}


def load(account_number: str, count: int) -> None:
    """`count` shipments of one order each, with milestones and a delay (an ETA) each."""
    ShipmentFactory.create_batch(
        count,
        customer_account=account(account_number),
        milestones=["picked_up", "departed_origin"],
        delayed_by=dt.timedelta(days=1),
    )


def query_counts(client, token: str) -> dict[str, int]:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    counts = {}
    for name, (kind, target) in READS.items():
        with CaptureQueriesContext(connection) as queries:
            if kind == "page":
                response = client.get(target)
            elif kind == "api":
                response = client.get(target, **headers)
            else:
                response = client.post(
                    "/graphql", data={"query": target}, content_type="application/json", **headers
                )
        assert response.status_code == 200, name
        assert "errors" not in (response.json() if kind == "graphql" else {}), name
        counts[name] = len(queries)
    return counts


def test_list_reads_issue_the_same_queries_for_5_and_30_objects(
    client, brenner, customer_user, partner_token
):
    client.force_login(customer_user)
    load("C-1001", 5)
    assert Shipment.objects.count() == 5 and Order.objects.count() == 5
    query_counts(client, partner_token)  # warm up session and token bookkeeping
    few = query_counts(client, partner_token)

    load("C-1002", 25)
    assert Shipment.objects.count() == 30 and Order.objects.count() == 30
    many = query_counts(client, partner_token)

    assert few == many
