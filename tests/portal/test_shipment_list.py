"""The shipment list page: filters, sortable columns, page size, saved views, and the CSV
export that honours exactly the view on screen."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.http import QueryDict
from django.utils import timezone

from tests.factories import (
    DocumentFactory,
    MemberFactory,
    ShipmentFactory,
    account,
)
from visibility.models import (
    ExceptionReason,
    Milestone,
    SavedView,
    Shipment,
    ShipmentException,
    TransportMode,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(brenner, nordwind):
    ShipmentFactory(
        shipment_id="SHP-A1",
        customer_account=account("C-1001"),
        carrier_scac="DHLF",
        carrier_name="DHL Freight",
        mode=TransportMode.LTL,
        destination={"city": "Munich", "country": "DE"},
        milestones=[Milestone.PICKED_UP, Milestone.IN_TRANSIT],
        delayed_by=dt.timedelta(days=2),
    )
    ShipmentFactory(
        shipment_id="SHP-B2",
        customer_account=account("C-1002"),
        carrier_scac="UPSN",
        carrier_name="UPS",
        mode=TransportMode.PARCEL,
        destination={"city": "Vienna", "country": "AT"},
        milestones=[Milestone.PICKED_UP, Milestone.IN_TRANSIT, Milestone.DELIVERED],
    )
    ShipmentFactory(
        shipment_id="SHP-C3",
        customer_account=account("C-1001"),
        carrier_scac="DHLF",
        carrier_name="DHL Freight",
        mode=TransportMode.FTL,
        destination={"city": "Hamburg", "country": "DE"},
    )
    ShipmentFactory(shipment_id="SHP-NW1", customer_account=account("C-2001"), carrier_scac="NWCA")


def listed(client, **params) -> list[str]:
    response = client.get("/shipments/", params)
    assert response.status_code == 200
    return [shipment.shipment_id for shipment in response.context["page"].object_list]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"SHP-A1", "SHP-B2", "SHP-C3"}),
        ({"status": ["in_transit", "delivered"]}, {"SHP-A1", "SHP-B2"}),
        ({"carrier": "dhlf"}, {"SHP-A1", "SHP-C3"}),
        ({"mode": "parcel"}, {"SHP-B2"}),
        ({"destination": "DE"}, {"SHP-A1", "SHP-C3"}),
        ({"destination": "vien"}, {"SHP-B2"}),
        ({"origin": "rotter"}, {"SHP-A1", "SHP-B2", "SHP-C3"}),
        ({"account": "C-1002"}, {"SHP-B2"}),
        ({"account": "C-2001"}, set()),  # another tenant's account opens nothing
        ({"flag": "delayed"}, {"SHP-A1"}),
        ({"flag": "late"}, {"SHP-A1", "SHP-C3"}),  # past the promise, not delivered
        ({"delivered_from": "2000-01-01"}, {"SHP-B2"}),
        ({"promised_to": "2000-01-01"}, set()),
    ],
)
def test_filters(client, customer_user, fleet, params, expected):
    client.force_login(customer_user)

    assert set(listed(client, **params)) == expected


@pytest.mark.parametrize(
    "params",
    [
        {"status": "nonsense"},
        {"eta_from": "2026-13-45"},
        {"sort": "password"},
        {"page_size": "100000"},
        {"flag": "<script>"},
        {"account": "x" * 500},
        {"page": "-1"},
    ],
)
def test_bad_values_are_ignored_never_an_error(client, customer_user, fleet, params):
    client.force_login(customer_user)

    response = client.get("/shipments/", params)

    assert response.status_code == 200
    assert "SHP-NW1" not in response.content.decode()


def test_columns_sort_both_ways_and_say_so(client, customer_user, fleet):
    client.force_login(customer_user)

    ascending = client.get("/shipments/", {"sort": "shipment"})
    descending = listed(client, sort="-shipment")

    ids = [s.shipment_id for s in ascending.context["page"].object_list]
    assert ids == ["SHP-A1", "SHP-B2", "SHP-C3"]
    assert descending == ["SHP-C3", "SHP-B2", "SHP-A1"]
    body = ascending.content.decode()
    assert 'aria-sort="ascending"' in body and "sort=-shipment" in body


def test_page_size(client, customer_user, fleet):
    client.force_login(customer_user)

    response = client.get("/shipments/", {"page_size": "25"})

    assert response.context["page"].paginator.per_page == 25


def test_export_honours_exactly_the_view(client, customer_user, fleet):
    client.force_login(customer_user)

    response = client.get("/shipments/export.csv", {"carrier": "DHLF", "sort": "-shipment"})

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row[0] for row in rows[1:]] == ["SHP-C3", "SHP-A1"]


def test_saved_view_shared_within_the_tenant_only(client, customer_user, fleet, other_tenant_user):
    client.force_login(customer_user)
    response = client.post(
        "/shipments/views/",
        {"name": "DHL to Germany", "query_string": "carrier=DHLF&destination=DE", "shared": "on"},
    )
    assert response.status_code == 302
    colleague = MemberFactory(username="colleague", tenant=customer_user.membership.tenant)

    client.force_login(colleague)
    page = client.get("/shipments/").content.decode()
    client.force_login(other_tenant_user)
    outsider = client.get("/shipments/").content.decode()

    assert "DHL to Germany" in page and "carrier=DHLF&amp;destination=DE" in page
    assert "DHL to Germany" not in outsider


def test_only_the_owner_deletes_a_view(client, customer_user, fleet, other_tenant_user):
    client.force_login(customer_user)
    client.post("/shipments/views/", {"name": "Mine", "query_string": "mode=ltl", "shared": "on"})
    view = SavedView.objects.get(name="Mine")
    colleague = MemberFactory(username="colleague", tenant=customer_user.membership.tenant)

    for intruder in (colleague, other_tenant_user):
        client.force_login(intruder)
        assert client.post("/shipments/views/delete", {"id": view.id}).status_code == 404
    client.force_login(customer_user)
    assert client.post("/shipments/views/delete", {"id": "not-a-number"}).status_code == 404
    assert client.post("/shipments/views/delete", {"id": view.id}).status_code == 302

    assert not SavedView.objects.filter(id=view.id).exists()


def test_the_default_view_opens_first_and_view_all_skips_it(client, customer_user, fleet):
    client.force_login(customer_user)
    client.post(
        "/shipments/views/",
        {"name": "Parcels", "query_string": "mode=parcel", "make_default": "on"},
    )
    client.post(
        "/shipments/views/", {"name": "Trucks", "query_string": "mode=ftl", "make_default": "on"}
    )

    opened = client.get("/shipments/")

    assert opened.status_code == 302 and opened["Location"] == "/shipments/?mode=ftl"
    assert SavedView.objects.filter(owner=customer_user, is_default=True).count() == 1
    assert len(listed(client, view="all")) == 3


def test_a_view_without_a_name_is_refused_with_a_message(client, customer_user, fleet):
    client.force_login(customer_user)

    response = client.post(
        "/shipments/views/", {"name": "", "query_string": "mode=ftl"}, follow=True
    )

    assert response.status_code == 200
    assert "was not saved" in response.content.decode()
    assert not SavedView.objects.exists()


def test_day_filters_are_the_users_days(client, customer_user, fleet):
    """An ETA at 00:30 in Tokyo on 3 March is on 2 March in UTC: the page's days are the
    user's (the filter reaches the selector as instants at the day's bounds there)."""
    client.force_login(customer_user)
    client.post("/profile/time-zone", {"time_zone": "Asia/Tokyo"})
    Shipment.objects.filter(shipment_id="SHP-A1").update(
        eta=dt.datetime(2026, 3, 2, 15, 30, tzinfo=dt.UTC)
    )

    assert listed(client, eta_from="2026-03-03", eta_to="2026-03-03") == ["SHP-A1"]
    assert listed(client, eta_to="2026-03-02") == []


def test_open_exception_and_documents_flags(client, customer_user, fleet):
    client.force_login(customer_user)
    shipment = Shipment.objects.get(shipment_id="SHP-C3")
    DocumentFactory(shipment=shipment, customer_account=shipment.customer_account)
    ShipmentException.objects.update(status=ShipmentException.Status.RESOLVED)
    ShipmentException.objects.create(
        shipment=shipment,
        reason=ExceptionReason.DAMAGED,
        opened_by=ShipmentException.OpenedBy.MILESTONE,
        opened_at=timezone.now(),
    )

    assert listed(client, flag="exception") == ["SHP-C3"]
    assert listed(client, documents_from="2000-01-01") == ["SHP-C3"]


def test_a_view_saved_with_the_pages_keys_filters_like_the_api(
    client, customer_user, fleet, partner_token
):
    """Saved views and bookmarks keep the page's keys; the page translates them into the
    API's filters, so both lists agree."""
    client.force_login(customer_user)
    client.post(
        "/shipments/views/",
        {"name": "DHL to Germany", "query_string": "carrier=DHLF&destination=de&flag=late"},
    )
    query_string = SavedView.objects.get(name="DHL to Germany").query_string

    page = listed(client, **dict(QueryDict(query_string).items()))
    api = client.get(
        "/api/v1/shipments",
        {"carrier_scac": "DHLF", "destination": "de", "late": "true"},
        HTTP_AUTHORIZATION=f"Bearer {partner_token}",
    ).json()["results"]

    assert sorted(page) == sorted(row["shipment_id"] for row in api) == ["SHP-A1", "SHP-C3"]


def test_the_carrier_filter_offers_the_carriers_of_the_users_accounts_only(
    client, customer_user, limited_member, fleet
):
    from tests.factories import derive
    from visibility.models import Shipment

    client.force_login(customer_user)
    offered = client.get("/shipments/").context["choices"].carriers
    # One option per carrier; Nordwind's carrier is not Brenner's to see.
    assert offered == [("DHLF", "DHL Freight"), ("UPSN", "UPS")]

    client.force_login(limited_member)  # C-1002 only
    assert client.get("/shipments/").context["choices"].carriers == [("UPSN", "UPS")]

    # A carrier change reaches the choices through derivation, like every list key.
    Shipment.objects.filter(shipment_id="SHP-B2").update(carrier_scac="GLSD", carrier_name="GLS")
    derive(shipments=list(Shipment.objects.filter(shipment_id="SHP-B2")))
    assert client.get("/shipments/").context["choices"].carriers == [("GLSD", "GLS")]
