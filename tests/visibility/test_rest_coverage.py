"""What a partner can read besides the three lists: documents listed with their metadata
and downloaded with a checksum, a shipment's milestones, ETA history, stops and charges
on their own, the exceptions list's filters, search by any reference, and `expand=` on
the shipment list. Each is scoped like every read: another tenant, a token without the
scope, finds nothing."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import pytest

from accounts.services import api_token_create
from tests.factories import (
    EPOCH,
    DocumentFactory,
    FreightChargeFactory,
    OrderFactory,
    ShipmentFactory,
    account,
)
from visibility.models import Document, ShipmentException

pytestmark = pytest.mark.django_db


def get(client, token: str, url: str, **params):
    return client.get(url, params, HTTP_AUTHORIZATION=f"Bearer {token}")


def token(tenant, scopes: list[str]) -> str:
    return api_token_create(tenant=tenant, name=f"scoped {'+'.join(scopes)}", scopes=scopes)[1]


# --- documents --------------------------------------------------------------------------------


def test_documents_are_listed_by_shipment_order_and_invoice_with_their_metadata(
    client, delivered_story, brenner, partner_token, other_tenant_token
):
    DocumentFactory(document_id="DOC-BOL-STRANGER", document_type="bol")  # another tenant's
    pod = Document.objects.get(document_id="DOC-POD-778120")
    # A document of Brenner's order and one of its invoice.
    DocumentFactory(
        document_id="DOC-ORD-1", shipment=None, order=pod.shipment.order_links.first().order
    )

    by_shipment = get(client, partner_token, "/api/v1/documents", shipment="SHP-778120").json()
    by_order = get(client, partner_token, "/api/v1/documents", order="SO-100045").json()
    everything = get(client, partner_token, "/api/v1/documents").json()
    outsider = get(client, other_tenant_token, "/api/v1/documents").json()
    outsider_by_shipment = get(
        client, other_tenant_token, "/api/v1/documents", shipment="SHP-778120"
    ).json()
    no_scope = get(client, token(brenner, ["shipments"]), "/api/v1/documents").json()

    assert by_shipment["results"] == [
        {
            "document_id": "DOC-POD-778120",
            "document_type": "pod",
            "customer_account": "C-1001",
            "shipment_id": "SHP-778120",
            "order_number": None,
            "invoice_number": None,
            "filename": pod.filename,
            "content_type": pod.content_type,
            "size": pod.size,
            "sha256": pod.sha256,
            "occurred_at": by_shipment["results"][0]["occurred_at"],
        }
    ]
    assert [row["document_id"] for row in by_order["results"]] == ["DOC-ORD-1"]
    assert {row["document_id"] for row in everything["results"]} == {"DOC-POD-778120", "DOC-ORD-1"}
    assert outsider["results"] == outsider_by_shipment["results"] == []
    assert no_scope["results"] == []


def test_a_download_carries_its_checksum(client, delivered_story, partner_token):
    response = get(client, partner_token, "/api/v1/documents/DOC-POD-778120")
    content = b"".join(response.streaming_content)

    digest = hashlib.sha256(content).digest()
    assert response.status_code == 200
    assert response["Repr-Digest"] == f"sha-256=:{base64.b64encode(digest).decode()}:"
    assert response["ETag"] == f'"{digest.hex()}"'
    assert response["X-Content-SHA256"] == digest.hex()


# --- a shipment's parts -----------------------------------------------------------------------


def test_a_shipments_parts_equal_its_detail(client, delivered_story, partner_token):
    detail = get(client, partner_token, "/api/v1/shipments/SHP-778120").json()
    parts = {
        part: get(client, partner_token, f"/api/v1/shipments/SHP-778120/{part}").json()
        for part in ("milestones", "eta-history", "stops", "charges")
    }

    assert all(body["shipment_id"] == "SHP-778120" for body in parts.values())
    assert parts["milestones"]["results"] == detail["milestones"] and detail["milestones"]
    assert parts["eta-history"]["results"] == detail["eta_history"] and detail["eta_history"]
    assert parts["charges"]["results"] == detail["freight_charges"]
    assert [stop["stop_type"] for stop in parts["stops"]["results"]] == ["pickup", "delivery"]
    assert [stop["sequence"] for stop in parts["stops"]["results"]] == [1, 2]


def test_a_shipments_parts_are_404_to_outsiders_and_charges_need_the_finance_grant(
    client, delivered_story, brenner, other_tenant_token
):
    without_finance = token(brenner, ["shipments", "documents"])
    for part in ("milestones", "eta-history", "stops", "charges"):
        path = f"/api/v1/shipments/SHP-778120/{part}"
        assert get(client, other_tenant_token, path).status_code == 404, part
        assert get(client, token(brenner, ["invoices"]), path).status_code == 404, part
    assert get(client, without_finance, "/api/v1/shipments/SHP-778120/charges").json() == {
        "shipment_id": "SHP-778120",
        "results": [],
    }
    assert get(client, without_finance, "/api/v1/shipments/NOPE/stops").status_code == 404


# --- exceptions -------------------------------------------------------------------------------


def test_the_exceptions_list_filters(client, brenner, nordwind, partner_token, other_tenant_token):
    ours = ShipmentFactory(shipment_id="SHP-EX-1", customer_account=account("C-1001"))
    other = ShipmentFactory(shipment_id="SHP-EX-2", customer_account=account("C-1002"))
    theirs = ShipmentFactory(shipment_id="SHP-EX-NW", customer_account=account("C-2001"))
    ShipmentException.objects.all().delete()  # the clock's own (the factories' dates are past)
    for shipment, reason, status, days in [
        (ours, "weather", "open", 0),
        (ours, "damaged", "acknowledged", 2),
        (other, "weather", "open", 4),
        (other, "customs", "resolved", 1),
        (theirs, "weather", "open", 0),
    ]:
        ShipmentException.objects.create(
            shipment=shipment,
            reason=reason,
            opened_by="milestone",
            status=status,
            opened_at=EPOCH + dt.timedelta(days=days),
        )

    def listed(who: str = partner_token, **params) -> list[tuple[str, str]]:
        response = get(client, who, "/api/v1/exceptions", **params)
        assert response.status_code == 200, response.content
        return [(row["shipment_id"], row["reason"]) for row in response.json()["results"]]

    assert listed() == [("SHP-EX-1", "weather"), ("SHP-EX-1", "damaged"), ("SHP-EX-2", "weather")]
    assert listed(reason="weather") == [("SHP-EX-1", "weather"), ("SHP-EX-2", "weather")]
    assert listed(reason=["customs", "damaged"]) == [("SHP-EX-1", "damaged")]
    assert listed(status="acknowledged") == [("SHP-EX-1", "damaged")]
    assert listed(shipment_id="SHP-EX-2") == [("SHP-EX-2", "weather")]
    assert listed(opened_after="2026-11-17T00:00:00Z") == [
        ("SHP-EX-1", "damaged"),
        ("SHP-EX-2", "weather"),
    ]
    assert listed(opened_before="2026-11-17T00:00:00Z") == [("SHP-EX-1", "weather")]
    assert listed(shipment_id="SHP-EX-NW") == []
    paged, response = [], get(client, partner_token, "/api/v1/exceptions", page_size=1).json()
    while True:  # the cursor of `opened_at`, id pages them all, once each
        paged += [(row["shipment_id"], row["reason"]) for row in response["results"]]
        if not response["next"]:
            break
        response = client.get(response["next"], HTTP_AUTHORIZATION=f"Bearer {partner_token}")
        response = response.json()
    assert paged == listed()
    assert listed(other_tenant_token) == [("SHP-EX-NW", "weather")]
    assert listed(other_tenant_token, shipment_id="SHP-EX-1") == []


# --- search -----------------------------------------------------------------------------------


def test_search_finds_by_any_reference_scoped_and_paged(
    client, delivered_story, brenner, partner_token, other_tenant_token
):
    def search(who: str, **params):
        return get(client, who, "/api/v1/search", **params)

    for reference, kind, key in [
        ("JJD0002249381", "shipment", "SHP-778120"),
        ("po-bt-7781", "order", "SO-100045"),
        ("LD-55012", "shipment", "SHP-778120"),
        ("INV-2026-004512", "invoice", "INV-2026-004512"),
    ]:
        hits = search(partner_token, q=reference).json()["results"]
        assert hits[0]["kind"] == kind and hits[0]["key"] == key, reference
        assert hits[0]["match"] == "exact"
        assert search(other_tenant_token, q=reference).json() == {"next": None, "results": []}

    # An invoice is found only with the finance grant, like opening it.
    without_finance = token(brenner, ["shipments", "documents"])
    assert search(without_finance, q="INV-2026-004512").json()["results"] == []

    ShipmentFactory.create_batch(3, customer_account=account("C-1002"))  # SHP-F…
    everything = search(partner_token, q="SHP-F", page_size=50).json()["results"]
    paged, response = [], search(partner_token, q="SHP-F", page_size=1).json()
    while True:
        paged += response["results"]
        if not response["next"]:
            break
        response = client.get(response["next"], HTTP_AUTHORIZATION=f"Bearer {partner_token}").json()
    assert len(everything) == 3 and paged == everything

    for params, name in [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "x" * 129}, "q"),
        ({"q": "SHP", "page_size": "0"}, "page_size"),
        ({"q": "SHP", "cursor": "!!"}, "cursor"),
        ({"q": "SHP", "kind": "order"}, "kind"),
    ]:
        response = search(partner_token, **params)
        assert response.status_code == 400 and name in response.content.decode(), params


# --- expand -----------------------------------------------------------------------------------


def test_expand_carries_each_rows_parts_scoped_like_the_detail(
    client, delivered_story, brenner, partner_token
):
    everything = "milestones,eta_history,stops,charges,documents"
    detail = get(client, partner_token, "/api/v1/shipments/SHP-778120").json()
    row = get(client, partner_token, "/api/v1/shipments", expand=everything).json()["results"][0]
    plain = get(client, partner_token, "/api/v1/shipments").json()["results"][0]
    without_finance = get(
        client, token(brenner, ["shipments"]), "/api/v1/shipments", expand=everything
    ).json()["results"][0]

    milestones_only = get(client, partner_token, "/api/v1/shipments", expand="milestones").json()
    assert row["milestones"] == detail["milestones"]
    assert milestones_only["results"][0]["milestones"] == detail["milestones"]
    assert "eta_history" not in milestones_only["results"][0]
    assert row["eta_history"] == detail["eta_history"]
    assert row["freight_charges"] == detail["freight_charges"]
    assert [stop["sequence"] for stop in row["stops"]] == [1, 2]
    assert [document["document_id"] for document in row["documents"]] == ["DOC-POD-778120"]
    assert set(row) - set(plain) == {
        "milestones",
        "eta_history",
        "stops",
        "freight_charges",
        "documents",
    }
    assert without_finance["freight_charges"] == []
    assert without_finance["documents"] == []  # no documents scope


def test_expand_shows_a_consolidated_shipments_charges_to_their_own_account_only(
    client, brenner, nordwind, partner_token, other_tenant_token
):
    shipment = ShipmentFactory(
        orders=[
            OrderFactory(customer_account=account("C-1001")),
            OrderFactory(customer_account=account("C-2001")),
        ]
    )
    FreightChargeFactory(charge_id="CHG-B", shipment=shipment, customer_account=account("C-1001"))
    FreightChargeFactory(charge_id="CHG-N", shipment=shipment, customer_account=account("C-2001"))

    def charges(who: str) -> list[str]:
        rows = get(client, who, "/api/v1/shipments", expand="charges").json()["results"]
        return [charge["charge_id"] for row in rows for charge in row["freight_charges"]]

    assert charges(partner_token) == ["CHG-B"]
    assert charges(other_tenant_token) == ["CHG-N"]
