"""`GET /api/v1/changes` and `updated_since`: what a partner syncing incrementally relies on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from integration.services.processing import process_inbox_until_empty
from tests.factories import (
    ApiTokenFactory,
    InvoiceFactory,
    MilestoneEventFactory,
    ShipmentFactory,
    stamp,
)
from tests.helpers import post_events
from visibility.models import Shipment, VisibilityChange
from visibility.tasks import stamp_change_positions

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def partner(brenner) -> dict:
    token = ApiTokenFactory(tenant=brenner, scopes=["shipments", "documents", "invoices"])
    return {"HTTP_AUTHORIZATION": f"Bearer {token.secret}"}


def feed(client: Client, partner: dict, query: str = "") -> dict:
    response = client.get(f"/api/v1/changes{query}", **partner)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?after=abc", "after"),
        ("?after=-1", "after"),
        ("?after=99999999999999999999", "after"),
        ("?after=1.5", "after"),
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?limit=x", "limit"),
    ],
)
def test_a_bad_cursor_or_limit_is_a_400_naming_it(client, partner, query, field):
    response = client.get(f"/api/v1/changes{query}", **partner)
    assert response.status_code == 400
    assert field in [error["parameter"] for error in response.json()["errors"]]


def test_the_feed_needs_a_token_or_a_session(client):
    assert client.get("/api/v1/changes").status_code in {401, 403}


def test_changes_of_one_object_in_a_page_come_once_at_the_latest_position(client, partner, brenner):
    shipment = ShipmentFactory(customer_account=brenner.accounts.get(number="C-1001"))
    caught_up = feed(client, partner, "?after=now")["next"]
    for _ in range(3):
        Shipment.objects.filter(id=shipment.id).update(eta=timezone.now())
    page = feed(client, partner, f"?after={caught_up}")
    shipments = [change for change in page["changes"] if change["kind"] == "shipment"]
    assert [change["id"] for change in shipments] == [shipment.shipment_id]
    assert shipments[0]["position"] == page["next"]
    assert shipments[0]["object"]["shipment_id"] == shipment.shipment_id
    assert feed(client, partner, f"?after={page['next']}") == {
        "changes": [],
        "next": page["next"],
    }


def test_a_deleted_object_is_a_deleted_tombstone(client, partner, brenner):
    invoice = InvoiceFactory(customer_account=brenner.accounts.get(number="C-1001"))
    start = feed(client, partner, "?after=now")["next"]
    invoice.delete()
    page = feed(client, partner, f"?after={start}")
    assert {"kind": "invoice", "id": invoice.invoice_number} in [
        {"kind": change["kind"], "id": change["id"]} for change in page["changes"]
    ]
    tombstone = next(c for c in page["changes"] if c["id"] == invoice.invoice_number)
    assert tombstone["object"] == {"deleted": True}


def test_another_tenants_changes_are_not_in_the_feed(client, partner, nordwind):
    start = feed(client, partner, "?after=now")["next"]
    ShipmentFactory(customer_account=nordwind.accounts.get())
    assert feed(client, partner, f"?after={start}")["changes"] == []


def test_updated_since_is_server_time_an_event_dated_in_the_future_hides_nothing(
    client, partner, brenner, source_tokens
):
    """A scan dated tomorrow used to push the shipment's activity time ahead, and a
    later change (before tomorrow) was then invisible to `updated_since`."""
    account = brenner.accounts.get(number="C-1001")
    future, later = (ShipmentFactory(customer_account=account) for _ in range(2))
    tomorrow = timezone.now() + timedelta(days=1)
    response = post_events(
        client,
        source_tokens["tms"],
        MilestoneEventFactory(
            occurred_at=stamp(tomorrow), shipment_id=future.shipment_id, milestone="picked_up"
        ),
    )
    assert response.status_code == 202, response.content
    process_inbox_until_empty()
    since = timezone.now()
    Shipment.objects.filter(id=later.id).update(carrier_name="Corrected")

    response = client.get("/api/v1/shipments", {"updated_since": since.isoformat()}, **partner)
    assert [row["shipment_id"] for row in response.json()["results"]] == [later.shipment_id]


def test_invoices_accept_updated_since(client, partner, brenner):
    account = brenner.accounts.get(number="C-1001")
    old, paid = (InvoiceFactory(customer_account=account) for _ in range(2))
    since = timezone.now()
    paid.paid_at = timezone.now()
    paid.save()
    response = client.get("/api/v1/invoices", {"updated_since": since.isoformat()}, **partner)
    assert [row["invoice_number"] for row in response.json()["results"]] == [paid.invoice_number]
    assert old.invoice_number != paid.invoice_number


def graphql(client: Client, partner: dict, query: str) -> dict:
    response = client.post(
        "/graphql", data={"query": query}, content_type="application/json", **partner
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_graphql_changes_answers_as_the_rest_feed(client, partner, brenner):
    start = feed(client, partner, "?after=now")["next"]
    shipment = ShipmentFactory(customer_account=brenner.accounts.get(number="C-1001"))
    rest = feed(client, partner, f"?after={start}")
    answer = graphql(
        client,
        partner,
        f'{{ changes(after: "{start}", first: 100) {{ changes {{ kind id '
        "position object } next } }",
    )["data"]["changes"]
    assert answer["next"] == str(rest["next"])
    assert [
        {**change, "position": int(change["position"])} for change in answer["changes"]
    ] == rest["changes"]
    assert ("shipment", shipment.shipment_id) in [(c["kind"], c["id"]) for c in rest["changes"]]


@pytest.mark.parametrize(
    ("arguments", "name"),
    [('after: "x"', "after"), ("first: 0", "first"), ("first: 5000", "first")],
)
def test_graphql_changes_names_a_bad_argument(client, partner, arguments, name):
    answer = graphql(client, partner, f"{{ changes({arguments}) {{ next }} }}")
    assert answer["errors"][0]["message"].startswith(f"{name}:")


def test_beat_numbers_committed_changes_without_a_reader(brenner):
    ShipmentFactory(customer_account=brenner.accounts.get(number="C-1001"))
    assert VisibilityChange.objects.filter(position__isnull=True).exists()
    assert stamp_change_positions() > 0
    assert not VisibilityChange.objects.filter(position__isnull=True).exists()
