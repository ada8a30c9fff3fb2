"""A full mirror through REST list pages with `expand=` equals the dataset: a partner that
follows `next` with small pages gets every shipment it may see exactly once, each with
its milestones, ETA history, stops, charges and documents as the read models hold them
for that partner (one call per page, never one per shipment), and nothing else."""

from __future__ import annotations

import pytest
from django.utils.dateparse import parse_datetime

from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from tests.factories import OrderFactory, ShipmentFactory, account, order_to_cash_stories
from visibility.models import (
    Document,
    FreightCharge,
    Shipment,
    ShipmentAccount,
    ShipmentEvent,
    ShipmentStop,
)

pytestmark = pytest.mark.django_db

EVERYTHING = "milestones,eta_history,stops,charges,documents"


@pytest.fixture
def dataset(brenner, nordwind):
    events = order_to_cash_stories(["C-1001", "C-1002", "C-2001"], per_account=9)
    for source in ("erp", "tms"):
        receive_events(source=source, events=[e for e in events if e["source"] == source])
    process_inbox_until_empty()
    # A consolidated shipment: Brenner's and Nordwind's orders on one truck.
    ShipmentFactory(
        shipment_id="SHP-CONSOL",
        orders=[
            OrderFactory(customer_account=account("C-1001")),
            OrderFactory(customer_account=account("C-2001")),
        ],
    )


def mirror(client, token: str) -> tuple[dict[str, dict], int]:
    """Every row of the shipment list by id, following `next`; and the calls it took."""
    rows: dict[str, dict] = {}
    calls, url = 0, f"/api/v1/shipments?page_size=4&expand={EVERYTHING}"
    while url:
        response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")
        calls += 1
        assert response.status_code == 200, response.content
        for row in response.json()["results"]:
            assert row["shipment_id"] not in rows, "a row came twice"
            rows[row["shipment_id"]] = row
        url = response.json()["next"]
    return rows, calls


def charge_is_theirs(charge: FreightCharge, shipment: Shipment, numbers: list[str]) -> bool:
    """docs/ARCHITECTURE.md: a tagged charge is its account's; an untagged one is the
    account's of a shipment with one account, and nobody's on a consolidated shipment."""
    if charge.customer_account is not None:
        return charge.customer_account.number in numbers
    accounts = ShipmentAccount.objects.filter(shipment=shipment)
    return accounts.count() == 1 and accounts.get().customer_account.number in numbers


def expected_for(account_numbers: list[str]) -> dict[str, dict]:
    """The dataset as these accounts see it, read straight from the read models."""
    shipment_ids = ShipmentAccount.objects.filter(
        customer_account__number__in=account_numbers
    ).values("shipment_id")
    expected = {}
    for shipment in Shipment.objects.filter(id__in=shipment_ids):
        history = ShipmentEvent.objects.filter(shipment=shipment).order_by("occurred_at", "id")
        expected[shipment.shipment_id] = {
            "milestones": [
                (fact.milestone, fact.occurred_at)
                for fact in history
                if fact.kind == ShipmentEvent.Kind.MILESTONE
            ],
            "stops": list(
                ShipmentStop.objects.filter(shipment=shipment)
                .order_by("sequence")
                .values_list("sequence", "stop_type")
            ),
            "charges": sorted(
                charge.charge_id
                for charge in FreightCharge.objects.filter(shipment=shipment).select_related(
                    "customer_account"
                )
                if charge_is_theirs(charge, shipment, account_numbers)
            ),
            "documents": sorted(
                Document.objects.filter(shipment=shipment).values_list("document_id", flat=True)
            ),
        }
    return expected


def as_dataset(rows: dict[str, dict]) -> dict[str, dict]:
    return {
        shipment_id: {
            "milestones": [
                (milestone["milestone"], parse_datetime(milestone["occurred_at"]))
                for milestone in row["milestones"]
            ],
            "stops": [(stop["sequence"], stop["stop_type"]) for stop in row["stops"]],
            "charges": sorted(charge["charge_id"] for charge in row["freight_charges"]),
            "documents": sorted(document["document_id"] for document in row["documents"]),
        }
        for shipment_id, row in rows.items()
    }


def test_a_mirror_through_expanded_pages_equals_the_dataset(
    client, dataset, partner_token, other_tenant_token
):
    brenner_rows, brenner_calls = mirror(client, partner_token)
    nordwind_rows, _ = mirror(client, other_tenant_token)

    brenner = expected_for(["C-1001", "C-1002"])
    nordwind = expected_for(["C-2001"])
    assert len(brenner) == 19 and len(nordwind) == 10  # the consolidated one in both
    assert as_dataset(brenner_rows) == brenner
    assert as_dataset(nordwind_rows) == nordwind
    assert brenner_calls == 5  # 19 shipments, 4 a page: one call per page
    # Some of it is really there: each delivered story (one per account) has a POD and a charge.
    assert sum(len(row["documents"]) for row in brenner.values()) == 2
    assert sum(len(row["charges"]) for row in brenner.values()) == 2
    assert any(row["eta_history"] for row in brenner_rows.values())


def test_expanded_rows_equal_each_shipments_detail(client, dataset, partner_token):
    rows, _ = mirror(client, partner_token)

    for shipment_id, row in rows.items():
        detail = client.get(
            f"/api/v1/shipments/{shipment_id}", HTTP_AUTHORIZATION=f"Bearer {partner_token}"
        ).json()
        assert row["milestones"] == detail["milestones"], shipment_id
        assert row["eta_history"] == detail["eta_history"], shipment_id
        assert row["freight_charges"] == detail.get("freight_charges", []), shipment_id
