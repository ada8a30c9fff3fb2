"""A tenant's user or token sees its shipment on REST, GraphQL and the page; others get 404/null."""

from __future__ import annotations

import json

import pytest

from accounts.services import api_token_create, user_create
from tests.factories import PASSWORD
from tests.helpers import connection_nodes

pytestmark = pytest.mark.django_db

SHIPMENT_QUERY = """
query ($id: String!) {
  shipment(shipmentId: $id) {
    shipmentId status trackingNumbers eta
    milestones { milestone occurredAt location }
    orders { orderNumber customerPo lineNumbers }
  }
}"""


def graphql(client, query, variables, **headers):
    return client.post(
        "/graphql",
        data=json.dumps({"query": query, "variables": variables}),
        content_type="application/json",
        **headers,
    )


def test_rest_detail_for_the_tenants_token(client, delivered_story, partner_token):
    response = client.get(
        "/api/v1/shipments/SHP-778120", HTTP_AUTHORIZATION=f"Bearer {partner_token}"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["shipment_id"] == "SHP-778120"
    assert body["status"] == "delivered"
    assert body["tracking_numbers"] == ["JJD0002249381"]
    assert body["eta"] == "2026-11-20T09:00:00Z"
    assert body["orders"] == [
        {"order_number": "SO-100045", "customer_po": "PO-BT-7781", "line_numbers": [10, 20]}
    ]
    assert [m["milestone"] for m in body["milestones"]] == [
        "picked_up",
        "departed_origin",
        "arrived_hub",
        "departed_hub",
        "out_for_delivery",
        "delivered",
    ]
    assert body["milestones"][0] == {
        "milestone": "picked_up",
        "carrier_status_code": "",
        "occurred_at": "2026-11-17T08:40:00Z",
        "location": {"city": "Rotterdam", "country": "NL"},
        "stop_sequence": 1,
        "remarks": "",
        "received_by": "",
    }


def test_rest_detail_for_a_signed_in_user(client, delivered_story, customer_user):
    client.force_login(customer_user)

    response = client.get("/api/v1/shipments/SHP-778120")

    assert response.status_code == 200
    assert response.json()["status"] == "delivered"


def test_rest_detail_is_404_for_another_tenant(
    client, delivered_story, other_tenant_user, other_tenant_token
):
    by_token = client.get(
        "/api/v1/shipments/SHP-778120", HTTP_AUTHORIZATION=f"Bearer {other_tenant_token}"
    )
    client.force_login(other_tenant_user)
    by_user = client.get("/api/v1/shipments/SHP-778120")

    assert by_token.status_code == 404
    assert by_user.status_code == 404


def test_rest_rejects_anonymous_and_bad_tokens(client, delivered_story):
    assert client.get("/api/v1/shipments/SHP-778120").status_code in (401, 403)
    bad = client.get("/api/v1/shipments/SHP-778120", HTTP_AUTHORIZATION="Bearer wrong")
    assert bad.status_code == 401


def test_member_limited_to_another_account_does_not_see_it(client, delivered_story, limited_member):
    client.force_login(limited_member)

    assert client.get("/api/v1/shipments/SHP-778120").status_code == 404


def test_token_limited_to_another_account_or_scope_does_not_see_it(
    client, delivered_story, brenner
):
    _, other_account = api_token_create(tenant=brenner, name="x", account_numbers=["C-1002"])
    _, invoices_only = api_token_create(tenant=brenner, name="y", scopes=["invoices"])

    for token in (other_account, invoices_only):
        response = client.get("/api/v1/shipments/SHP-778120", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 404


def test_graphql_shipment_for_the_tenants_token(client, delivered_story, partner_token):
    response = graphql(
        client, SHIPMENT_QUERY, {"id": "SHP-778120"}, HTTP_AUTHORIZATION=f"Bearer {partner_token}"
    )

    assert response.status_code == 200
    shipment = response.json()["data"]["shipment"]
    assert shipment["status"] == "delivered"
    assert shipment["orders"] == [
        {"orderNumber": "SO-100045", "customerPo": "PO-BT-7781", "lineNumbers": [10, 20]}
    ]
    assert shipment["milestones"][-1]["milestone"] == "delivered"


def test_graphql_shipment_is_null_for_another_tenant(client, delivered_story, other_tenant_token):
    response = graphql(
        client,
        SHIPMENT_QUERY,
        {"id": "SHP-778120"},
        HTTP_AUTHORIZATION=f"Bearer {other_tenant_token}",
    )

    assert response.json() == {"data": {"shipment": None}}


def test_graphql_session_user_needs_csrf(delivered_story, customer_user):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(customer_user)

    response = graphql(browser, SHIPMENT_QUERY, {"id": "SHP-778120"})

    assert response.status_code == 403


def test_shipment_page_shows_status_and_history(client, delivered_story, customer_user):
    client.force_login(customer_user)

    response = client.get("/shipments/SHP-778120/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Delivered" in page and "K. Huber" in page and "DHL Freight" in page


def test_shipment_page_is_404_for_another_tenant(client, delivered_story, other_tenant_user):
    client.force_login(other_tenant_user)

    assert client.get("/shipments/SHP-778120/").status_code == 404
    listing = client.get("/shipments/").content.decode()
    assert "SHP-778120" not in listing


def test_graphql_lists_only_the_tenants_shipments_and_orders(
    client, delivered_story, partner_token, other_tenant_token
):
    query = """{ shipments(status: "delivered") { edges { node { shipmentId } } }
                 order(orderNumber: "SO-100045") { status lines { sku quantity }
                                                   shipments { shipmentId } } }"""
    mine = graphql(client, query, {}, HTTP_AUTHORIZATION=f"Bearer {partner_token}").json()
    theirs = graphql(client, query, {}, HTTP_AUTHORIZATION=f"Bearer {other_tenant_token}").json()

    assert connection_nodes(mine["data"]["shipments"]) == [{"shipmentId": "SHP-778120"}]
    assert mine["data"]["order"] == {
        "status": "delivered",
        "lines": [
            {"sku": "DRL-18V", "quantity": "40.000000"},
            {"sku": "BAT-5AH", "quantity": "80.000000"},
        ],
        "shipments": [{"shipmentId": "SHP-778120"}],
    }
    assert theirs["data"]["order"] is None
    assert theirs["data"]["shipments"]["edges"] == []


# --- ETA history --------------------------------------------------------------


def test_eta_history_on_page_rest_and_graphql(
    client, delivered_story, customer_user, partner_token
):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {partner_token}"}
    client.force_login(customer_user)

    page = client.get("/shipments/SHP-778120/").content.decode()
    rest = client.get("/api/v1/shipments/SHP-778120", **headers).json()
    graphql = client.post(
        "/graphql",
        content_type="application/json",
        **headers,
        data={
            "query": '{ shipment(shipmentId: "SHP-778120") { etaHistory { kind eta etaBasis '
            "reasonText } } }"
        },
    ).json()

    assert "ETA history" in page and "Freshness" in page
    assert "Snow closure on A3 near Wurzburg" in page
    delay = next(row for row in rest["eta_history"] if row["kind"] == "delay")
    assert delay["reason_code"] == "AO" and delay["eta"].startswith("2026-11-20T09:00")
    carrier = next(row for row in rest["eta_history"] if row["basis"] == "carrier")
    assert carrier["eta"].startswith("2026-11-19T11:30")
    times = [row["occurred_at"] for row in rest["eta_history"]]
    assert times == sorted(times)
    kinds = [row["kind"] for row in graphql["data"]["shipment"]["etaHistory"]]
    assert kinds == [row["kind"] for row in rest["eta_history"]]
    assert "delay" in kinds


SLASHED = {
    "SHP-778120": "SHP/778/120",
    "SO-100045": "SO/2026/45",
    "INV-2026-004512": "INV/2026/4512",
    "DOC-POD-778120": "POD/778120",
}


@pytest.fixture
def slashed_story(client, brenner, source_tokens, story):
    """The contract's story with identifiers as some ERPs write them, slashes included."""
    text = json.dumps(story)
    for plain, slashed in SLASHED.items():
        text = text.replace(f'"{plain}"', f'"{slashed}"')
    from tests.helpers import send_story

    send_story(client, source_tokens, json.loads(text))


def test_identifiers_with_slashes_link_and_resolve_everywhere(
    client, slashed_story, brenner, partner_token
):
    client.force_login(
        user_create(username="b-finance", password=PASSWORD, tenant=brenner, finance=True)
    )

    shipments = client.get("/shipments/").content.decode()
    search = client.get("/search/", {"q": "SHP/778/12"}).content.decode()  # exact: opens it
    shipment = client.get("/shipments/SHP/778/120/")
    order = client.get("/orders/SO/2026/45/")
    invoice = client.get("/invoices/INV/2026/4512/")
    document = client.get("/documents/POD/778120/download")
    api = client.get("/api/v1/shipments/SHP/778/120", HTTP_AUTHORIZATION=f"Bearer {partner_token}")

    assert 'href="/shipments/SHP/778/120/"' in shipments
    assert 'href="/shipments/SHP/778/120/"' in search
    assert shipment.status_code == 200 and "SHP/778/120" in shipment.content.decode()
    assert 'href="/documents/POD/778120/download"' in shipment.content.decode()
    assert order.status_code == 200 and 'href="/shipments/SHP/778/120/"' in order.content.decode()
    assert 'href="/invoices/INV/2026/4512/"' in order.content.decode()
    assert invoice.status_code == 200
    assert document.status_code == 200
    assert api.status_code == 200 and api.json()["shipment_id"] == "SHP/778/120"
