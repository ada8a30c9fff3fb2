"""Every look by the operator's staff at tenant data is audited once per request, whatever
the entry point (issue 15, item 7): pages, REST, GraphQL, the CSV export, search and
document downloads. A tenant's own users and partner tokens are not staff looks."""

from __future__ import annotations

import pytest

from accounts.models import AuditEntry
from accounts.selectors import audit_entries
from accounts.services import api_token_create, user_create
from tests.factories import PASSWORD
from tests.helpers import sign_in_verified
from visibility import selectors

pytestmark = pytest.mark.django_db

# name: (how, target, entry point recorded)
ENTRY_POINTS = {
    "page list": ("get", "/shipments/?status=delivered", "/shipments/"),
    "page detail": ("get", "/shipments/SHP-778120/", "/shipments/SHP-778120/"),
    "order page": ("get", "/orders/SO-100045/", "/orders/SO-100045/"),
    "invoice list page": ("get", "/invoices/", "/invoices/"),
    "REST list": ("get", "/api/v1/shipments?status=delivered", "/api/v1/shipments"),
    "REST detail": ("get", "/api/v1/orders/SO-100045", "/api/v1/orders/SO-100045"),
    "REST invoice list": ("get", "/api/v1/invoices", "/api/v1/invoices"),
    "GraphQL list": (
        "graphql",
        'query Recent { shipments(status: "delivered", first: 5) '
        "{ edges { node { shipmentId } } } }",
        "/graphql Recent",
    ),
    "GraphQL detail": (
        "graphql",
        '{ invoice(invoiceNumber: "INV-2026-004512") { invoiceNumber } }',
        "/graphql (anonymous)",
    ),
    "GraphQL nested": (
        "graphql",
        'query Nested { order(orderNumber: "SO-100045") '
        "{ shipments { shipmentId freightCharges { chargeId } milestones { milestone } } } }",
        "/graphql Nested",
    ),
    "CSV export": ("get", "/shipments/export.csv?q=SHP", "/shipments/export.csv"),
    # A prefix: one exact match would redirect to the order it names.
    "search page": ("get", "/search/?q=SO-1000", "/search/"),
    "document download": (
        "get",
        "/documents/DOC-POD-778120/download",
        "/documents/DOC-POD-778120/download",
    ),
    "REST document download": (
        "get",
        "/api/v1/documents/DOC-POD-778120",
        "/api/v1/documents/DOC-POD-778120",
    ),
}


def read(client, how: str, target: str):
    if how == "graphql":
        response = client.post("/graphql", {"query": target}, content_type="application/json")
        assert response.status_code == 200 and "errors" not in response.json(), response.json()
        return response
    response = client.get(target)
    assert response.status_code == 200, target
    return response


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_a_staff_read_is_audited_once_with_who_and_where(client, delivered_story, cs_staff, name):
    how, target, entry_point = ENTRY_POINTS[name]
    sign_in_verified(client, cs_staff)

    read(client, how, target)

    entries = list(AuditEntry.objects.exclude(action__startswith="sign_in"))
    assert len(entries) == 1, [(entry.action, entry.target) for entry in entries]
    entry = entries[0]
    assert entry.actor == "user:cs"
    assert entry.details["entry_point"] == entry_point
    assert entry.ip_address == "127.0.0.1"


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_a_customer_users_read_is_no_staff_look(client, delivered_story, customer_user, name):
    how, target, _ = ENTRY_POINTS[name]
    client.force_login(customer_user)

    read(client, how, target)

    assert not AuditEntry.objects.filter(action__startswith="staff").exists()
    downloads = AuditEntry.objects.filter(action="document_downloaded")
    assert downloads.count() == (1 if "download" in name else 0)


def test_a_detail_names_the_object_and_its_tenant(client, delivered_story, brenner, cs_staff):
    sign_in_verified(client, cs_staff)

    client.get("/shipments/SHP-778120/")

    entry = AuditEntry.objects.get()
    assert (entry.action, entry.target, entry.tenant_id) == (
        "staff_viewed",
        "shipment:SHP-778120",
        brenner.id,
    )
    assert entry.details["objects"] == ["shipment:SHP-778120"]
    assert entry.details["tenant_ids"] == [brenner.id]


def test_a_list_records_its_filter(client, delivered_story, cs_staff):
    sign_in_verified(client, cs_staff)

    client.get("/api/v1/shipments", {"status": "delivered", "carrier": "dhl"})

    entry = AuditEntry.objects.get()
    assert entry.details["query"] == {"status": ["delivered"], "carrier": ["dhl"]}
    assert entry.target == "/api/v1/shipments?status=delivered&carrier=dhl"
    assert entry.details["scopes"] == ["shipments"]


def test_a_request_reading_several_selectors_is_one_entry(
    client, delivered_story, brenner, cs_staff
):
    sign_in_verified(client, cs_staff)
    query = """query Everything($order: String!) {
        shipments(first: 3) { edges { node { shipmentId } } }
        order(orderNumber: $order) { orderNumber shipments { shipmentId } }
        invoices { edges { node { invoiceNumber } } }
    }"""

    response = client.post(
        "/graphql",
        {"query": query, "variables": {"order": "SO-100045"}},
        content_type="application/json",
    )

    assert "errors" not in response.json()
    entry = AuditEntry.objects.get()
    assert entry.details["entry_point"] == "/graphql Everything"
    assert entry.details["graphql"] == {
        "operation": "Everything",
        "fields": ["shipments(first: 3)", "order(orderNumber: $order)", "invoices"],
        "variables": {"order": "SO-100045"},
    }
    assert entry.details["objects"] == ["order:SO-100045"]
    assert entry.details["scopes"] == ["invoices", "shipments"]
    # Lists by staff serving every tenant could show any tenant's rows.
    assert entry.details["all_tenants"] is True and entry.tenant_id is None


def test_the_shipment_page_reads_documents_and_charges_in_one_entry(
    client, delivered_story, cs_staff
):
    sign_in_verified(client, cs_staff)

    client.get("/shipments/SHP-778120/")
    client.get("/orders/SO-100045/")

    assert list(AuditEntry.objects.order_by("id").values_list("target", flat=True)) == [
        "shipment:SHP-778120",
        "order:SO-100045",
    ]


def test_a_staff_download_is_one_download_entry(client, delivered_story, brenner, cs_staff):
    sign_in_verified(client, cs_staff)

    client.get("/documents/DOC-POD-778120/download")

    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.target, entry.tenant_id) == (
        "document_downloaded",
        "user:cs",
        "document:DOC-POD-778120",
        brenner.id,
    )


def test_the_csv_export_is_audited_before_it_streams(client, delivered_story, cs_staff):
    sign_in_verified(client, cs_staff)

    response = client.get("/shipments/export.csv")

    assert AuditEntry.objects.filter(target="/shipments/export.csv").count() == 1
    assert b"SHP-778120" in b"".join(response.streaming_content)
    assert AuditEntry.objects.count() == 1


def test_staff_serving_some_tenants_are_recorded_against_those(
    client, delivered_story, brenner, nordwind, tenant_admin
):
    serving_brenner = user_create(username="cs1", password=PASSWORD, staff_tenants=[brenner])
    sign_in_verified(client, serving_brenner)

    client.get("/shipments/")
    client.get("/search/", {"q": "SO-100045"})

    assert list(AuditEntry.objects.values_list("tenant_id", flat=True)) == [brenner.id] * 2
    assert [entry.actor for entry in audit_entries(tenant_id=brenner.id)] == ["user:cs1"] * 2
    assert list(audit_entries(tenant_id=nordwind.id)) == []


def test_the_tenant_admins_log_shows_staff_looks_at_their_tenant(
    client, delivered_story, brenner, nordwind, tenant_admin, cs_staff
):
    sign_in_verified(client, cs_staff)
    client.get("/shipments/SHP-778120/")
    client.get("/shipments/")

    client.force_login(tenant_admin)
    page = client.get("/settings/audit/").content.decode()

    assert "shipment:SHP-778120" in page and "/shipments/" in page
    brenners = [entry.target for entry in audit_entries(tenant_id=brenner.id)]
    nordwinds = [entry.target for entry in audit_entries(tenant_id=nordwind.id)]
    assert brenners == ["/shipments/", "shipment:SHP-778120"]
    assert nordwinds == ["/shipments/"]  # a list across every tenant: theirs too


def test_a_platform_admin_is_audited(client, delivered_story, platform_admin):
    sign_in_verified(client, platform_admin)

    client.get("/api/v1/shipments/SHP-778120")

    assert list(AuditEntry.objects.values_list("actor", "target")) == [
        ("user:root", "shipment:SHP-778120")
    ]


def test_partner_tokens_and_pages_without_tenant_data_are_not_audited(
    client, delivered_story, brenner, cs_staff
):
    _, secret = api_token_create(tenant=brenner, name="erp", scopes=["shipments"])
    client.get("/api/v1/shipments", HTTP_AUTHORIZATION=f"Bearer {secret}")
    sign_in_verified(client, cs_staff)
    client.get("/healthz")
    client.get("/settings/notifications/")

    assert not AuditEntry.objects.exclude(action__startswith="token").exists()


def test_outside_a_request_nothing_is_audited(delivered_story, cs_staff):
    assert list(selectors.shipment_list(cs_staff).values_list("shipment_id", flat=True)) == [
        "SHP-778120"
    ]
    assert selectors.shipment_get(cs_staff, "SHP-778120") is not None

    assert not AuditEntry.objects.exists()


def test_a_nul_character_sent_by_staff_does_not_withhold_the_answer(
    client, delivered_story, cs_staff
):
    """PostgreSQL stores no NUL in jsonb: recorded as it was, the entry would fail and the
    answer be withheld (503)."""
    sign_in_verified(client, cs_staff)

    response = client.post(
        "/graphql",
        {
            "query": "query Q { shipments { edges { node { shipmentId } } } }",
            "variables": {"x": "a\x00b"},
        },
        content_type="application/json",
    )

    assert response.status_code == 200 and "errors" not in response.json()
    assert AuditEntry.objects.get().details["graphql"]["variables"] == {"x": "a\ufffdb"}
