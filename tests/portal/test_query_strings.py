"""The list and search pages parse their query strings with forms: a value that does not
parse (an unknown status, a date that is not one) is ignored; a NUL byte is a bad request;
never a 500."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

GARBAGE = [
    "/orders/?date_to=2026-02-30&status=lost",
    "/invoices/?due_to=yesterday&status=lost",
    "/shipments/?status=lost&page=x",
]
WITH_NUL = [
    "/shipments/?q=%00",
    "/shipments/?status=%00&page=%00",
    "/shipments/export.csv?q=SHP%00",
    "/orders/?q=%00&date_from=%00",
    "/invoices/?status=%00&due_from=%00",
    "/search/?q=ab%00c",
]


@pytest.mark.parametrize("url", GARBAGE)
def test_a_value_that_does_not_parse_is_ignored(client, delivered_story, customer_user, url):
    client.force_login(customer_user)

    response = client.get(url)

    assert response.status_code == 200


@pytest.mark.parametrize("url", WITH_NUL)
def test_a_nul_in_a_query_string_is_a_bad_request_not_a_500(
    client, delivered_story, customer_user, url
):
    """PostgreSQL cannot compare text holding NUL: the request guard refuses it before any
    view runs (portal.middleware.UnusableRequestMiddleware)."""
    client.force_login(customer_user)

    response = client.get(url)

    assert response.status_code == 400
    assert b"\x00" not in response.content


def test_parsed_values_still_filter(client, delivered_story, customer_user):
    client.force_login(customer_user)

    found = client.get("/shipments/", {"q": "  778120 ", "status": "delivered"})
    missed = client.get("/shipments/", {"q": "778120", "status": "booked"})

    assert [s.shipment_id for s in found.context["page"].object_list] == ["SHP-778120"]
    values = found.context["values"]
    assert values["q"] == "778120" and values["status"] == ["delivered"]
    assert list(missed.context["page"].object_list) == []
