"""SQL queries per read: list reads cost the same for 5 and for 30 objects (no N+1), and
every detail read costs an exact, pinned number of queries.

When a number here changes, look at the queries (CaptureQueriesContext) before changing
it: a higher number is usually a relation read per row that a selector should prefetch."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import user_create
from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from tests.factories import (
    PASSWORD,
    DocumentFactory,
    FreightChargeFactory,
    ShipmentFactory,
    account,
)
from visibility.models import Order, Shipment

pytestmark = pytest.mark.django_db

SHIPMENT_FIELDS = (
    "shipmentId status carrierName eta promisedDate delayed lastEventAt "
    "milestones { milestone occurredAt } orders { orderNumber } "
    "etaHistory { eta etaBasis } freightCharges { chargeId amount }"
)
READS = {
    "shipment list page": ("page", "/shipments/"),
    "REST shipment list": ("api", "/api/v1/shipments?page_size=200"),
    "REST shipment list, everything expanded": (
        "api",
        "/api/v1/shipments?page_size=200&expand=milestones,eta_history,stops,charges,documents",
    ),
    "REST documents list": ("api", "/api/v1/documents?page_size=200"),
    "REST exceptions list": ("api", "/api/v1/exceptions?page_size=200"),
    "GraphQL shipments": (
        "graphql",
        f"{{ shipments(first: 200) {{ edges {{ node {{ {SHIPMENT_FIELDS} }} }} }} }}",
    ),
    "orders list page": ("page", "/orders/"),
    "REST orders list": ("api", "/api/v1/orders?page_size=200"),
    "GraphQL orders": (
        "graphql",
        # first: 20 keeps the estimated cost under GraphQL's limit (portal/graphql/limits.py);
        # 20 orders against 5 still shows whether nested lists cost queries per order.
        f"{{ orders(first: 20) {{ edges {{ node {{ orderNumber status lines {{ sku }} "
        f"shipments {{ {SHIPMENT_FIELDS} }} }} }} }} }}",
    ),
}

# The exact number each list read costs, whatever the page size (a change here is a
# decision: say which query it adds or saves).
LIST_QUERIES = {
    # session, user, staff profile, membership, accounts, the page's count, the invoices
    # menu, the shipments (their order numbers in an array subquery), the filters'
    # choices (the actor's account numbers; its account ids, then the carriers of its
    # shipments by a loose index scan over them), the saved views
    "shipment list page": 12,
    # token, accounts, the page (cursor, no count)
    "REST shipment list": 3,
    # + one per expansion for the whole page: history (milestones and ETA history),
    # stops, the actor's charges, the documents it may see
    "REST shipment list, everything expanded": 7,
    # token, accounts, the page (documents with what they are filed under, joined)
    "REST documents list": 3,
    # token, accounts, the page (with its shipments), the notes the actor may read
    "REST exceptions list": 4,
    # token, accounts, shipments, their history (milestones and ETA history), the actor's
    # order links with their orders, the actor's charges
    "GraphQL shipments": 6,
    # as the shipment list page, then the orders' visible shipment links
    "orders list page": 9,
    # token, accounts, orders, their visible shipment links
    "REST orders list": 4,
    # token, accounts, orders, the orders' lines, shipment links, and what the query asks
    # of the shipments: their history, order links, charges (no documents: not asked)
    "GraphQL orders": 8,
}


def load(account_number: str, count: int) -> None:
    """`count` shipments of one order each, with milestones and a delay (an ETA) each, a
    freight charge and a document each."""
    shipments = ShipmentFactory.create_batch(
        count,
        customer_account=account(account_number),
        milestones=["picked_up", "departed_origin"],
        delayed_by=dt.timedelta(days=1),
    )
    for shipment in shipments:
        FreightChargeFactory(shipment=shipment)
        DocumentFactory(shipment=shipment)


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

    assert few == many == LIST_QUERIES


# Every field of ShipmentType, nested ones included.
EVERY_SHIPMENT_FIELD = (
    "shipmentId loadId status carrierScac carrierName mode trackingNumbers eta promisedDate "
    "delayed atRisk deliveredAt lastEventAt etaWindowStart etaWindowEnd etaBasis "
    "milestones { milestone carrierStatusCode occurredAt location remarks receivedBy } "
    "etaHistory { occurredAt kind eta etaWindowStart etaWindowEnd etaBasis reasonCode "
    "reasonText } orders { orderNumber customerPo lineNumbers } "
    "freightCharges { chargeId chargeType amount currency occurredAt }"
)
GRAPHQL_DETAILS = {
    "shipment": f'{{ shipment(shipmentId: "SHP-778120") {{ {EVERY_SHIPMENT_FIELD} }} }}',
    "order": (
        '{ order(orderNumber: "SO-100045") { orderNumber customerPo status '
        "requestedDeliveryDate cancelledAt lines { lineNumber sku description quantity uom } "
        f"shipments {{ {EVERY_SHIPMENT_FIELD} }} }} }}"
    ),
    "invoice": (
        '{ invoice(invoiceNumber: "INV-2026-004512") { invoiceNumber customerAccount status '
        "orderNumbers shipmentIds issueDate dueDate currency totalAmount paidAt "
        "lines { position description amount } } }"
    ),
}

# A signed-in page: session, user, staff profile, membership, then the read itself; the
# menu asks once whether the user sees invoices. A token: the token, then the read.
# visible_accounts reads the actor's account ids first, once per scope (docs/BENCHMARKS.md).
DETAIL_QUERIES = {
    # + accounts, shipment, the actor's orders on it (links with their orders), history,
    # charges, accounts for documents, documents, accounts for exceptions, open
    # exceptions, the invoices menu, its stops (the timeline and route sketch)
    ("page", "/shipments/SHP-778120/"): 15,
    # + accounts, order, lines, its visible shipments (links with their shipments),
    # accounts for invoices, invoices, the invoices menu
    ("page", "/orders/SO-100045/"): 11,
    # + accounts, invoice, lines, the invoices menu
    ("page", "/invoices/INV-2026-004512/"): 8,
    # + accounts, document, the download's audit entry
    ("page", "/documents/DOC-POD-778120/download"): 7,
    # token, accounts, shipment, history, links with their orders, accounts for
    # exceptions, open exceptions, charges
    ("api", "/api/v1/shipments/SHP-778120"): 8,
    # token, accounts, order, lines, links with their shipments, accounts for invoices,
    # invoices
    ("api", "/api/v1/orders/SO-100045"): 7,
    # token, accounts, invoice, lines
    ("api", "/api/v1/invoices/INV-2026-004512"): 4,
    # token, accounts, document, the download's audit entry
    ("api", "/api/v1/documents/DOC-POD-778120"): 4,
    # token, accounts, shipment, history, links with their orders, charges
    ("graphql", "shipment"): 6,
    # token, accounts, order, lines, links with their shipments, and for all shipments at
    # once what the query asks: history, the actor's order links with their orders, charges
    ("graphql", "order"): 8,
    # token, accounts, invoice, lines
    ("graphql", "invoice"): 4,
}


def read(client, kind: str, target: str, token: str):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if kind == "page":
        return client.get(target)
    if kind == "api":
        return client.get(target, **headers)
    return client.post(
        "/graphql",
        data={"query": GRAPHQL_DETAILS[target]},
        content_type="application/json",
        **headers,
    )


@pytest.mark.parametrize(("kind", "target"), list(DETAIL_QUERIES))
def test_each_detail_read_costs_an_exact_number_of_queries(
    client, delivered_story, brenner, partner_token, django_assert_num_queries, kind, target
):
    finance_user = user_create(username="fin", password=PASSWORD, tenant=brenner, finance=True)
    client.force_login(finance_user)
    read(client, kind, target, partner_token)  # warm up session and token bookkeeping

    with django_assert_num_queries(DETAIL_QUERIES[(kind, target)]):
        response = read(client, kind, target, partner_token)

    assert response.status_code == 200
    if kind == "graphql":
        body = response.json()
        assert "errors" not in body and body["data"][target] is not None


def test_graphql_order_costs_the_same_with_more_shipments(
    client, delivered_story, story, partner_token, django_assert_num_queries
):
    """The nested shipments' history, orders and charges are prefetched for all of them."""
    created = next(event for event in story if event["event_type"] == "shipment.created")
    for number in range(3):
        shipment = copy.deepcopy(created)
        shipment["event_id"] = f"tms-more-{number}"
        shipment["data"]["shipment_id"] = f"SHP-MORE-{number}"
        receive_events(source="tms", events=[shipment])
    process_inbox_until_empty()
    read(client, "graphql", "order", partner_token)

    with django_assert_num_queries(DETAIL_QUERIES[("graphql", "order")]):
        response = read(client, "graphql", "order", partner_token)

    assert len(response.json()["data"]["order"]["shipments"]) == 4
