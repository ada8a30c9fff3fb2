"""Documents download with their checksum, within the documents entitlement, audited."""

from __future__ import annotations

import hashlib

import pytest

from accounts.models import AuditEntry
from accounts.services import api_token_create
from tests.helpers import send_story

pytestmark = pytest.mark.django_db


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def test_customer_downloads_the_pod_from_the_shipment_page(client, delivered_story, customer_user):
    client.force_login(customer_user)
    page = client.get("/shipments/SHP-778120/").content.decode()
    assert 'href="/documents/DOC-POD-778120/download"' in page

    response = client.get("/documents/DOC-POD-778120/download")

    content = body_of(response)
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="POD-SHP-778120.pdf"' in response["Content-Disposition"]
    assert response["X-Content-SHA256"] == hashlib.sha256(content).hexdigest()
    assert content.startswith(b"%PDF")
    assert (
        AuditEntry.objects.filter(
            action="document_downloaded", target="document:DOC-POD-778120"
        ).count()
        == 1
    )


def test_partner_token_needs_the_documents_scope(client, delivered_story, brenner):
    _, with_scope = api_token_create(tenant=brenner, name="docs", scopes=["documents"])
    _, without = api_token_create(tenant=brenner, name="ships", scopes=["shipments"])

    allowed = client.get(
        "/api/v1/documents/DOC-POD-778120", HTTP_AUTHORIZATION=f"Bearer {with_scope}"
    )
    refused = client.get("/api/v1/documents/DOC-POD-778120", HTTP_AUTHORIZATION=f"Bearer {without}")

    assert allowed.status_code == 200 and body_of(allowed).startswith(b"%PDF")
    assert refused.status_code == 404


def test_other_tenant_gets_404(client, delivered_story, other_tenant_user, other_tenant_token):
    client.force_login(other_tenant_user)

    assert client.get("/documents/DOC-POD-778120/download").status_code == 404
    client.logout()
    assert (
        client.get(
            "/api/v1/documents/DOC-POD-778120", HTTP_AUTHORIZATION=f"Bearer {other_tenant_token}"
        ).status_code
        == 404
    )


def test_a_document_with_a_long_filename_is_stored_and_downloads_under_that_name(
    client, brenner, source_tokens, story, customer_user
):
    long_name = "Proof of delivery, signed at the dock - " + "x" * 200 + ".pdf"
    for event in story:
        if event["event_type"] == "document.available":
            event["data"]["filename"] = long_name
    send_story(client, source_tokens, story)
    client.force_login(customer_user)

    response = client.get("/documents/DOC-POD-778120/download")

    assert response.status_code == 200
    assert long_name in response["Content-Disposition"]
    assert body_of(response).startswith(b"%PDF")
