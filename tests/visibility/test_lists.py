"""Shipment list (filtered, cursor-paginated) and order detail over REST."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from tests.factories import ShipmentFactory, account

pytestmark = pytest.mark.django_db


@pytest.fixture
def many_shipments(brenner, nordwind, delivered_story):
    """12 shipments per account (C-1001, C-1002 of Brenner, C-2001 of Nordwind) at every
    stage from booked to delivered, every fourth reported delayed."""
    progress = ["picked_up", "departed_origin", "arrived_hub", "out_for_delivery", "delivered"]
    for number in ("C-1001", "C-1002", "C-2001"):
        for index in range(12):
            ShipmentFactory(
                shipment_id=f"SHP-{number[2:]}{index:03d}",
                customer_account=account(number),
                milestones=progress[: index % (len(progress) + 1)],
                delayed_by=dt.timedelta(days=2) if index % 4 == 3 else None,
            )


def collect_pages(client, url, headers):
    seen, pages = [], 0
    while url:
        body = client.get(url, **headers).json()
        seen += [row["shipment_id"] for row in body["results"]]
        url, pages = body["next"], pages + 1
    return seen, pages


def test_list_pages_through_only_the_tenants_shipments(client, many_shipments, partner_token):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {partner_token}"}

    seen, pages = collect_pages(client, "/api/v1/shipments?page_size=5", headers)

    assert len(seen) == len(set(seen)) == 25  # 12 + 12 generated + SHP-778120
    assert pages == 5
    assert all(not shipment_id.startswith("SHP-2001") for shipment_id in seen)


def test_list_filters_by_status_and_flags(client, many_shipments, partner_token):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {partner_token}"}

    delivered = client.get("/api/v1/shipments?status=delivered", **headers).json()["results"]
    delayed = client.get("/api/v1/shipments?delayed=true", **headers).json()["results"]

    assert delivered and {row["status"] for row in delivered} == {"delivered"}
    assert "SHP-778120" in {row["shipment_id"] for row in delivered}
    assert delayed and all(row["delayed"] for row in delayed)


def test_list_rejects_a_bad_filter_with_400(client, many_shipments, partner_token):
    response = client.get(
        "/api/v1/shipments?status=teleported", HTTP_AUTHORIZATION=f"Bearer {partner_token}"
    )

    assert response.status_code == 400
    assert "status" in response.json()


@pytest.mark.parametrize("page_size", [5, 25])
def test_list_query_count_does_not_grow_with_page_size(
    client, many_shipments, partner_token, django_assert_max_num_queries, page_size
):
    with django_assert_max_num_queries(6):
        response = client.get(
            f"/api/v1/shipments?page_size={page_size}", HTTP_AUTHORIZATION=f"Bearer {partner_token}"
        )
    assert len(response.json()["results"]) == page_size


def test_order_detail_with_lines_and_shipments(
    client, delivered_story, partner_token, other_tenant_token
):
    mine = client.get("/api/v1/orders/SO-100045", HTTP_AUTHORIZATION=f"Bearer {partner_token}")
    theirs = client.get(
        "/api/v1/orders/SO-100045", HTTP_AUTHORIZATION=f"Bearer {other_tenant_token}"
    )

    assert mine.status_code == 200
    body = mine.json()
    assert body["status"] == "delivered"
    assert [line["sku"] for line in body["lines"]] == ["DRL-18V", "BAT-5AH"]
    assert body["shipments"][0]["shipment_id"] == "SHP-778120"
    assert theirs.status_code == 404


# --- CSV export ---------------------------------------------------------------


def test_csv_export_keeps_the_filters_and_neutralises_formulas(
    client, many_shipments, customer_user
):
    import csv
    import io

    from visibility.models import Shipment

    Shipment.objects.filter(shipment_id="SHP-778120").update(
        carrier_name='=HYPERLINK("http://evil.example")'
    )
    client.force_login(customer_user)

    page = client.get("/shipments/", {"status": "delivered"}).content.decode()
    response = client.get("/shipments/export.csv", {"status": "delivered"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    everything = client.get("/shipments/export.csv")
    all_rows = list(csv.reader(io.StringIO(b"".join(everything.streaming_content).decode())))

    assert 'href="/shipments/export.csv?status=delivered"' in page
    assert response["Content-Type"].startswith("text/csv")
    assert rows and all(row["status"] == "Delivered" for row in rows)
    ours = next(row for row in rows if row["shipment_id"] == "SHP-778120")
    assert ours["carrier"] == '\'=HYPERLINK("http://evil.example")'
    assert ours["orders"] == "SO-100045"
    assert len(all_rows) == 1 + 25  # header + Brenner's shipments only


@pytest.fixture
def shipment_of_two_orders(delivered_story, story):
    """SHP-778121 carries lines of SO-100046 and SO-100045 (listed in that order)."""
    order = copy.deepcopy(next(e for e in story if e["event_type"] == "order.released"))
    order["event_id"], order["data"]["order_number"] = "erp-two-0001", "SO-100046"
    shipment = copy.deepcopy(next(e for e in story if e["event_type"] == "shipment.created"))
    shipment["event_id"], shipment["data"]["shipment_id"] = "tms-two-0001", "SHP-778121"
    shipment["data"]["orders"] = [
        {"order_number": "SO-100046", "line_numbers": [10]},
        {"order_number": "SO-100045", "line_numbers": [20]},
    ]
    receive_events(source="erp", events=[order])
    receive_events(source="tms", events=[shipment])
    process_inbox_until_empty()


def test_a_list_row_shows_the_account_and_every_order_shipped(
    client, shipment_of_two_orders, partner_token, customer_user
):
    body = client.get("/api/v1/shipments", HTTP_AUTHORIZATION=f"Bearer {partner_token}").json()
    row = next(row for row in body["results"] if row["shipment_id"] == "SHP-778121")

    assert set(row) == {
        "shipment_id",
        "customer_account",
        "load_id",
        "status",
        "carrier_scac",
        "carrier_name",
        "mode",
        "tracking_numbers",
        "eta",
        "promised_date",
        "delayed",
        "at_risk",
        "overdue",
        "late_by_hours",
        "late_by",
        "tracking_stale",
        "pod_missing",
        "not_invoiced",
        "flags",
        "last_heard_at",
        "last_heard_source",
        "delivered_at",
        "last_event_at",
        "orders",
    }
    assert row["customer_account"] == "C-1001"
    assert row["orders"] == ["SO-100045", "SO-100046"]
    assert row["carrier_scac"] == "DHLF" and row["tracking_numbers"] == ["JJD0002249381"]

    client.force_login(customer_user)
    page = client.get("/shipments/").content.decode()
    assert "SO-100045, SO-100046" in page
    export = b"".join(client.get("/shipments/export.csv").streaming_content).decode()
    assert "SHP-778121,SO-100045 SO-100046," in export
