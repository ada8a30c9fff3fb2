"""List filters live in the selectors: pages, REST and GraphQL filter the same way, and a
bad query-string value is a 400 naming it (never a 500)."""

from __future__ import annotations

import pytest

from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from portal.demo.events import generated_events
from tests.helpers import connection_nodes
from visibility import selectors
from visibility.models import Order, Shipment

pytestmark = pytest.mark.django_db


@pytest.fixture
def shipments(brenner, nordwind, delivered_story):
    events = generated_events(["C-1001", "C-2001"], shipments_per_account=10)
    for source in ("erp", "tms"):
        receive_events(source=source, events=[e for e in events if e["source"] == source])
    process_inbox_until_empty()


def api(client, token: str, url: str):
    return client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")


def graphql(client, token: str, query: str) -> dict:
    response = client.post(
        "/graphql",
        data={"query": query},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def test_a_status_filter_gives_the_same_shipments_on_page_rest_and_graphql(
    client, shipments, customer_user, partner_token
):
    client.force_login(customer_user)
    expected = {
        shipment.shipment_id
        for shipment in Shipment.objects.filter(
            status="delivered", customer_account__tenant__slug="brenner"
        )
    }

    page = client.get("/shipments/", {"status": "delivered"}).context["page"]
    rest = api(client, partner_token, "/api/v1/shipments?status=delivered").json()["results"]
    data = graphql(
        client,
        partner_token,
        '{ shipments(status: "delivered", first: 200) { edges { node { shipmentId } } } }',
    )

    assert expected and len(expected) < Shipment.objects.count()
    assert {shipment.shipment_id for shipment in page.object_list} == expected
    assert {row["shipment_id"] for row in rest} == expected
    assert {row["shipmentId"] for row in connection_nodes(data["shipments"])} == expected


def test_shipment_filters_combine_in_the_selector(shipments, customer_user):
    ours = Shipment.objects.filter(customer_account__tenant__slug="brenner")
    scac = ours.exclude(carrier_scac="").values_list("carrier_scac", flat=True).first()

    by_scac = selectors.shipment_list(customer_user, carrier_scac=scac.lower())
    by_text = selectors.shipment_list(customer_user, text="778120")
    delivered_or_booked = selectors.shipment_list(customer_user, statuses=["delivered", "booked"])

    assert {s.carrier_scac for s in by_scac} == {scac}
    assert by_scac.count() == ours.filter(carrier_scac=scac).count()
    assert [s.shipment_id for s in by_text] == ["SHP-778120"]
    assert delivered_or_booked.count() == ours.filter(status__in=["delivered", "booked"]).count()


def test_rest_shipment_filters_parse_every_value(client, shipments, partner_token):
    rows = api(client, partner_token, "/api/v1/shipments?delayed=false&mode=ltl&at_risk=")
    since = api(client, partner_token, "/api/v1/shipments?updated_since=2999-01-01T00:00:00Z")
    scac = api(client, partner_token, "/api/v1/shipments?carrier_scac=dhlf")

    assert rows.status_code == 200
    assert rows.json()["results"] and all(
        not row["delayed"] and row["mode"] == "ltl" for row in rows.json()["results"]
    )
    assert since.json()["results"] == []
    assert {row["carrier_scac"] for row in scac.json()["results"]} <= {"DHLF"}


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/shipments?delayed=perhaps", "delayed"),
        ("/api/v1/shipments?updated_since=yesterday", "updated_since"),
        ("/api/v1/shipments?status=delivered&status=lost", "status"),
        ("/api/v1/orders?status=teleported", "status"),
        ("/api/v1/orders?date_from=2026-02-30", "date_from"),
        ("/api/v1/orders?updated_since=%00", "updated_since"),
    ],
)
def test_a_bad_filter_value_is_a_400_naming_it(client, shipments, partner_token, url, field):
    response = api(client, partner_token, url)

    assert response.status_code == 400
    assert field in [error["parameter"] for error in response.json()["errors"]]


def test_order_filters_agree_on_page_rest_and_graphql(
    client, shipments, customer_user, partner_token
):
    client.force_login(customer_user)
    expected = set(
        Order.objects.filter(
            customer_account__tenant__slug="brenner", order_number__icontains="SO-100100"
        ).values_list("order_number", flat=True)
    )

    page = client.get("/orders/", {"q": "so-100100"}).context["page"]
    rest = api(client, partner_token, "/api/v1/orders?q=so-100100").json()["results"]
    data = graphql(
        client,
        partner_token,
        '{ orders(text: "so-100100", first: 200) { edges { node { orderNumber } } } }',
    )

    assert expected
    assert {order.order_number for order in page.object_list} == expected
    assert {row["order_number"] for row in rest} == expected
    assert {row["orderNumber"] for row in connection_nodes(data["orders"])} == expected
