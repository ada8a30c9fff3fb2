"""GraphQL at parity with REST (issue #17): connections with cursors and no silent cap, the
same filters and fields, nested lists at a constant number of queries, automatic persisted
queries, and transport errors as problem+json; attacked as an outsider would."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from graphql import GraphQLObjectType, get_named_type

from accounts.services import api_token_create
from portal.graphql.schema import schema
from tests.factories import (
    DocumentFactory,
    FreightChargeFactory,
    InvoiceFactory,
    OrderFactory,
    ShipmentFactory,
    account,
)
from tests.helpers import connection_nodes, graphql_post
from visibility.models import ExceptionNote, Shipment, ShipmentException

pytestmark = pytest.mark.django_db

PAGE = """
query ($first: Int, $after: String) {
  shipments(first: $first, after: $after) {
    edges { cursor node { shipmentId } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


@pytest.fixture(autouse=True)
def clean_cache():
    cache.clear()  # persisted queries and rate counters
    yield
    cache.clear()


def data_of(response) -> dict:
    body = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body["errors"]
    return body["data"]


def error_of(response) -> dict:
    body = response.json()
    [error] = body["errors"]
    return error


def shipments(count: int, number: str = "C-1001", **fields) -> list[Shipment]:
    return ShipmentFactory.create_batch(count, customer_account=account(number), **fields)


# --- connections -------------------------------------------------------------------------


def test_pages_cover_every_shipment_once_newest_first(client, brenner, partner_token):
    made = shipments(5)
    seen, after, pages = [], None, 0
    while True:
        connection_ = data_of(
            graphql_post(client, PAGE, {"first": 2, "after": after}, token=partner_token)
        )["shipments"]
        pages += 1
        seen += [node["shipmentId"] for node in connection_nodes(connection_)]
        info = connection_["pageInfo"]
        assert info["hasPreviousPage"] is (after is not None)
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]

    assert pages == 3
    assert seen == [shipment.shipment_id for shipment in sorted(made, key=lambda s: -s.id)]


def test_a_shipment_changing_while_a_client_pages_is_neither_skipped_nor_repeated(
    client, brenner, partner_token
):
    made = sorted(shipments(4), key=lambda s: -s.id)
    first = data_of(graphql_post(client, PAGE, {"first": 2}, token=partner_token))["shipments"]
    # The oldest shipment gets news: newest activity now, but its key does not move.
    Shipment.objects.filter(id=made[-1].id).update(last_event_at=timezone.now())
    rest = data_of(
        graphql_post(
            client,
            PAGE,
            {"first": 10, "after": first["pageInfo"]["endCursor"]},
            token=partner_token,
        )
    )["shipments"]

    seen = [n["shipmentId"] for n in connection_nodes(first) + connection_nodes(rest)]
    assert seen == [shipment.shipment_id for shipment in made]


@pytest.mark.parametrize(
    ("first", "code"), [(201, "LIMIT_EXCEEDED"), (10_000, "LIMIT_EXCEEDED"), (-1, "BAD_USER_INPUT")]
)
def test_first_outside_the_limits_is_an_error_not_a_silent_cap(
    client, brenner, partner_token, first, code
):
    shipments(1)
    response = graphql_post(client, PAGE, {"first": first}, token=partner_token)

    error = error_of(response)
    assert error["extensions"]["code"] == code
    assert error["extensions"]["argument"] == "first"
    assert response.json()["data"] is None


def test_first_200_is_allowed(client, brenner, partner_token):
    shipments(3)
    data = data_of(graphql_post(client, PAGE, {"first": 200}, token=partner_token))
    assert len(data["shipments"]["edges"]) == 3


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "",
        "W10",  # []
        "WyJvcmRlcnMiLDFd",  # ["orders",1]: another list's cursor
        "WyJzaGlwbWVudHMiLCIxIl0",  # ["shipments","1"]: not an id
        "WyJzaGlwbWVudHMiLHRydWVd",  # ["shipments",true]
        "WyJzaGlwbWVudHMiLDFlMzBd",  # ["shipments",1e30]
        "WyJzaGlwbWVudHMiLDEwMDAwMDAwMDAwMDAwMDAwMDAwMDAwXQ",  # ["shipments",10**22]
        "WyJzaGlwbWVudHMiLC0xXQ",  # ["shipments",-1]
        "%%%",
    ],
)
def test_a_bad_cursor_is_a_bad_user_input_naming_after(client, brenner, partner_token, cursor):
    shipments(2)
    response = graphql_post(client, PAGE, {"first": 1, "after": cursor}, token=partner_token)

    if cursor == "":  # no cursor: the first page
        assert len(data_of(response)["shipments"]["edges"]) == 1
        return
    error = error_of(response)
    assert response.status_code == 200
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "after"}


def test_exceptions_orders_invoices_and_documents_page_too(client, brenner, partner_token):
    for shipment in shipments(3):
        DocumentFactory(shipment=shipment)
    query = """
    query ($after: String) {
      orders(first: 2, after: $after) { edges { node { orderNumber } } pageInfo { endCursor } }
      documents(first: 2, after: $after) { edges { node { documentId } } }
    }"""
    data = data_of(graphql_post(client, query, token=partner_token))
    assert len(data["orders"]["edges"]) == 2
    assert len(data["documents"]["edges"]) == 2
    # One list's cursor is not another's.
    after = data["orders"]["pageInfo"]["endCursor"]
    response = graphql_post(
        client,
        "query ($after: String) { documents(after: $after) { edges { cursor } } }",
        {"after": after},
        token=partner_token,
    )
    assert error_of(response)["extensions"]["code"] == "BAD_USER_INPUT"


# --- filters ---------------------------------------------------------------------------


def ids(client, token: str, arguments: str) -> set[str]:
    data = data_of(
        graphql_post(
            client,
            f"{{ shipments{f'({arguments})' if arguments else ''} "
            "{ edges { node { shipmentId } } } }",
            token=token,
        )
    )
    return {node["shipmentId"] for node in connection_nodes(data["shipments"])}


def test_filters_select_like_rest(client, brenner, partner_token):
    [in_nl] = shipments(1)
    [to_paris] = shipments(
        1, "C-1002", destination={"city": "Paris", "country": "FR"}, mode="ftl", carrier_scac="XPO"
    )
    Shipment.objects.filter(id=in_nl.id).update(
        eta=timezone.now() + timedelta(days=2), status="in_transit", delayed=True
    )

    assert ids(client, partner_token, 'account: "C-1002"') == {to_paris.shipment_id}
    assert ids(client, partner_token, 'destinationCountry: "fr"') == {to_paris.shipment_id}
    assert ids(client, partner_token, 'destinationCity: "PARIS"') == {to_paris.shipment_id}
    assert ids(client, partner_token, 'originCountry: "NL"') == {
        in_nl.shipment_id,
        to_paris.shipment_id,
    }
    assert ids(client, partner_token, 'mode: "ftl"') == {to_paris.shipment_id}
    assert ids(client, partner_token, 'carrierScac: "xpo"') == {to_paris.shipment_id}
    assert ids(client, partner_token, 'status: ["in_transit", "delivered"]') == {in_nl.shipment_id}
    assert ids(client, partner_token, "delayed: true") == {in_nl.shipment_id}
    eta_from = (timezone.now() + timedelta(days=1)).isoformat()
    assert ids(client, partner_token, f'etaAfter: "{eta_from}"') == {in_nl.shipment_id}
    assert in_nl.shipment_id not in ids(client, partner_token, f'etaBefore: "{eta_from}"')
    # Any reference, normalized: a tracking number, the order number it carries.
    tracking = in_nl.tracking_numbers[0]
    assert ids(client, partner_token, f'reference: "{tracking.lower()}"') == {in_nl.shipment_id}
    order_number = to_paris.order_links.get().order.order_number
    assert ids(client, partner_token, f'reference: "{order_number}"') == {to_paris.shipment_id}
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    assert ids(client, partner_token, f'updatedSince: "{future}"') == set()


def test_another_tenants_account_is_refused_and_its_reference_finds_nothing(
    client, brenner, nordwind, partner_token, other_tenant_token
):
    [theirs] = shipments(1, "C-2001")
    shipments(1)

    response = graphql_post(
        client,
        '{ shipments(account: ["C-1001", "C-2001"]) { edges { cursor } } }',
        token=partner_token,
    )
    error = error_of(response)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "account"}
    assert error["message"] == "account: Unknown account: C-2001"
    assert ids(client, partner_token, f'reference: "{theirs.shipment_id}"') == set()
    assert ids(client, other_tenant_token, "") == {theirs.shipment_id}


@pytest.mark.parametrize(
    ("arguments", "argument"),
    [
        ('status: "lost"', "status"),
        ('mode: "teleport"', "mode"),
        ('account: "' + "A" * 129 + '"', "account"),
    ],
)
def test_a_bad_filter_value_is_a_bad_user_input_naming_it(
    client, brenner, partner_token, arguments, argument
):
    response = graphql_post(
        client, f"{{ shipments({arguments}) {{ edges {{ cursor }} }} }}", token=partner_token
    )

    error = error_of(response)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["argument"] == argument
    assert error["message"].startswith(f"{argument}: ")


def test_a_filter_of_the_wrong_type_is_a_validation_error(client, brenner, partner_token):
    response = graphql_post(
        client, '{ shipments(delayed: "maybe") { edges { cursor } } }', token=partner_token
    )
    assert error_of(response)["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_invoice_and_document_filters_are_validated(client, brenner, partner_token):
    bad_status = graphql_post(
        client, '{ invoices(status: "lost") { edges { cursor } } }', token=partner_token
    )
    bad_type = graphql_post(
        client, '{ documents(documentType: "x") { edges { cursor } } }', token=partner_token
    )
    assert error_of(bad_status)["extensions"]["argument"] == "status"
    assert error_of(bad_type)["extensions"]["argument"] == "documentType"


# --- fields ------------------------------------------------------------------------------

DETAIL = """
query ($id: String!) {
  shipment(shipmentId: $id) {
    shipmentId customerAccount statusLabel origin destination serviceLevel
    stops { sequence stopType location plannedArrival }
    documents { documentId documentType customerAccount shipmentId sha256 size }
    exceptions { reason reasonLabel status notes { text } }
    freightCharges { chargeId amount }
    milestones { milestone stopSequence }
  }
}"""


def test_the_shipment_has_the_fields_of_its_rest_detail(client, delivered_story, partner_token):
    graph = data_of(graphql_post(client, DETAIL, {"id": "SHP-778120"}, token=partner_token))
    rest = client.get(
        "/api/v1/shipments/SHP-778120", HTTP_AUTHORIZATION=f"Bearer {partner_token}"
    ).json()

    shipment = graph["shipment"]
    assert shipment["customerAccount"] == rest["customer_account"] == "C-1001"
    assert shipment["origin"] == rest["origin"]
    assert shipment["destination"] == rest["destination"]
    assert shipment["statusLabel"] == rest["status_label"]
    assert [c["chargeId"] for c in shipment["freightCharges"]] == [
        c["charge_id"] for c in rest["freight_charges"]
    ]
    assert [m["stopSequence"] for m in shipment["milestones"]] == [
        m["stop_sequence"] for m in rest["milestones"]
    ]
    assert [e["reason"] for e in shipment["exceptions"]] == [
        e["reason"] for e in rest["exceptions"]
    ]
    assert [s["stopType"] for s in shipment["stops"]] == ["pickup", "delivery"]
    assert {d["documentType"] for d in shipment["documents"]} == {"pod"}
    assert all(d["shipmentId"] == "SHP-778120" for d in shipment["documents"])


def every_field(type_name: str) -> str:
    """A selection of every field of a type of the schema, nested types' too."""
    fields = []
    for name, field in schema._schema.get_type(type_name).fields.items():
        named = get_named_type(field.type)
        nested = isinstance(named, GraphQLObjectType)
        fields.append(f"{name} {{ {every_field(named.name)} }}" if nested else name)
    return " ".join(fields)


def test_a_shipment_reads_the_same_in_a_page_in_its_detail_and_under_its_order(
    client, delivered_story, partner_token
):
    """A page's shipments are read as rows, a detail and an order's shipments as model
    instances (portal/graphql/nodes.py): every field, nested lists included, reads the same."""
    shipment = Shipment.objects.get(shipment_id="SHP-778120")
    exception = ShipmentException.objects.create(
        shipment=shipment, reason="weather", opened_by="milestone", opened_at=timezone.now()
    )
    for text, shown in (("Rebooked for Monday", True), ("Carrier blamed us", False)):
        ExceptionNote.objects.create(
            exception=exception, text=text, visible_to_customer=shown, created_at=timezone.now()
        )
    fields = every_field("ShipmentType")
    detail = data_of(
        graphql_post(
            client, f'{{ shipment(shipmentId: "SHP-778120") {{ {fields} }} }}', token=partner_token
        )
    )["shipment"]
    page = data_of(
        graphql_post(
            client,
            f"{{ shipments(first: 20) {{ edges {{ node {{ {fields} }} }} }} }}",
            token=partner_token,
        )
    )["shipments"]
    orders = data_of(
        graphql_post(
            client,
            f'{{ order(orderNumber: "SO-100045") {{ shipments {{ {fields} }} }} }}',
            token=partner_token,
        )
    )["order"]

    [listed] = [node for node in connection_nodes(page) if node["shipmentId"] == "SHP-778120"]
    [under_order] = [node for node in orders["shipments"] if node["shipmentId"] == "SHP-778120"]
    assert detail["milestones"] and detail["etaHistory"] and detail["stops"]
    assert detail["orders"] and detail["freightCharges"] and detail["documents"]
    [shown] = [record for record in detail["exceptions"] if record["reason"] == "weather"]
    assert [note["text"] for note in shown["notes"]] == ["Rebooked for Monday"]
    assert listed == detail
    assert under_order == detail


def test_another_tenant_sees_none_of_it(client, delivered_story, other_tenant_token):
    query = """{
      shipment(shipmentId: "SHP-778120") { shipmentId }
      shipments { edges { node { shipmentId } } }
      orders { edges { node { orderNumber } } }
      documents { edges { node { documentId } } }
      exceptions { edges { node { id } } }
      invoices { edges { node { invoiceNumber } } }
    }"""
    data = data_of(graphql_post(client, query, token=other_tenant_token))

    assert data["shipment"] is None
    for name in ("shipments", "orders", "documents", "exceptions", "invoices"):
        assert data[name]["edges"] == [], name


def test_without_the_finance_scope_charges_and_invoices_are_empty(client, delivered_story, brenner):
    _, secret = api_token_create(tenant=brenner, name="no finance", scopes=["shipments"])
    query = """{
      shipments { edges { node { freightCharges { chargeId } } } }
      orders { edges { node { invoices { invoiceNumber } } } }
      documents { edges { node { documentId } } }
    }"""
    data = data_of(graphql_post(client, query, token=secret))

    assert [n["freightCharges"] for n in connection_nodes(data["shipments"])] == [[]]
    assert [n["invoices"] for n in connection_nodes(data["orders"])] == [[]]
    assert data["documents"]["edges"] == []


# --- nested lists at a constant number of queries ---------------------------------------

NESTED_SHIPMENTS = """
{ shipments(first: 100) { edges { node {
    shipmentId customerAccount
    milestones { milestone } etaHistory { eta }
    orders { orderNumber } stops { sequence } freightCharges { chargeId amount }
} } } }"""
NESTED_ORDERS = """
{ orders(first: 20) { edges { node {
    orderNumber customerAccount lines { sku } invoices { invoiceNumber }
    shipments { shipmentId customerAccount milestones { milestone } stops { sequence }
                orders { orderNumber } freightCharges { chargeId } }
} } } }"""


def count_queries(client, token: str, query: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        data_of(graphql_post(client, query, token=token))
    return len(queries)


def load(count: int, number: str = "C-1001") -> None:
    """`count` shipments of one order each, with milestones, a delay, a charge, stops, and
    an invoice of the order."""
    for shipment in ShipmentFactory.create_batch(
        count,
        customer_account=account(number),
        milestones=["picked_up", "departed_origin"],
        delayed_by=timedelta(days=1),
    ):
        FreightChargeFactory(shipment=shipment)
        order = shipment.order_links.get().order
        InvoiceFactory(customer_account=order.customer_account, order_numbers=[order.order_number])


def test_a_page_of_100_shipments_with_nested_lists_costs_7_queries(client, brenner, partner_token):
    load(10)
    count_queries(client, partner_token, NESTED_SHIPMENTS)  # token bookkeeping
    few = count_queries(client, partner_token, NESTED_SHIPMENTS)
    load(90, "C-1002")
    with CaptureQueriesContext(connection) as queries:
        data = data_of(graphql_post(client, NESTED_SHIPMENTS, token=partner_token))

    nodes = connection_nodes(data["shipments"])
    assert len(nodes) == 100
    assert all(len(n["milestones"]) == 2 and len(n["freightCharges"]) == 1 for n in nodes)
    assert all(len(n["stops"]) == 2 and len(n["orders"]) == 1 for n in nodes)
    # token, accounts, shipments, history, order links with orders, stops, charges
    assert few == len(queries) == 7


def test_orders_with_nested_shipments_cost_the_same_for_5_and_30(client, brenner, partner_token):
    load(5)
    count_queries(client, partner_token, NESTED_ORDERS)
    few = count_queries(client, partner_token, NESTED_ORDERS)
    load(25, "C-1002")
    with CaptureQueriesContext(connection) as queries:
        data = data_of(graphql_post(client, NESTED_ORDERS, token=partner_token))

    orders = connection_nodes(data["orders"])
    assert len(orders) == 20
    assert all(len(order["invoices"]) == 1 and len(order["shipments"]) == 1 for order in orders)
    assert all(len(order["shipments"][0]["milestones"]) == 2 for order in orders)
    many = len(queries)

    # token, accounts, orders, lines, shipment links with shipments, their history,
    # order links, stops, charges, accounts; accounts for invoices, invoices, their lines
    assert few == many == 13


def test_a_consolidated_shipment_under_an_order_names_the_callers_account(
    client, brenner, nordwind, other_tenant_token
):
    theirs = OrderFactory(customer_account=account("C-2001"))
    ours = OrderFactory(customer_account=account("C-1001"))
    ShipmentFactory(customer_account=account("C-1001"), orders=[ours, theirs])
    query = """{ orders { edges { node { orderNumber
      shipments { customerAccount orders { orderNumber } } } } } }"""

    data = data_of(graphql_post(client, query, token=other_tenant_token))

    [order] = connection_nodes(data["orders"])
    assert order["orderNumber"] == theirs.order_number
    assert order["shipments"] == [
        {"customerAccount": "C-2001", "orders": [{"orderNumber": theirs.order_number}]}
    ]


# --- automatic persisted queries ----------------------------------------------------------

APQ_QUERY = "{ shipments(first: 1) { edges { node { shipmentId } } } }"
APQ_HASH = hashlib.sha256(APQ_QUERY.encode()).hexdigest()


def persisted(sha256_hash: str) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256_hash}}


def test_an_unknown_hash_asks_for_the_query_then_the_hash_alone_runs_it(
    client, brenner, partner_token
):
    shipments(1)
    body = {"extensions": persisted(APQ_HASH)}
    missing = client.post(
        "/graphql",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {partner_token}",
    )
    assert missing.status_code == 200
    assert missing.json()["errors"] == [
        {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
    ]

    registered = graphql_post(
        client, APQ_QUERY, token=partner_token, extensions=persisted(APQ_HASH)
    )
    assert len(data_of(registered)["shipments"]["edges"]) == 1

    by_get = client.get(
        "/graphql",
        {"extensions": json.dumps(persisted(APQ_HASH))},
        HTTP_AUTHORIZATION=f"Bearer {partner_token}",
    )
    assert data_of(by_get) == data_of(registered)


@pytest.mark.parametrize(
    "extensions",
    [
        persisted("0" * 64),  # not the query's hash
        persisted("ABC"),
        {"persistedQuery": {"version": 2, "sha256Hash": APQ_HASH}},
        {"persistedQuery": "yes"},
    ],
)
def test_a_hash_that_does_not_match_is_refused(client, brenner, partner_token, extensions):
    response = graphql_post(client, APQ_QUERY, token=partner_token, extensions=extensions)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 400
    assert cache.get(f"graphql:apq:{'0' * 64}") is None


# --- transport: credentials, CSRF, bad requests ------------------------------------------


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"]
    return body


@pytest.mark.parametrize("method", ["get", "post"])
def test_without_credentials_the_answer_is_401_problem_json(client, delivered_story, method):
    introspection = "{ __schema { types { name } } }"
    if method == "get":
        response = client.get("/graphql", {"query": introspection})
    else:
        response = client.post(
            "/graphql", data={"query": introspection}, content_type="application/json"
        )

    assert_problem(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert "__schema" not in response.content.decode()


def test_a_bad_token_is_401_problem_json(client, delivered_story):
    response = graphql_post(client, "{ shipments { edges { cursor } } }", token="nope")
    assert_problem(response, 401)


def test_graphiql_is_for_signed_in_users_with_local_assets(client, customer_user):
    anonymous = client.get("/graphql", HTTP_ACCEPT="text/html")
    assert_problem(anonymous, 401)

    client.force_login(customer_user)
    page = client.get("/graphql", HTTP_ACCEPT="text/html")

    html = page.content.decode()
    assert page.status_code == 200
    assert "/static/vendor/graphiql-3.8.3/graphiql.min.js" in html
    assert "/static/js/graphiql.js" in html
    for banned in ("unpkg", "jsdelivr", "cdn", "style=", "<script>", " onload="):
        assert banned not in html.lower()


def test_a_session_post_needs_the_csrf_token(delivered_story, customer_user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(customer_user)
    query = '{ shipment(shipmentId: "SHP-778120") { shipmentId } }'

    refused = graphql_post(browser, query)
    assert_problem(refused, 403)

    browser.get("/shipments/")  # a page sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    accepted = graphql_post(browser, query, HTTP_X_CSRFTOKEN=token)
    assert data_of(accepted) == {"shipment": {"shipmentId": "SHP-778120"}}


def test_a_token_post_is_csrf_exempt(delivered_story, partner_token):
    browser = Client(enforce_csrf_checks=True)
    response = graphql_post(
        browser, '{ shipment(shipmentId: "SHP-778120") { shipmentId } }', token=partner_token
    )
    assert data_of(response) == {"shipment": {"shipmentId": "SHP-778120"}}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ('"a string"', "application/json"),
        ("[1, 2]", "application/json"),
        ("{}", "application/json"),
        ('{"query": 5}', "application/json"),
        ('{"query": "{ shipments { edges { cursor } } }", "variables": []}', "application/json"),
        ("query=x", "text/plain"),
    ],
)
def test_a_bad_request_is_400_problem_json(client, brenner, partner_token, body, content_type):
    response = client.post(
        "/graphql",
        data=body,
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Bearer {partner_token}",
    )
    assert_problem(response, 400)


def test_a_mutation_over_get_or_a_put_is_a_problem(client, brenner, partner_token):
    response = client.put(
        "/graphql",
        data="{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {partner_token}",
    )
    assert_problem(response, 405)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ shipments { nope } }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ shipments(", "GRAPHQL_PARSE_FAILED"),
        ('{ shipment(shipmentId: "a\\u0000") { shipmentId } }', "BAD_USER_INPUT"),
        ('{ changes(after: "x") { next } }', "BAD_USER_INPUT"),
    ],
)
def test_every_field_error_carries_a_code(client, brenner, partner_token, query, code):
    response = graphql_post(client, query, token=partner_token)
    assert response.status_code == 200
    assert error_of(response)["extensions"]["code"] == code
