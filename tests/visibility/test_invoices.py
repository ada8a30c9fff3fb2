"""Invoices and freight charges: seen with the finance grant, on pages, REST and GraphQL."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import api_token_create, user_create
from tests.factories import PASSWORD
from visibility.models import Invoice

pytestmark = pytest.mark.django_db

INVOICE = "INV-2026-004512"


@pytest.fixture
def finance_user(brenner, delivered_story):
    return user_create(username="b-finance", password=PASSWORD, tenant=brenner, finance=True)


@pytest.fixture
def finance_token(brenner, delivered_story) -> dict:
    secret = api_token_create(tenant=brenner, name="fin", scopes=["invoices"])[1]
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def make_unpaid(due: dt.date) -> None:
    Invoice.objects.filter(invoice_number=INVOICE).update(
        paid_at=None, paid_amount=None, due_date=due
    )


TODAY = dt.date.today()


@pytest.mark.parametrize(
    ("due", "paid", "status"),
    [
        (TODAY - dt.timedelta(days=1), False, "overdue"),
        (TODAY, False, "open"),
        (TODAY - dt.timedelta(days=30), True, "paid"),
    ],
)
def test_status_is_open_paid_or_overdue(client, finance_token, due, paid, status):
    if not paid:
        make_unpaid(due)
    else:
        Invoice.objects.filter(invoice_number=INVOICE).update(due_date=due)

    body = client.get(f"/api/v1/invoices/{INVOICE}", **finance_token).json()
    filtered = client.get(f"/api/v1/invoices?status={status}", **finance_token).json()
    others = [s for s in ("open", "paid", "overdue") if s != status]
    excluded = client.get(f"/api/v1/invoices?status={others[0]}", **finance_token).json()

    assert body["status"] == status
    assert [row["invoice_number"] for row in filtered["results"]] == [INVOICE]
    assert excluded["results"] == []


def test_rest_invoice_detail_has_lines(client, finance_token):
    body = client.get(f"/api/v1/invoices/{INVOICE}", **finance_token).json()

    assert body["total_amount"] == "18950.00" and body["currency"] == "EUR"
    assert [line["amount"] for line in body["lines"]] == ["11400.00", "7200.00", "350.00"]
    assert body["order_numbers"] == ["SO-100045"]


def test_rest_invoice_list_rejects_a_bad_filter(client, finance_token):
    assert client.get("/api/v1/invoices?status=lost", **finance_token).status_code == 400
    assert client.get("/api/v1/invoices?due_from=tomorrow", **finance_token).status_code == 400


def test_due_date_range_filters(client, finance_token):
    make_unpaid(dt.date(2026, 12, 21))

    inside = client.get(
        "/api/v1/invoices?due_from=2026-12-01&due_to=2026-12-31", **finance_token
    ).json()
    outside = client.get("/api/v1/invoices?due_to=2026-12-20", **finance_token).json()

    assert len(inside["results"]) == 1 and outside["results"] == []


def test_invoice_pages_for_a_finance_user(client, finance_user):
    make_unpaid(TODAY - dt.timedelta(days=3))
    client.force_login(finance_user)

    listing = client.get("/invoices/?status=overdue")
    detail = client.get(f"/invoices/{INVOICE}/")
    empty = client.get("/invoices/?status=paid")

    assert f'href="/invoices/{INVOICE}/"' in listing.content.decode()
    assert "Overdue" in listing.content.decode()
    assert 'href="/invoices/"' in listing.content.decode()  # navigation link
    assert "Cordless drill 18V x40" in detail.content.decode()
    assert INVOICE not in empty.content.decode()


def test_no_invoices_link_without_the_finance_grant(client, customer_user, delivered_story):
    client.force_login(customer_user)

    page = client.get("/shipments/").content.decode()

    assert 'href="/invoices/"' not in page


def test_search_links_an_invoice_to_its_page(client, finance_user):
    client.force_login(finance_user)

    page = client.get("/search/", {"q": INVOICE[:-1]}).content.decode()  # exact: opens it

    assert f'href="/invoices/{INVOICE}/"' in page


def test_order_and_shipment_pages_show_money_to_finance(client, finance_user):
    client.force_login(finance_user)

    order = client.get("/orders/SO-100045/").content.decode()
    shipment = client.get("/shipments/SHP-778120/").content.decode()

    assert f'href="/invoices/{INVOICE}/"' in order
    assert "Freight charges" in shipment and "612.40" in shipment


def test_rest_and_graphql_shipment_carry_charges_for_finance(client, brenner, delivered_story):
    secret = api_token_create(tenant=brenner, name="all")[1]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}

    rest = client.get("/api/v1/shipments/SHP-778120", **headers).json()
    graphql = client.post(
        "/graphql",
        content_type="application/json",
        **headers,
        data={
            "query": '{ shipment(shipmentId: "SHP-778120") { freightCharges { chargeId amount } }'
            f' invoice(invoiceNumber: "{INVOICE}") {{ status lines {{ amount }} }} }}'
        },
    )

    assert rest["freight_charges"][0]["amount"] == "612.40"
    data = graphql.json()["data"]
    assert data["shipment"]["freightCharges"] == [{"chargeId": "CHG-778120-1", "amount": "612.40"}]
    assert data["invoice"]["status"] == "paid"
    assert [line["amount"] for line in data["invoice"]["lines"]] == [
        "11400.00",
        "7200.00",
        "350.00",
    ]


def _add_invoices(count: int) -> None:
    original = Invoice.objects.get(invoice_number=INVOICE)
    for number in range(count):
        invoice = Invoice.objects.create(
            invoice_number=f"INV-Q-{number}",
            customer_account=original.customer_account,
            currency="EUR",
            total_amount="10.00",
            due_date=TODAY,
            order_numbers=["SO-100045"],
        )
        invoice.lines.create(position=1, amount="10.00")


def _count(callable_) -> int:
    with CaptureQueriesContext(connection) as queries:
        callable_()
    return len(queries)


def test_invoice_lists_do_not_query_per_invoice(client, finance_user, finance_token):
    client.force_login(finance_user)
    graphql = {"query": "{ invoices { invoiceNumber status lines { amount } } }"}

    def reads():
        return [
            _count(lambda: client.get("/invoices/")),
            _count(lambda: client.get("/api/v1/invoices", **finance_token)),
            _count(
                lambda: client.post(
                    "/graphql", data=graphql, content_type="application/json", **finance_token
                )
            ),
        ]

    _add_invoices(4)
    reads()  # warm up: first use of a token or session writes its bookkeeping
    few = reads()
    Invoice.objects.filter(invoice_number__startswith="INV-Q-").delete()
    _add_invoices(29)
    many = reads()

    assert few == many


def test_rest_order_detail_lists_invoices_only_with_the_finance_grant(
    client, brenner, finance_token
):
    shipments_only = api_token_create(tenant=brenner, name="ops", scopes=["shipments"])[1]

    with_finance = client.get("/api/v1/orders/SO-100045", **finance_token)
    without = client.get(
        "/api/v1/orders/SO-100045", HTTP_AUTHORIZATION=f"Bearer {shipments_only}"
    ).json()
    everything = api_token_create(tenant=brenner, name="all")[1]
    full = client.get("/api/v1/orders/SO-100045", HTTP_AUTHORIZATION=f"Bearer {everything}").json()

    assert with_finance.status_code == 404  # an invoices-only token sees no orders
    assert "invoices" not in without
    assert [row["invoice_number"] for row in full["invoices"]] == [INVOICE]
    assert full["invoices"][0]["status"] == "paid"
