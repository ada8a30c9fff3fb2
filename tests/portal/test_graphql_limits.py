"""GraphQL limits: tokens, aliases, depth and cost are refused before anything executes,
an ordinary query still works, and a query's cost is charged to the token's rate budget."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from graphql import get_introspection_query, parse

from portal.graphql.limits import MAX_ALIASES, MAX_COST, query_cost
from portal.graphql.schema import schema
from tests.helpers import connection_nodes

pytestmark = pytest.mark.django_db

EXPENSIVE_SHIPMENTS = (
    "shipments(first: 200) { edges { node { shipmentId milestones { milestone } "
    "orders { orderNumber } } } }"
)


@pytest.fixture(autouse=True)
def clean_counters():
    cache.clear()  # the rate counters live in the cache's Redis database
    yield
    cache.clear()


def post(client, token: str, query: str, variables: dict | None = None):
    return client.post(
        "/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def auth_queries(client, token: str) -> int:
    """What authenticating a token costs: a parse error never reaches anything else."""
    with CaptureQueriesContext(connection) as queries:
        post(client, token, "{")
    return len(queries)


def test_the_500_alias_query_is_refused_before_any_resolver_runs(
    client, delivered_story, partner_token, django_assert_max_num_queries
):
    query = "{ " + " ".join(f"a{n}: {EXPENSIVE_SHIPMENTS}" for n in range(500)) + " }"
    allowed = auth_queries(client, partner_token)

    with django_assert_max_num_queries(allowed):
        response = post(client, partner_token, query)

    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert "more than 2000 tokens" in error["message"]


def test_too_many_aliases_are_refused_before_any_resolver_runs(
    client, delivered_story, partner_token, django_assert_max_num_queries
):
    query = (
        "{ " + " ".join(f'a{n}: shipment(shipmentId: "S") {{ status }}' for n in range(16)) + " }"
    )
    allowed = auth_queries(client, partner_token)

    with django_assert_max_num_queries(allowed):
        body = post(client, partner_token, query).json()

    assert body["data"] is None
    assert [error["message"] for error in body["errors"]] == [
        f"16 aliases found. Allowed: {MAX_ALIASES}"
    ]


def test_a_deep_query_is_refused(client, delivered_story, partner_token):
    nested = "a { " * 12 + "b" + " }" * 12
    body = post(
        client, partner_token, f"{{ shipments {{ edges {{ node {{ {nested} }} }} }} }}"
    ).json()

    assert body["data"] is None
    assert any(
        "exceeds maximum operation depth of 10" in error["message"] for error in body["errors"]
    )


def test_a_costly_query_is_refused_before_any_resolver_runs(
    client, delivered_story, partner_token, django_assert_max_num_queries
):
    query = (
        "{ orders(first: 200) { edges { node { orderNumber shipments { "
        "milestones { milestone } orders { orderNumber } } } } } }"
    )
    allowed = auth_queries(client, partner_token)

    with django_assert_max_num_queries(allowed):
        body = post(client, partner_token, query).json()

    assert body["data"] is None
    [error] = body["errors"]
    assert error["message"].startswith(f"Query cost 42200 exceeds the maximum of {MAX_COST}")
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"


def test_a_variable_page_size_counts_at_its_value(client, delivered_story, partner_token):
    query = (
        "query($n: Int!) { orders(first: $n) { edges { node { shipments { "
        "milestones { milestone } orders { orderNumber } } } } } }"
    )

    refused = post(client, partner_token, query, {"n": 200}).json()
    answered = post(client, partner_token, query, {"n": 5}).json()

    assert refused["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert "errors" not in answered
    [order] = connection_nodes(answered["data"]["orders"])
    assert order["shipments"][0]["orders"] == [{"orderNumber": "SO-100045"}]


def test_an_ordinary_query_still_works(client, delivered_story, partner_token):
    body = post(
        client,
        partner_token,
        "{ shipments(first: 10) { edges { node { shipmentId status "
        "milestones { milestone } orders { orderNumber } } } } }",
    ).json()

    assert "errors" not in body
    [shipment] = connection_nodes(body["data"]["shipments"])
    assert shipment["shipmentId"] == "SHP-778120"
    assert shipment["orders"] == [{"orderNumber": "SO-100045"}]


def test_introspection_is_not_limited_by_depth_or_cost(client, delivered_story, partner_token):
    body = post(client, partner_token, get_introspection_query()).json()

    assert "errors" not in body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


def test_cost_is_charged_to_the_tokens_rate_budget(
    client, delivered_story, partner_token, settings
):
    settings.API_TOKEN_RATE = "100/min"
    query = "{ " + EXPENSIVE_SHIPMENTS + " }"  # cost 4,200: 42 units

    answers = [post(client, partner_token, query) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert "errors" not in answers[0].json()
    refused = answers[2]
    assert 1 <= int(refused["Retry-After"]) <= 60
    [error] = refused.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert refused.json()["data"] is None
    # cheap queries cost one unit each, and the budget is spent for this minute
    cheap = "{ shipments(first: 1) { edges { node { status } } } }"
    assert post(client, partner_token, cheap).status_code == 429


def test_cheap_queries_cost_one_unit(client, delivered_story, partner_token, settings):
    settings.API_TOKEN_RATE = "5/min"
    cheap = "{ shipments(first: 50) { edges { node { shipmentId status } } } }"  # cost 50

    statuses = [post(client, partner_token, cheap).status_code for _ in range(6)]

    assert statuses == [200, 200, 200, 200, 200, 429]


@pytest.mark.parametrize(
    ("query", "cost"),
    [
        ("{ shipments { edges { node { status } } pageInfo { hasNextPage } } }", 50),
        ('{ shipment(shipmentId: "S") { milestones { milestone } } }', 1 + 10),
        ("{ " + EXPENSIVE_SHIPMENTS + " }", 200 + 2000 + 2000),
        (
            "{ ...F } fragment F on Query "
            "{ orders(first: 3) { edges { node { shipments { status } } } } }",
            3 + 30,
        ),
        ("{ shipments(first: 100000) { edges { node { status } } } }", 200),
    ],
)
def test_the_cost_rule(query, cost):
    assert query_cost(schema._schema, parse(query).definitions) == cost
