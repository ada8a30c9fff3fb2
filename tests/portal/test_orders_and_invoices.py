"""Order page (ship-to, lines, shipments, risk against the requested date) and invoice
pages (no access said plainly, amounts in the reader's locale, printable)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts.services import user_create
from tests.factories import PASSWORD, InvoiceFactory, OrderFactory, ShipmentFactory, account
from visibility.models import Milestone

pytestmark = pytest.mark.django_db


@pytest.fixture
def finance_user(brenner):
    return user_create(
        username="money", password=PASSWORD, tenant=brenner, finance=True, role="member"
    )


@pytest.fixture
def order_late(brenner):
    order = OrderFactory(
        order_number="SO-RISK",
        customer_account=account("C-1001"),
        ship_to={
            "name": "Brenner Werk 2",
            "address_lines": ["Lindwurmstr. 88"],
            "city": "Munich",
            "country": "DE",
        },
    )
    ShipmentFactory(
        shipment_id="SHP-RISK",
        customer_account=account("C-1001"),
        orders=[order],
        milestones=[Milestone.PICKED_UP],
        delayed_by=dt.timedelta(days=6),
    )
    InvoiceFactory(
        invoice_number="INV-RISK",
        customer_account=account("C-1001"),
        order_numbers=["SO-RISK"],
        total_amount=Decimal("18950.00"),
    )
    return order


def test_order_page_states_its_risk_and_ship_to(client, customer_user, order_late):
    client.force_login(customer_user)

    response = client.get("/orders/SO-RISK/")

    body = response.content.decode()
    assert response.context["risk"].at_risk
    assert "after the requested date" in response.context["risk"].text
    assert "Brenner Werk 2" in body and "Lindwurmstr. 88" in body
    assert "SHP-RISK" in body
    assert "INV-RISK" not in body  # no finance grant: no invoices on the order either


def test_order_of_another_tenant_is_not_found(client, other_tenant_user, order_late):
    client.force_login(other_tenant_user)

    assert client.get("/orders/SO-RISK/").status_code == 404


def test_invoices_say_plainly_when_the_user_has_no_access(client, customer_user, order_late):
    client.force_login(customer_user)

    response = client.get("/invoices/")

    body = response.content.decode()
    assert response.status_code == 200
    assert "You do not have access to invoices" in body
    assert "No invoices" not in body and "INV-RISK" not in body
    assert client.get("/invoices/INV-RISK/").status_code == 404


@pytest.mark.parametrize(
    ("language", "expected"),
    [("de-DE,de;q=0.9", "18.950,00\xa0€"), ("en-US", "€18,950.00"), ("", "€18,950.00")],
)
def test_amounts_in_the_readers_locale(client, finance_user, order_late, language, expected):
    client.force_login(finance_user)

    listing = client.get("/invoices/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    detail = client.get("/invoices/INV-RISK/", HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert expected in listing and expected in detail
    assert "18950.00 EUR" not in detail


def test_the_invoice_page_prints(client, finance_user, order_late):
    client.force_login(finance_user)

    body = client.get("/invoices/INV-RISK/").content.decode()

    assert 'data-action="print"' in body and 'class="no-print"' in body
