"""GraphQL string arguments reach no selector with a NUL character: the answer is an error
naming the argument, not PostgreSQL's message."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("query", "argument"),
    [
        ('{ shipment(shipmentId: "SHP\\u0000") { shipmentId } }', "shipment_id"),
        ('{ shipments(status: "\\u0000") { edges { cursor } } }', "status"),
        ('{ order(orderNumber: "\\u0000") { orderNumber } }', "order_number"),
        ('{ orders(text: "a\\u0000") { edges { cursor } } }', "text"),
        ('{ invoice(invoiceNumber: "\\u0000") { invoiceNumber } }', "invoice_number"),
        ('{ invoices(status: "\\u0000") { edges { cursor } } }', "status"),
    ],
)
def test_a_nul_in_an_argument_is_an_error_naming_it(
    client, delivered_story, partner_token, query, argument
):
    response = client.post(
        "/graphql",
        {"query": query},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {partner_token}",
    )

    errors = response.json()["errors"]
    assert response.status_code == 200
    assert [error["message"] for error in errors] == [
        f"{argument}: Null characters are not allowed."
    ]
    assert "PostgreSQL" not in response.content.decode()


def test_ordinary_arguments_still_answer(client, delivered_story, partner_token):
    response = client.post(
        "/graphql",
        {"query": '{ shipment(shipmentId: "SHP-778120") { shipmentId } }'},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {partner_token}",
    )

    assert response.json() == {"data": {"shipment": {"shipmentId": "SHP-778120"}}}
