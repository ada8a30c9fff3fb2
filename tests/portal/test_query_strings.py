"""The list and search pages parse their query strings with forms: a value that does not
parse (a NUL byte, an unknown status, a date that is not one) is ignored, never a 500."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

GARBAGE = [
    "/shipments/?q=%00",
    "/shipments/?status=%00&page=%00",
    "/shipments/export.csv?q=SHP%00",
    "/orders/?q=%00&date_from=%00&date_to=2026-02-30&status=lost",
    "/invoices/?status=%00&due_from=%00&due_to=yesterday",
    "/search/?q=ab%00c",
]


@pytest.mark.parametrize("url", GARBAGE)
def test_a_value_that_does_not_parse_is_ignored(client, delivered_story, customer_user, url):
    client.force_login(customer_user)

    response = client.get(url)
    body = (
        b"".join(response.streaming_content) if response.streaming else response.content
    ).decode()

    assert response.status_code == 200
    assert "\x00" not in body


def test_parsed_values_still_filter(client, delivered_story, customer_user):
    client.force_login(customer_user)

    found = client.get("/shipments/", {"q": "  778120 ", "status": "delivered"})
    missed = client.get("/shipments/", {"q": "778120", "status": "booked"})

    assert [s.shipment_id for s in found.context["page"].object_list] == ["SHP-778120"]
    assert found.context["query"] == "778120" and found.context["status"] == "delivered"
    assert list(missed.context["page"].object_list) == []
