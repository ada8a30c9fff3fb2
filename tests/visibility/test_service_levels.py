"""Business SLAs: open and breaching items per tenant and per source, the operations page's
alert and the `/metrics` gauges (docs/OPERATIONS.md, "Business SLAs")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import OrderFactory, ShipmentFactory, account, derive
from tests.helpers import sign_in_verified
from visibility.models import Order, Shipment, ShipmentException, ShipmentStatus
from visibility.service_levels import service_levels

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-0123456789"


def booked_order(account_number: str, *, released_ago: timedelta, source: str) -> Order:
    order = OrderFactory(customer_account=account(account_number), released_by=source)
    Order.objects.filter(id=order.id).update(
        status=ShipmentStatus.BOOKED, snapshot_occurred_at=timezone.now() - released_ago
    )
    return order


def shipment(account_number: str, source: str = "carrier", **fields) -> Shipment:
    made = ShipmentFactory(customer_account=account(account_number))
    Shipment.objects.filter(id=made.id).update(last_heard_source=source, **fields)
    return made


@pytest.fixture
def operations(brenner, nordwind):
    """One item breaching each SLA at Brenner, one open within its SLA at Nordwind."""
    now = timezone.now()
    booked_order("C-1001", released_ago=timedelta(hours=72), source="erp")
    booked_order("C-2001", released_ago=timedelta(hours=1), source="erp")
    shipment("C-1001", status=ShipmentStatus.IN_TRANSIT, last_event_at=now - timedelta(hours=30))
    shipment("C-2001", "tms", status=ShipmentStatus.OUT_FOR_DELIVERY, last_event_at=now)
    shipment(
        "C-2001",
        status=ShipmentStatus.DELIVERED,
        not_invoiced=True,
        delivered_at=now - timedelta(days=8),
    )
    shipment(
        "C-1002",
        status=ShipmentStatus.DELIVERED,
        not_invoiced=True,
        delivered_at=now - timedelta(days=4),
    )
    exceptional = [shipment("C-1001", status=ShipmentStatus.EXCEPTION) for _ in range(2)]
    # Deriving the factories' shipments (planned in the past) opened exceptions: not these.
    ShipmentException.objects.all().delete()
    for made, opened_ago, status in [
        (exceptional[0], timedelta(hours=50), ShipmentException.Status.OPEN),
        (exceptional[1], timedelta(hours=80), ShipmentException.Status.RESOLVED),
    ]:
        ShipmentException.objects.create(
            shipment=made,
            customer_account_id=made.customer_account_id,
            source="carrier",
            reason="weather",
            opened_by="milestone",
            status=status,
            opened_at=now - opened_ago,
        )


def by_key(levels: list[dict]) -> dict[str, dict]:
    return {level["key"]: level for level in levels}


def test_each_sla_counts_open_and_breaching_items_per_tenant_and_source(operations):
    levels = by_key(service_levels())

    orders = levels["order_to_shipment"]
    assert (orders["open"], orders["breaching"], orders["alert"]) == (2, 1, True)
    assert orders["oldest_age_seconds"] == pytest.approx(72 * 3600, abs=60)
    assert [
        (row["name"], row["open"], row["breaching"], row["alert"]) for row in orders["by_tenant"]
    ] == [("brenner", 1, 1, True), ("nordwind", 1, 0, False)]
    assert [(row["name"], row["breaching"]) for row in orders["by_source"]] == [("erp", 1)]

    freshness = levels["milestone_freshness"]
    assert (freshness["open"], freshness["breaching"]) == (2, 1)
    assert {row["name"]: row["breaching"] for row in freshness["by_source"]} == {
        "carrier": 1,
        "tms": 0,
    }

    exceptions = levels["exception_aging"]  # the resolved one is not open
    assert (exceptions["open"], exceptions["breaching"]) == (1, 1)
    assert exceptions["by_tenant"][0]["title"] == "Brenner Tools"

    not_invoiced = levels["delivered_not_invoiced"]  # 8 days breaches 7, 4 days does not
    assert (not_invoiced["open"], not_invoiced["breaching"]) == (2, 1)
    assert {row["name"]: row["alert"] for row in not_invoiced["by_tenant"]} == {
        "nordwind": True,
        "brenner": False,
    }


def test_an_exception_opened_by_derivation_carries_its_shipments_account_and_source(brenner):
    made = ShipmentFactory(customer_account=account("C-1002"))
    Shipment.objects.filter(id=made.id).update(last_heard_source="tms")
    ShipmentException.objects.filter(shipment=made).delete()
    Shipment.objects.filter(id=made.id).update(status=ShipmentStatus.IN_TRANSIT)
    made.refresh_from_db()

    derive(shipments=[made])  # planned in the past: the clock opens exceptions

    opened = ShipmentException.objects.filter(shipment=made)
    assert opened.exists()
    assert set(opened.values_list("customer_account_id", "source")) == {
        (account("C-1002").id, "tms")
    }


def test_thresholds_come_from_the_settings(operations, settings):
    settings.SLA_ORDER_TO_SHIPMENT_HOURS = 100
    settings.SLA_DELIVERED_NOT_INVOICED_DAYS = 2

    levels = by_key(service_levels())

    assert levels["order_to_shipment"]["breaching"] == 0
    assert levels["order_to_shipment"]["alert"] is False
    assert levels["order_to_shipment"]["threshold_seconds"] == 100 * 3600
    assert levels["delivered_not_invoiced"]["breaching"] == 2


def test_the_operations_page_raises_a_visible_alert_for_a_breach(client, cs_staff, operations):
    sign_in_verified(client, cs_staff)

    page = client.get("/operations/integration/").content.decode()

    alert = page[page.index('data-testid="sla-alerts"') :]
    alert = alert[: alert.index("</div>")]
    assert 'role="alert"' in page
    assert (
        "Order to shipment</strong>: 1 of 2 orders waiting for a shipment older than 2 days"
        in alert
    )
    assert "Brenner Tools" in alert
    assert "Delivered, not invoiced</strong>: 1 of 2" in alert
    assert "Nordwind Retail" in alert


def test_no_alert_when_every_item_is_within_its_sla(client, cs_staff, brenner):
    booked_order("C-1001", released_ago=timedelta(hours=1), source="erp")
    sign_in_verified(client, cs_staff)

    page = client.get("/operations/integration/").content.decode()

    assert 'data-testid="sla-alerts"' not in page
    assert "Order to shipment" in page  # the table still shows the SLA


def test_metrics_report_sla_gauges_per_tenant_and_source(client, settings, operations):
    settings.METRICS_TOKEN = TOKEN

    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()

    assert 'portal_sla_alert{sla="order_to_shipment",tenant="brenner"} 1.0' in text
    assert 'portal_sla_alert{sla="order_to_shipment",tenant="nordwind"} 0.0' in text
    assert 'portal_sla_breaching{sla="exception_aging",tenant="brenner"} 1.0' in text
    assert 'portal_sla_open{sla="milestone_freshness",tenant="nordwind"} 1.0' in text
    assert 'portal_sla_source_breaching{sla="milestone_freshness",source="carrier"} 1.0' in text
    assert 'portal_sla_source_alert{sla="milestone_freshness",source="tms"} 0.0' in text
    assert 'portal_sla_threshold_seconds{sla="delivered_not_invoiced"} 604800.0' in text


def test_tenants_past_the_metrics_limit_are_added_up_as_other(client, settings, operations):
    settings.METRICS_TOKEN = TOKEN
    settings.SLA_METRICS_MAX_TENANTS = 1

    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()

    # Per SLA, the worst tenant keeps its series and the others are added up as "other".
    assert 'portal_sla_open{sla="order_to_shipment",tenant="brenner"} 1.0' in text
    assert 'portal_sla_open{sla="order_to_shipment",tenant="other"} 1.0' in text
    assert 'portal_sla_open{sla="order_to_shipment",tenant="nordwind"}' not in text
    assert 'portal_sla_open{sla="delivered_not_invoiced",tenant="nordwind"} 1.0' in text
    assert 'portal_sla_open{sla="delivered_not_invoiced",tenant="other"} 1.0' in text
