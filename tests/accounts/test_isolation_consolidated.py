"""The isolation matrix for consolidated shipments (docs/ARCHITECTURE.md, "Tenancy"):
a shipment carrying orders of two accounts is visible to each of them, and each sees
the shipment's own facts and only its own orders, lines, POs, documents and charges.

Two shipments, built through intake and projection as in production:
- SEC-X-1 carries SEC-BT-1 (Brenner, C-1001) and SEC-NW-1 (Nordwind, C-2001): two tenants;
- SEC-A-1 carries SEC-BT-3 (C-1001) and SEC-BT-2 (C-1002): two accounts of one tenant,
  seen by members limited to one account each.
Every read (REST, pages, search, CSV export, GraphQL) is checked for what each side must
and must not see. The outside tester's query is a regression test of its own.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.services import api_token_create, user_create
from tests.factories import (
    PASSWORD,
    FreightChargeEventFactory,
    OrderFactory,
    OrderReleasedEventFactory,
    ShipmentCreatedEventFactory,
    ShipmentFactory,
    ShipmentOrderFactory,
    account,
)
from tests.helpers import connection_nodes, send_story, sign_in_verified
from visibility.models import (
    FreightCharge,
    Notification,
    NotificationSubscription,
    Reference,
    Shipment,
    ShipmentAccount,
)
from visibility.services.derivation import derive_shipments

pytestmark = pytest.mark.django_db


def _order(number: str, account_number: str) -> dict[str, Any]:
    return OrderReleasedEventFactory(
        event_id=f"erp-{number}", order_number=number, account=account_number
    )


def _charge(charge_id: str, amount: str, account_number: str | None) -> dict[str, Any]:
    event = FreightChargeEventFactory(
        event_id=f"tms-{charge_id}", shipment_id="SEC-X-1", charge_id=charge_id
    )
    event["data"]["amount"] = amount
    if account_number:
        event["data"]["customer_account"] = account_number
    return event


def _document(document_id: str, owner: dict[str, str], source: str) -> dict[str, Any]:
    return {
        "spec_version": "1.0",
        "event_id": f"{source}-{document_id}",
        "event_type": "document.available",
        "source": source,
        "occurred_at": "2026-03-02T08:00:00Z",
        "data": {
            "document_id": document_id,
            "document_type": "pod",
            "filename": f"{document_id}.pdf",
            "content_type": "application/pdf",
            "content_base64": base64.b64encode(b"%PDF-1.4 secret").decode(),
            **owner,
        },
    }


def consolidated_events() -> list[dict[str, Any]]:
    return [
        _order("SEC-BT-1", "C-1001"),
        _order("SEC-BT-2", "C-1002"),
        _order("SEC-BT-3", "C-1001"),
        _order("SEC-NW-1", "C-2001"),
        ShipmentCreatedEventFactory(
            event_id="tms-SEC-X-1", shipment_id="SEC-X-1", order_numbers=("SEC-BT-1", "SEC-NW-1")
        ),
        ShipmentCreatedEventFactory(
            event_id="tms-SEC-A-1", shipment_id="SEC-A-1", order_numbers=("SEC-BT-3", "SEC-BT-2")
        ),
        {
            "spec_version": "1.0",
            "event_id": "tms-SEC-X-1-delivered",
            "event_type": "shipment.milestone",
            "source": "tms",
            "occurred_at": "2026-03-02T07:00:00Z",
            "data": {
                "shipment_id": "SEC-X-1",
                "milestone": "delivered",
                "location": {"city": "Hamburg", "country": "DE"},
                "received_by": "J. Receiver",
            },
        },
        _charge("CHG-SEC-BT", "101.11", "C-1001"),
        _charge("CHG-SEC-NW", "202.22", "C-2001"),
        _charge("CHG-SEC-UNTAGGED", "303.33", None),
        _document("DOC-SEC-SHIP", {"shipment_id": "SEC-X-1"}, "tms"),
        _document("DOC-SEC-BT", {"order_number": "SEC-BT-1"}, "erp"),
        _document("DOC-SEC-NW", {"order_number": "SEC-NW-1"}, "erp"),
    ]


# What is each side's own (orders, POs, order documents, charges) on SEC-X-1 and SEC-A-1.
SIDES = {
    "brenner": ["SEC-BT-1", "PO-SEC-BT-1", "DOC-SEC-BT", "CHG-SEC-BT", "101.11"],
    "nordwind": ["SEC-NW-1", "PO-SEC-NW-1", "DOC-SEC-NW", "CHG-SEC-NW", "202.22"],
    "c1001": ["SEC-BT-3", "PO-SEC-BT-3"],
    "c1002": ["SEC-BT-2", "PO-SEC-BT-2"],
}
NOBODYS = ["CHG-SEC-UNTAGGED", "303.33"]
# persona -> (its side, the other side, the shipment both sides share)
PERSONAS = {
    "brenner_member": ("brenner", "nordwind", "SEC-X-1"),
    "brenner_token": ("brenner", "nordwind", "SEC-X-1"),
    "nordwind_member": ("nordwind", "brenner", "SEC-X-1"),
    "nordwind_token": ("nordwind", "brenner", "SEC-X-1"),
    "c1002_member": ("c1002", "c1001", "SEC-A-1"),
    "c1002_token": ("c1002", "c1001", "SEC-A-1"),
    "c1001_member": ("c1001", "c1002", "SEC-A-1"),
}
OWN_ORDER = {
    "brenner": "SEC-BT-1",
    "nordwind": "SEC-NW-1",
    "c1001": "SEC-BT-3",
    "c1002": "SEC-BT-2",
}


@pytest.fixture
def consolidated(db, client, brenner, nordwind, source_tokens) -> dict[str, Any]:
    send_story(client, source_tokens, consolidated_events())
    return {
        "brenner_member": user_create(
            username="bt-fin", password=PASSWORD, tenant=brenner, finance=True
        ),
        "brenner_token": api_token_create(tenant=brenner, name="bt")[1],
        "nordwind_member": user_create(
            username="nw-fin", password=PASSWORD, tenant=nordwind, finance=True
        ),
        "nordwind_token": api_token_create(tenant=nordwind, name="nw")[1],
        "c1002_member": user_create(
            username="c1002", password=PASSWORD, tenant=brenner, account_numbers=["C-1002"]
        ),
        "c1002_token": api_token_create(tenant=brenner, name="c1002", account_numbers=["C-1002"])[
            1
        ],
        "c1001_member": user_create(
            username="c1001", password=PASSWORD, tenant=brenner, account_numbers=["C-1001"]
        ),
    }


def client_for(consolidated: dict[str, Any], persona: str) -> tuple[Client, dict]:
    client = Client()
    identity = consolidated[persona]
    if isinstance(identity, str):
        return client, {"HTTP_AUTHORIZATION": f"Bearer {identity}"}
    sign_in_verified(client, identity)
    return client, {}


def graphql(client: Client, headers: dict, query: str) -> dict:
    response = client.post(
        "/graphql", data=json.dumps({"query": query}), content_type="application/json", **headers
    )
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def assert_none_of(text: str, markers: list[str], where: str) -> None:
    leaked = [marker for marker in markers if marker in text]
    assert not leaked, f"{where} leaked {leaked}"


def body_of(response) -> str:
    content = (
        b"".join(response.streaming_content)
        if getattr(response, "streaming", False)
        else response.content
    )
    return content.decode()


def test_derivation_keeps_the_set_of_accounts_and_each_accounts_references(consolidated):
    accounts_of = {
        shipment_id: sorted(
            ShipmentAccount.objects.filter(shipment__shipment_id=shipment_id).values_list(
                "customer_account__number", flat=True
            )
        )
        for shipment_id in ("SEC-X-1", "SEC-A-1")
    }
    tracking = Reference.objects.filter(reference_type="tracking_number", object_key="SEC-X-1")

    assert accounts_of == {"SEC-X-1": ["C-1001", "C-2001"], "SEC-A-1": ["C-1001", "C-1002"]}
    assert sorted(tracking.values_list("customer_account__number", flat=True)) == [
        "C-1001",
        "C-2001",
    ]
    assert dict(FreightCharge.objects.values_list("charge_id", "customer_account__number")) == {
        "CHG-SEC-BT": "C-1001",
        "CHG-SEC-NW": "C-2001",
        "CHG-SEC-UNTAGGED": None,
    }


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_each_side_sees_the_shared_shipment_and_only_its_own_rows(consolidated, persona):
    side, other, shipment_id = PERSONAS[persona]
    client, headers = client_for(consolidated, persona)
    token = bool(headers)
    own_order = OWN_ORDER[side]
    forbidden = SIDES[other] + NOBODYS
    reads = {}
    if token:
        reads["REST list"] = client.get("/api/v1/shipments", **headers)
        reads["REST detail"] = client.get(f"/api/v1/shipments/{shipment_id}", **headers)
        reads["REST order"] = client.get(f"/api/v1/orders/{own_order}", **headers)
        reads["REST orders"] = client.get("/api/v1/orders", **headers)
        other_order = client.get(f"/api/v1/orders/{OWN_ORDER[other]}", **headers)
    else:
        reads["page list"] = client.get("/shipments/")
        reads["page detail"] = client.get(f"/shipments/{shipment_id}/")
        reads["page order"] = client.get(f"/orders/{own_order}/")
        reads["page orders"] = client.get("/orders/")
        reads["CSV export"] = client.get("/shipments/export.csv")
        for query in [shipment_id, f"TRK-{shipment_id}", *SIDES[other]]:
            # One exact match opens the object: follow it, the page must hold no more.
            reads[f"search {query}"] = client.get("/search/", {"q": query}, follow=True)
        other_order = client.get(f"/orders/{OWN_ORDER[other]}/")

    texts = {where: body_of(response) for where, response in reads.items()}
    for where, response in reads.items():
        assert response.status_code == 200, where
        text = texts[where]
        if where.startswith("search "):
            query = where.removeprefix("search ")
            text = text.replace(f'value="{query}"', "").replace(f"\u201c{query}\u201d", "")
        assert_none_of(text, forbidden, f"{persona} {where}")
    assert other_order.status_code == 404
    for where in [name for name in reads if "list" in name or "detail" in name or "CSV" in name]:
        text = texts[where]
        assert shipment_id in text, f"{persona} {where} misses the shared shipment"
        assert own_order in text, f"{persona} {where} misses its own order"
    if not token:
        assert shipment_id in texts[f"search TRK-{shipment_id}"]
        assert shipment_id in texts[f"search {shipment_id}"]


SHIPMENT_QUERY = (
    "shipmentId trackingNumbers milestones { location receivedBy } "
    "orders { orderNumber customerPo lineNumbers } documents { documentId } "
    "freightCharges { chargeId amount }"
)


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_graphql_traversal_stays_on_the_actors_side(consolidated, persona):
    side, other, shipment_id = PERSONAS[persona]
    client, headers = client_for(consolidated, persona)
    own_order = OWN_ORDER[side]

    one = graphql(
        client, headers, f'{{ shipment(shipmentId: "{shipment_id}") {{ {SHIPMENT_QUERY} }} }}'
    )
    many = graphql(
        client, headers, f"{{ shipments(first: 5) {{ edges {{ node {{ {SHIPMENT_QUERY} }} }} }} }}"
    )
    nested = graphql(
        client,
        headers,
        f'{{ order(orderNumber: "{own_order}") {{ shipments {{ {SHIPMENT_QUERY} }} }} }}',
    )
    listed = graphql(
        client,
        headers,
        f"{{ orders(first: 5) {{ edges {{ node {{ orderNumber customerAccount "
        f"shipments {{ customerAccount {SHIPMENT_QUERY} }} }} }} }} }}",
    )
    trespass = graphql(
        client, headers, f'{{ order(orderNumber: "{OWN_ORDER[other]}") {{ orderNumber }} }}'
    )

    for where, data in {
        "shipment": one,
        "shipments": many,
        "order": nested,
        "orders": listed,
    }.items():
        assert_none_of(json.dumps(data), SIDES[other] + NOBODYS, f"{persona} graphql {where}")
    assert [order["orderNumber"] for order in one["shipment"]["orders"]] == [own_order]
    assert shipment_id in [
        shipment["shipmentId"] for shipment in connection_nodes(many["shipments"])
    ]
    if side in ("c1001", "c1002"):  # one account each: a shared shipment names the caller's
        account_number = f"C-{side[1:]}"
        for order in connection_nodes(listed["orders"]):
            assert {s["customerAccount"] for s in order["shipments"]} <= {account_number}
    assert [s["shipmentId"] for s in nested["order"]["shipments"]] == [shipment_id]
    assert trespass == {"order": None}
    if shipment_id == "SEC-X-1":
        # The shipment's own facts and papers: each side of it sees them.
        assert one["shipment"]["trackingNumbers"] == ["TRK-SEC-X-1"]
        assert one["shipment"]["milestones"][0]["receivedBy"] == "J. Receiver"
        assert "DOC-SEC-SHIP" in json.dumps(one)
        if persona.endswith("_member"):  # members with the finance grant
            charges = one["shipment"]["freightCharges"]
            assert [charge["chargeId"] for charge in charges] == [SIDES[side][3]]


@pytest.mark.parametrize("persona", ["nordwind_member", "nordwind_token"])
def test_the_outside_testers_query_returns_nothing_of_the_other_tenant(consolidated, persona):
    """Regression: the exact query the outside tester sent, as Nordwind."""
    client, headers = client_for(consolidated, persona)

    data = graphql(
        client,
        headers,
        '{ order(orderNumber: "SEC-NW-1") { shipments { trackingNumbers '
        "milestones { location receivedBy } orders { orderNumber customerPo } } } }",
    )

    assert data["order"]["shipments"][0]["orders"] == [
        {"orderNumber": "SEC-NW-1", "customerPo": "PO-SEC-NW-1"}
    ]
    assert_none_of(json.dumps(data), SIDES["brenner"], persona)


def test_an_order_moving_to_another_account_takes_its_shipments_visibility_along(
    consolidated, client, source_tokens
):
    moved = _order("SEC-BT-1", "C-1002")
    moved["event_id"], moved["sequence"] = "erp-SEC-BT-1-moved", 2

    send_story(client, source_tokens, [moved])

    shipment = Shipment.objects.get(shipment_id="SEC-X-1")
    assert sorted(
        ShipmentAccount.objects.filter(shipment=shipment).values_list(
            "customer_account__number", flat=True
        )
    ) == ["C-1002", "C-2001"]
    assert sorted(
        Reference.objects.filter(shipment=shipment, reference_type="shipment_id").values_list(
            "customer_account__number", flat=True
        )
    ) == ["C-1002", "C-2001"]
    assert shipment.customer_account == account("C-1002")


def test_scoping_related_rows_keeps_graphql_order_at_a_constant_query_count(
    consolidated, django_assert_num_queries
):
    """As for a single-account order (tests/visibility/test_query_counts.py): token,
    accounts, order, lines, links with their shipments, then for all shipments at once
    history, the actor's order links with their orders, charges, documents."""
    client, headers = client_for(consolidated, "nordwind_token")
    query = (
        '{ order(orderNumber: "SEC-NW-1") { orderNumber lines { sku } '
        f"shipments {{ {SHIPMENT_QUERY} }} }} }}"
    )
    graphql(client, headers, query)  # warm up the token's bookkeeping

    with django_assert_num_queries(9):
        data = graphql(client, headers, query)

    assert [order["orderNumber"] for order in data["order"]["shipments"][0]["orders"]] == [
        "SEC-NW-1"
    ]


def test_each_tenant_of_a_consolidated_shipment_hears_of_its_delivery(
    client, brenner, nordwind, source_tokens
):
    for tenant in (brenner, nordwind):
        subscriber = user_create(
            username=f"{tenant.slug}-ops",
            password=PASSWORD,
            email=f"ops@{tenant.slug}.example",
            tenant=tenant,
        )
        NotificationSubscription.objects.create(user=subscriber, tenant=tenant, trigger="delivery")

    send_story(client, source_tokens, consolidated_events())

    notified = Notification.objects.filter(shipment_ref="SEC-X-1", trigger="delivery")
    assert sorted(notified.values_list("tenant__slug", flat=True)) == ["brenner", "nordwind"]
    assert_none_of(
        json.dumps(list(notified.values_list("payload", flat=True))),
        [*SIDES["brenner"], *SIDES["nordwind"]],
        "notification payload",
    )


def test_derivation_writes_account_sets_in_bulk_whatever_the_batch_size(brenner, nordwind):
    """The pipeline derives thousands of shipments per batch: the account sets and the
    references' copies cost the same statements for 2 shipments as for 20."""

    def consolidated_shipments(count: int) -> list[int]:
        shipments = []
        for _ in range(count):
            shipment = ShipmentFactory(customer_account=account("C-1001"))
            ShipmentOrderFactory(
                shipment=shipment, order=OrderFactory(customer_account=account("C-2001"))
            )
            shipments.append(shipment.id)
        ShipmentAccount.objects.filter(shipment_id__in=shipments).delete()
        return shipments

    def statements(shipment_ids: list[int]) -> int:
        with CaptureQueriesContext(connection) as queries:
            derive_shipments(shipment_ids)
        return len(queries)

    few, many = consolidated_shipments(2), consolidated_shipments(20)

    assert statements(few) == statements(many)
    assert ShipmentAccount.objects.filter(shipment_id__in=many).count() == 40
    assert (
        Reference.objects.filter(
            shipment_id__in=many,
            reference_type="tracking_number",
            customer_account=account("C-2001"),
        ).count()
        == 20
    )


@pytest.mark.parametrize(
    ("persona", "own_order", "other_order"),
    [("brenner_token", "SEC-BT-1", "SEC-NW-1"), ("nordwind_token", "SEC-NW-1", "SEC-BT-1")],
)
def test_the_change_feed_announces_the_shared_shipment_to_each_side_and_only_its_orders(
    transactional_db, consolidated, persona, own_order, other_order
):
    """The feed follows a shipment to every account whose orders it carries (migration
    0012): the side whose order is not the shipment's first still hears of it."""
    client, headers = client_for(consolidated, persona)

    response = client.get("/api/v1/changes?limit=1000", **headers)

    assert response.status_code == 200
    changes = response.json()["changes"]
    shipments = {change["id"] for change in changes if change["kind"] == "shipment"}
    orders = {change["id"] for change in changes if change["kind"] == "order"}
    assert "SEC-X-1" in shipments
    assert own_order in orders and other_order not in orders
    other_side = "nordwind" if persona.startswith("brenner") else "brenner"
    assert_none_of(json.dumps(changes), SIDES[other_side], persona)


def test_the_queue_filtered_by_tenant_lists_a_shipment_of_two_of_its_accounts_once(
    consolidated, brenner, cs_staff
):
    """SEC-A-1 carries orders of C-1001 and C-1002, both Brenner's."""
    from django.utils import timezone

    from visibility import selectors
    from visibility.models import ShipmentException

    ShipmentException.objects.create(
        shipment=Shipment.objects.get(shipment_id="SEC-A-1"),
        reason="weather",
        opened_by="delay",
        opened_at=timezone.now(),
    )

    queue = selectors.exception_queue(cs_staff, tenant_id=brenner.id)

    listed = [record.shipment.shipment_id for record in queue]
    assert (
        listed.count("SEC-A-1")
        == ShipmentException.objects.filter(shipment__shipment_id="SEC-A-1")
        .exclude(status="resolved")
        .count()
    )
