"""GraphQL lists filter through REST's FilterSets (issue #17): every REST filter has a
GraphQL argument, both answer the same rows, a value REST refuses with a 400 GraphQL
refuses with BAD_USER_INPUT naming the argument, and `ordering` pages like REST."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.graphql.filters import REST_ONLY, graphql_argument
from portal.graphql.schema import DOCUMENT_RENAMES, ORDER_RENAMES, schema
from tests.factories import InvoiceFactory, ShipmentFactory, account
from tests.helpers import connection_nodes, graphql_post
from visibility.api.filters import (
    DocumentFilterSet,
    ExceptionFilterSet,
    InvoiceFilterSet,
    OrderFilterSet,
    ShipmentFilterSet,
)
from visibility.models import ExceptionReason, Shipment, ShipmentException

pytestmark = pytest.mark.django_db

LISTS = [
    ("shipments", ShipmentFilterSet, {}),
    ("orders", OrderFilterSet, ORDER_RENAMES),
    ("invoices", InvoiceFilterSet, {}),
    ("exceptions", ExceptionFilterSet, {}),
    ("documents", DocumentFilterSet, DOCUMENT_RENAMES),
]


@pytest.mark.parametrize(("field", "filterset", "renames"), LISTS, ids=[f for f, *_ in LISTS])
def test_every_rest_filter_has_a_graphql_argument(field, filterset, renames):
    arguments = set(schema._schema.query_type.fields[field].args)
    expected = {
        graphql_argument(name, renames) for name in filterset.base_filters if name not in REST_ONLY
    }

    assert expected - arguments == set()
    assert arguments - expected == {"first", "after"}


def rows(client, token: str, field: str, arguments: str, key: str) -> list[str]:
    response = graphql_post(
        client,
        f"{{ {field}({arguments}) {{ edges {{ node {{ {key} }} }} }} }}",
        token=token,
    )
    body = response.json()
    assert "errors" not in body, body["errors"]
    return [node[key] for node in connection_nodes(body["data"][field])]


def rest_rows(client, token: str, path: str, params: dict, key: str) -> list[str]:
    response = client.get(path, params, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    return [row[key] for row in response.json()["results"]]


@pytest.fixture
def fleet(brenner):
    made = ShipmentFactory.create_batch(3, customer_account=account("C-1001"))
    made += ShipmentFactory.create_batch(2, customer_account=account("C-1002"), mode="ftl")
    Shipment.objects.filter(id=made[0].id).update(eta=timezone.now() + timedelta(days=3))
    ShipmentException.objects.update(status=ShipmentException.Status.RESOLVED)
    ShipmentException.objects.create(
        shipment=made[1],
        reason=ExceptionReason.CUSTOMS,
        opened_by=ShipmentException.OpenedBy.MILESTONE,
        opened_at=timezone.now(),
    )
    return made


def test_the_filters_rest_gained_answer_the_same_rows(client, fleet, partner_token):
    first, second, *_ = fleet
    order_number = second.order_links.get().order.order_number
    soon = (timezone.now() + timedelta(days=1)).isoformat()
    yesterday = (timezone.now() - timedelta(days=1)).isoformat()
    cases = [
        ({"exception_reason": ["customs"]}, 'exceptionReason: ["customs"]', [second]),
        ({"open_exception": "true"}, "openException: true", [second]),
        ({"tracking_number": first.tracking_numbers[0]}, "trackingNumber: ", [first]),
        ({"order_number": order_number}, f'orderNumber: "{order_number}"', [second]),
        ({"reference": order_number.lower()}, f'reference: "{order_number.lower()}"', [second]),
        ({"eta_after": soon}, f'etaAfter: "{soon}"', [first]),
        ({"updated_before": yesterday}, f'updatedBefore: "{yesterday}"', []),
        ({"q": first.shipment_id[2:]}, f'q: "{first.shipment_id[2:].lower()}"', [first]),
    ]
    for params, arguments, expected in cases:
        if arguments == "trackingNumber: ":
            arguments += json.dumps(first.tracking_numbers[0])
        graph = rows(client, partner_token, "shipments", arguments, "shipmentId")
        rest = rest_rows(client, partner_token, "/api/v1/shipments", params, "shipment_id")
        assert graph == rest == [shipment.shipment_id for shipment in expected], arguments


def test_ordering_pages_by_the_business_key_like_rest(client, fleet, partner_token):
    query = """query ($after: String) {
      shipments(ordering: "shipment_id", first: 2, after: $after) {
        edges { node { shipmentId } } pageInfo { endCursor hasNextPage } } }"""
    seen, after = [], None
    while True:
        data = graphql_post(client, query, {"after": after}, token=partner_token).json()["data"]
        seen += [node["shipmentId"] for node in connection_nodes(data["shipments"])]
        if not data["shipments"]["pageInfo"]["hasNextPage"]:
            break
        after = data["shipments"]["pageInfo"]["endCursor"]
    rest = rest_rows(
        client, partner_token, "/api/v1/shipments", {"ordering": "shipment_id"}, "shipment_id"
    )

    assert seen == rest == sorted(shipment.shipment_id for shipment in fleet)
    # A cursor of the default order is not one of this order.
    newest = graphql_post(
        client, "{ shipments(first: 1) { pageInfo { endCursor } } }", token=partner_token
    ).json()["data"]["shipments"]["pageInfo"]["endCursor"]
    refused = graphql_post(client, query, {"after": newest}, token=partner_token).json()
    assert refused["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "after"}


@pytest.mark.parametrize(
    ("field", "arguments", "argument"),
    [
        ("shipments", 'ordering: "eta"', "ordering"),
        ("shipments", 'exceptionReason: ["lost_at_sea"]', "exceptionReason"),
        ("shipments", 'trackingNumber: "' + "1" * 129 + '"', "trackingNumber"),
        ("orders", 'ordering: "-last_event"', "ordering"),
        ("orders", 'status: ["nope"]', "status"),
        ("invoices", 'ordering: "total"', "ordering"),
        ("exceptions", 'reason: ["nope"]', "reason"),
        ("exceptions", 'status: ["resolved"]', "status"),
        ("documents", 'documentType: ["x"]', "documentType"),
    ],
)
def test_what_rest_refuses_is_a_bad_user_input_naming_the_argument(
    client, brenner, partner_token, field, arguments, argument
):
    response = graphql_post(
        client, f"{{ {field}({arguments}) {{ edges {{ cursor }} }} }}", token=partner_token
    )

    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": argument}
    assert error["message"].startswith(f"{argument}: ")


def test_orders_invoices_and_exceptions_filter_like_rest(client, fleet, partner_token):
    _, second, *_, last = fleet
    order = second.order_links.get().order
    other = last.order_links.get().order
    InvoiceFactory(customer_account=order.customer_account, order_numbers=[order.order_number])
    InvoiceFactory(customer_account=other.customer_account, order_numbers=[other.order_number])

    assert rows(
        client, partner_token, "orders", f'orderNumber: "{order.order_number}"', "orderNumber"
    ) == [order.order_number]
    assert rows(client, partner_token, "orders", 'account: ["C-1002"]', "orderNumber") == [
        row
        for row in rest_rows(
            client, partner_token, "/api/v1/orders", {"account": "C-1002"}, "order_number"
        )
    ]
    assert rows(
        client, partner_token, "invoices", f'orderNumber: "{other.order_number}"', "orderNumbers"
    ) == [[other.order_number]]
    assert rows(client, partner_token, "exceptions", 'reason: ["customs"]', "shipmentId") == [
        second.shipment_id
    ]
