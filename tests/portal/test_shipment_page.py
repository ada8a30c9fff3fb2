"""The shipment page as a timeline: stops planned against actual, the slip in words, the
reason of a delay in words with the customer-visible notes, freshness, documents, charges
only with the finance grant, a route sketch, and times in the user's time zone."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.services import user_create
from accounts.services.preferences import user_time_zone_set
from tests.factories import (
    PASSWORD,
    DocumentFactory,
    FreightChargeFactory,
    ShipmentFactory,
    account,
)
from visibility.models import ExceptionNote, Milestone, ShipmentException

pytestmark = pytest.mark.django_db


@pytest.fixture
def late_shipment(brenner):
    shipment = ShipmentFactory(
        shipment_id="SHP-LATE1",
        customer_account=account("C-1001"),
        milestones=[Milestone.PICKED_UP, Milestone.IN_TRANSIT],
        delayed_by=dt.timedelta(days=2),
    )
    record = ShipmentException.objects.filter(shipment=shipment, reason="weather").get()
    for text, visible in (("Roads closed near Kassel", True), ("carrier rep grumpy", False)):
        ExceptionNote.objects.create(
            exception=record, text=text, visible_to_customer=visible, created_at=timezone.now()
        )
    DocumentFactory(shipment=shipment, document_id="DOC-BOL-1")
    FreightChargeFactory(shipment=shipment, amount="18950.00")
    return shipment


def test_the_reason_in_words_and_the_slip(client, customer_user, late_shipment):
    client.force_login(customer_user)

    body = client.get("/shipments/SHP-LATE1/").content.decode()

    assert "Why it is late" in body
    assert "Weather" in body and "[AO]" not in body  # the reason, never the raw code
    assert "Roads closed near Kassel" in body  # the customer-visible note...
    assert "carrier rep grumpy" not in body  # ...never an internal one
    assert "late against the promise" in body and "+" in body
    assert 'role="img"' in body and "Route: Rotterdam, NL" in body
    assert "DOC-BOL-1.pdf" in body


def test_stops_show_planned_and_actual(client, customer_user, late_shipment):
    client.force_login(customer_user)

    response = client.get("/shipments/SHP-LATE1/")

    stops = response.context["stops"]
    assert [stop.kind for stop in stops] == ["Pick-up", "Delivery"]
    assert [stop.place for stop in stops] == ["Rotterdam, NL", "Munich, DE"]


def test_charges_only_with_the_finance_grant(client, brenner, customer_user, late_shipment):
    finance = user_create(
        username="money", password=PASSWORD, tenant=brenner, finance=True, role="member"
    )
    client.force_login(customer_user)
    without = client.get("/shipments/SHP-LATE1/", HTTP_ACCEPT_LANGUAGE="de-DE").content.decode()
    client.force_login(finance)
    with_grant = client.get(
        "/shipments/SHP-LATE1/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9"
    ).content.decode()

    assert "Freight charges" not in without and "18950" not in without
    assert "18.950,00\xa0€" in with_grant  # the reader's locale


def test_another_tenant_gets_the_branded_404(client, other_tenant_user, late_shipment, settings):
    settings.DEBUG = False
    client.force_login(other_tenant_user)

    response = client.get("/shipments/SHP-LATE1/")

    assert response.status_code == 404
    body = response.content.decode()
    assert "We could not find that page" in body and "Go to the dashboard" in body
    assert "SHP-LATE1" not in body.replace("/shipments/SHP-LATE1/", "")


def test_times_are_shown_in_the_users_time_zone_with_the_zone_named(
    client, customer_user, late_shipment
):
    user_time_zone_set(user=customer_user, time_zone="America/New_York")
    client.post("/login/", {"username": "customer", "password": PASSWORD})

    body = client.get("/shipments/SHP-LATE1/").content.decode()

    assert "America/New_York" in body
    assert " EST" in body  # every time says its zone
