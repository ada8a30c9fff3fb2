"""The customer dashboard at `/`: tiles that open the filtered list, on-time figures,
volumes and the exceptions that need attention, only ever of the user's own tenant."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.factories import ShipmentFactory, account
from visibility.models import Milestone

pytestmark = pytest.mark.django_db

DELIVERED = [Milestone.PICKED_UP, Milestone.IN_TRANSIT, Milestone.DELIVERED]


def shipment(number: str, shipment_id: str, *, days_ago: float, milestones=(), **extra):
    pickup = timezone.now() - dt.timedelta(days=days_ago)
    return ShipmentFactory(
        shipment_id=shipment_id,
        customer_account=account(number),
        planned_pickup_at=pickup,
        planned_delivery_at=pickup + dt.timedelta(days=2),
        milestones=list(milestones),
        **extra,
    )


@pytest.fixture
def fleet(brenner, nordwind):
    """Brenner: one delivered on time, one delivered late, one moving and late, one
    booked. Nordwind: two moving (must never be counted for Brenner)."""
    on_time = shipment("C-1001", "SHP-ONTIME", days_ago=3, milestones=DELIVERED)
    late = shipment("C-1002", "SHP-LATEDEL", days_ago=3, milestones=DELIVERED)
    moving_late = shipment(
        "C-1001",
        "SHP-MOVLATE",
        days_ago=1,
        milestones=[Milestone.PICKED_UP, Milestone.IN_TRANSIT],
        delayed_by=dt.timedelta(days=3),
    )
    shipment("C-1001", "SHP-BOOKED", days_ago=-2)
    for index in range(2):
        shipment("C-2001", f"SHP-NW{index}", days_ago=1, milestones=[Milestone.PICKED_UP])
    return {"on_time": on_time, "late": late, "moving_late": moving_late}


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/")

    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_dashboard_counts_only_the_users_tenant(client, customer_user, fleet):
    client.force_login(customer_user)

    response = client.get("/")

    assert response.status_code == 200
    tiles = {label: count for label, count, _url, _alert in response.context["tile_links"]}
    assert tiles["In transit"] == 1  # SHP-MOVLATE; Nordwind's two are not counted
    assert tiles["Delivered, last 7 days"] == 2
    body = response.content.decode()
    assert "SHP-NW0" not in body and "SHP-NW1" not in body


def test_each_tile_opens_the_list_filtered_to_what_it_counts(client, customer_user, fleet):
    client.force_login(customer_user)
    tiles = client.get("/").context["tile_links"]

    for label, count, url, _alert in tiles:
        listed = client.get(url).context["page"].paginator.count
        assert listed == count, f"{label}: tile says {count}, its list shows {listed} ({url})"


def test_other_tenant_sees_its_own_figures(client, other_tenant_user, fleet):
    client.force_login(other_tenant_user)

    tiles = {label: count for label, count, *_ in client.get("/").context["tile_links"]}

    assert tiles["In transit"] == 2
    assert tiles["Delivered, last 7 days"] == 0


def test_charts_have_text_and_a_table_alternative(client, customer_user, fleet):
    client.force_login(customer_user)

    body = client.get("/").content.decode()

    assert body.count('<svg class="chart"') == 2
    assert "<title" in body  # each chart is named for screen readers
    assert "On-time delivery as a table" in body and "Volumes as a table" in body


def test_dashboard_costs_a_fixed_number_of_queries(
    client, customer_user, fleet, django_assert_num_queries
):
    client.force_login(customer_user)
    client.get("/")  # warm the session

    # session, user, staff profile, membership, accounts (x3: shipments, documents,
    # exceptions), tiles, new documents, weekly on-time, by carrier, by lane, volumes,
    # the exceptions needing attention and their notes, the invoices menu
    with django_assert_num_queries(16):
        response = client.get("/")
    assert response.status_code == 200
