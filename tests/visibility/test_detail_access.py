"""Every detail read (page, REST, GraphQL) opens its object the same way: another tenant's
object does not exist, and a look by the operator's staff is audited once."""

from __future__ import annotations

import pytest

from accounts.models import AuditEntry
from accounts.services import user_create
from tests.factories import PASSWORD
from tests.helpers import sign_in_verified

pytestmark = pytest.mark.django_db

DETAILS = {
    "shipment": ("/shipments/SHP-778120/", "/api/v1/shipments/SHP-778120"),
    "order": ("/orders/SO-100045/", "/api/v1/orders/SO-100045"),
    "invoice": ("/invoices/INV-2026-004512/", "/api/v1/invoices/INV-2026-004512"),
}
GRAPHQL = {
    "shipment": '{ shipment(shipmentId: "SHP-778120") { shipmentId } }',
    "order": '{ order(orderNumber: "SO-100045") { orderNumber } }',
    "invoice": '{ invoice(invoiceNumber: "INV-2026-004512") { invoiceNumber } }',
}


@pytest.mark.parametrize("kind", DETAILS)
def test_a_staff_look_is_audited_on_page_rest_and_graphql(client, delivered_story, kind):
    staff = user_create(username="cs", password=PASSWORD, staff_all_tenants=True)
    sign_in_verified(client, staff)
    page, rest = DETAILS[kind]

    answers = [
        client.get(page).status_code,
        client.get(rest).status_code,
        client.post("/graphql", {"query": GRAPHQL[kind]}, content_type="application/json"),
    ]

    assert answers[:2] == [200, 200]
    assert "errors" not in answers[2].json() and all(answers[2].json()["data"].values())
    looks = AuditEntry.objects.filter(action="staff_viewed").values_list("target", flat=True)
    assert [target.split(":", 1)[0] for target in looks] == [kind] * 3


@pytest.mark.parametrize("kind", DETAILS)
def test_another_tenants_detail_is_404_and_null(client, delivered_story, other_tenant_user, kind):
    client.force_login(other_tenant_user)
    page, rest = DETAILS[kind]

    graphql = client.post("/graphql", {"query": GRAPHQL[kind]}, content_type="application/json")

    assert client.get(page).status_code == 404
    assert client.get(rest).status_code == 404
    assert graphql.json() == {"data": {kind: None}}
    assert not AuditEntry.objects.filter(action="staff_viewed").exists()
