"""An actor limited to one account reads the shipment list through that account's
`ShipmentAccount` rows, ordered by the copy of the shipment's `last_event_at` they carry
(docs/BENCHMARKS.md): derivation keeps the copies equal, and the list stays newest first,
one row per shipment, filtered and paged as for any other actor."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.services import api_token_create
from tests.factories import (
    HistoryFactFactory,
    MemberFactory,
    OrderFactory,
    ShipmentFactory,
    account,
)
from visibility import selectors
from visibility.models import Milestone, Shipment, ShipmentAccount

pytestmark = pytest.mark.django_db


def _consolidated(shipment_id: str) -> Shipment:
    """A shipment of C-1001 also carrying an order of C-1002."""
    return ShipmentFactory(
        shipment_id=shipment_id,
        customer_account=account("C-1001"),
        orders=[
            OrderFactory(customer_account=account("C-1001")),
            OrderFactory(customer_account=account("C-1002")),
        ],
    )


def _list_keys(shipment: Shipment) -> set:
    return set(
        ShipmentAccount.objects.filter(shipment=shipment).values_list("last_event_at", flat=True)
    )


def test_derivation_gives_every_account_row_the_shipments_last_activity(brenner):
    shipment = _consolidated("SHP-TWO-ACCOUNTS")
    shipment.refresh_from_db()
    assert shipment.last_event_at is not None
    assert _list_keys(shipment) == {shipment.last_event_at}

    HistoryFactFactory(
        shipment=shipment,
        occurred_at=shipment.last_event_at + timedelta(days=2),
        milestone=Milestone.DELIVERED,
    )

    shipment.refresh_from_db()
    assert _list_keys(shipment) == {shipment.last_event_at}
    assert ShipmentAccount.objects.filter(shipment=shipment).count() == 2


@pytest.fixture
def c1002_shipments(brenner) -> list[Shipment]:
    """Five shipments of C-1002 and one consolidated with C-1001, a day apart; newest
    first. Shipments of C-1001 alone are in between, and must never show."""
    made = []
    for day in range(6):
        shipment = (
            _consolidated(f"SHP-SHARED-{day}")
            if day == 3
            else ShipmentFactory(shipment_id=f"SHP-C1002-{day}", customer_account=account("C-1002"))
        )
        ShipmentFactory(shipment_id=f"SHP-C1001-{day}", customer_account=account("C-1001"))
        HistoryFactFactory(
            shipment=shipment, occurred_at=shipment.planned_pickup_at + timedelta(days=day + 1)
        )
        made.append(shipment)
    return made[::-1]


def test_a_one_account_member_lists_its_shipments_newest_first_once_each(brenner, c1002_shipments):
    member = MemberFactory(username="c1002-only", tenant=brenner, account_numbers=["C-1002"])

    rows = list(selectors.shipment_list(member))

    assert [row.shipment_id for row in rows] == [s.shipment_id for s in c1002_shipments]
    shared = next(row for row in rows if row.shipment_id == "SHP-SHARED-3")
    assert shared.account_number == "C-1002"
    assert len(shared.order_numbers) == 1  # its C-1002 order only
    assert all(row.listed_at == row.last_event_at for row in rows)


def test_a_one_account_member_filters_by_server_time_and_status(brenner, c1002_shipments):
    """`updated_since` is when the portal changed a row (server time, the change feed's
    rule), not its business time; the one-account path filters as the others do."""
    member = MemberFactory(username="c1002-only", tenant=brenner, account_numbers=["C-1002"])
    since = timezone.now()
    Shipment.objects.filter(id=c1002_shipments[0].id).update(status="delivered")
    Shipment.objects.filter(id=c1002_shipments[3].id).update(delayed=True)

    recent = selectors.shipment_list(member, updated_since=since)
    delivered = selectors.shipment_list(member, statuses=["delivered"])

    assert [row.shipment_id for row in recent] == [
        c1002_shipments[0].shipment_id,
        c1002_shipments[3].shipment_id,
    ]
    assert [row.shipment_id for row in delivered] == [c1002_shipments[0].shipment_id]


def test_rest_pages_a_one_account_tokens_list_without_gaps_or_repeats(
    client: Client, brenner, c1002_shipments
):
    token = api_token_create(tenant=brenner, name="c1002", account_numbers=["C-1002"])[1]
    seen, url = [], "/api/v1/shipments?page_size=4"
    while url:
        body = client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}").json()
        seen += [row["shipment_id"] for row in body["results"]]
        url = body["next"]

    assert seen == [s.shipment_id for s in c1002_shipments]
