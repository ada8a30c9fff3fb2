"""No path or query string makes a page or the API answer 500 (issue 15): a NUL byte or
another control character in an id is not found (404), an undecodable one too, and
identifiers stored before intake refused control characters still list and link."""

from __future__ import annotations

import pytest

from tests.helpers import send_story
from visibility.models import Order, Shipment

pytestmark = pytest.mark.django_db

ODD_IDS = ["%00", "a%00b", "%0A", "XM-NL%0ABcc:%20x@y", "%7F", "%ff", "%C0%80", "x" * 5000]

PAGE_PATHS = [
    "/shipments/{id}/",
    "/orders/{id}/",
    "/invoices/{id}/",
    "/documents/{id}/download",
]
API_PATHS = [
    "/api/v1/shipments/{id}",
    "/api/v1/orders/{id}",
    "/api/v1/invoices/{id}",
    "/api/v1/documents/{id}",
]


@pytest.fixture
def signed_in(client, customer_user):
    client.force_login(customer_user)
    return client


@pytest.mark.parametrize("odd_id", ODD_IDS)
@pytest.mark.parametrize("template", PAGE_PATHS)
def test_pages_answer_404_for_an_odd_id(signed_in, template, odd_id):
    response = signed_in.get(template.format(id=odd_id))

    assert response.status_code == 404


@pytest.mark.parametrize("odd_id", ODD_IDS)
@pytest.mark.parametrize("template", API_PATHS)
def test_the_api_answers_a_problem_404_for_an_odd_id(client, partner_token, template, odd_id):
    response = client.get(template.format(id=odd_id), HTTP_AUTHORIZATION=f"Bearer {partner_token}")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 404


@pytest.mark.parametrize("value", ["%00", "a%00b", "%ff", "%0A"])
@pytest.mark.parametrize(
    "path",
    ["/search/?q=", "/shipments/?q=", "/orders/?q=", "/invoices/?q=", "/shipments/export.csv?q="],
)
def test_pages_never_500_on_odd_query_strings(signed_in, path, value):
    assert signed_in.get(path + value).status_code in (200, 400)


@pytest.mark.parametrize("value", ["%00", "a%00b", "%ff"])
@pytest.mark.parametrize("parameter", ["q", "cursor", "status", "account", "%00"])
@pytest.mark.parametrize("path", ["/api/v1/shipments", "/api/v1/orders", "/api/v1/invoices"])
def test_the_api_never_500s_on_odd_query_strings(client, partner_token, path, parameter, value):
    response = client.get(
        f"{path}?{parameter}={value}", HTTP_AUTHORIZATION=f"Bearer {partner_token}"
    )

    # An undecodable cursor is a 400 naming `cursor` (portal/api_errors.py).
    assert response.status_code in (200, 400)
    expected = "application/json" if response.status_code == 200 else "application/problem+json"
    assert response["Content-Type"] == expected


def test_a_newline_in_a_stored_id_still_lists_searches_and_links(
    client, brenner, source_tokens, story, customer_user
):
    """Identifiers stored before intake refused control characters: no page may fail to
    build a link to them."""
    send_story(client, source_tokens, story)
    odd = "XM-NL\nBcc: x@y"
    Shipment.objects.filter(shipment_id="SHP-778120").update(shipment_id=odd)
    Order.objects.filter(order_number="SO-100045").update(order_number=odd)
    client.force_login(customer_user)

    for path in ("/shipments/", "/orders/", "/search/?q=XM-NL", "/search/?q=SO-10004"):
        assert client.get(path).status_code == 200, path
    assert client.get("/search/?q=SO-100045").status_code == 302  # one exact match: opened
    assert client.get("/orders/XM-NL%0ABcc:%20x@y/").status_code == 404
    assert client.get("/invoices/").status_code in (200, 404)
    page = client.get("/shipments/").content.decode()
    assert "/shipments/XM-NL%0ABcc:%20x@y/" in page
