"""A partner mirrors the portal through the change feed while changes keep arriving.

The partner follows `GET /api/v1/changes` with its token (one account, every scope)
while a writer thread sends, through real intake and processing, the changes the issue
found missed: a carrier scan arriving hours late that delivers a shipment, a new POD, a
new freight charge, a tracking-number correction, an order moved to another account and
an invoice payment. At the end the mirror (objects by key, tombstones applied) equals,
object for object, what the REST API answers that token.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from integration.services.processing import process_inbox_until_empty
from tests.factories import (
    EPOCH,
    ApiTokenFactory,
    DocumentEventFactory,
    FreightChargeEventFactory,
    InvoicePaidEventFactory,
    MilestoneEventFactory,
    OrderReleasedEventFactory,
    ShipmentCreatedEventFactory,
    order_to_cash_events,
    stamp,
)
from tests.helpers import post_events, send_story

pytestmark = pytest.mark.django_db(transaction=True)

ALL_SCOPES = ["shipments", "documents", "invoices"]


def changes_page(client: Client, headers: dict, after: int) -> dict:
    response = client.get(f"/api/v1/changes?after={after}&limit=3", **headers)
    assert response.status_code == 200, response.content
    return response.json()


def apply(mirror: dict[tuple[str, str], dict], page: dict) -> None:
    for change in page["changes"]:
        key = (change["kind"], change["id"])
        if change["object"].get("deleted") or change["object"].get("visible") is False:
            mirror.pop(key, None)
        else:
            mirror[key] = change["object"]


def rest_list(client: Client, headers: dict, path: str, key: str) -> list[str]:
    keys, url = [], f"{path}?page_size=2"
    while url:
        response = client.get(url, **headers)
        assert response.status_code == 200, response.content
        keys += [row[key] for row in response.json()["results"]]
        url = response.json()["next"]
    return keys


def rest_view(client: Client, headers: dict) -> dict[tuple[str, str], Any]:
    """What the REST API answers the token: every listed object's detail."""
    view: dict[tuple[str, str], Any] = {}
    for kind, path, key in (
        ("shipment", "/api/v1/shipments", "shipment_id"),
        ("order", "/api/v1/orders", "order_number"),
        ("invoice", "/api/v1/invoices", "invoice_number"),
    ):
        for object_key in rest_list(client, headers, path, key):
            response = client.get(f"{path}/{object_key}", **headers)
            assert response.status_code == 200
            view[(kind, object_key)] = json.loads(response.content)
    return view


def test_a_partner_mirror_through_the_feed_equals_the_rest_api(brenner, source_tokens):
    token = ApiTokenFactory(tenant=brenner, scopes=ALL_SCOPES, account_numbers=["C-1001"])
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token.secret}"}
    start = EPOCH
    story = []
    for number, milestones in (("M1", 4), ("M2", 5), ("M3", 2), ("M4", 5)):
        story += order_to_cash_events(
            account="C-1001", number=number, start=start, milestones=milestones
        )
    story += order_to_cash_events(account="C-1002", number="N1", start=start, milestones=5)
    story.sort(key=lambda event: event["occurred_at"])
    story = [event for event in story if not event["event_id"].endswith("M4-paid")]
    send_story(Client(), source_tokens, story)

    at = lambda hours: stamp(start + timedelta(hours=hours))  # noqa: E731
    changes = [
        # A delivery scan arriving 4.5 h after later events were projected.
        MilestoneEventFactory(
            event_id="late-scan", occurred_at=at(56), shipment_id="SHP-M1", milestone="delivered"
        ),
        DocumentEventFactory(
            event_id="new-pod", occurred_at=at(70), shipment_id="SHP-M1", document_id="DOC-M1"
        ),
        FreightChargeEventFactory(
            event_id="new-charge", occurred_at=at(71), shipment_id="SHP-M3", charge_id="CHG-M3"
        ),
        ShipmentCreatedEventFactory(
            event_id="tracking-fix",
            occurred_at=at(30),
            sequence=2,
            shipment_id="SHP-M3",
            order_numbers=["SO-M3"],
            planned_delivery_at=at(72),
        ),
        OrderReleasedEventFactory(
            event_id="moved",
            occurred_at=at(40),
            sequence=2,
            order_number="SO-M2",
            account="C-1002",
        ),
        InvoicePaidEventFactory(event_id="paid", occurred_at=at(95), invoice_number="INV-M4"),
    ]
    changes[3]["data"]["tracking_numbers"] = ["TRK-CORRECTED"]
    errors: list[BaseException] = []

    def writer() -> None:
        client = Client()
        try:
            for event in changes:
                response = post_events(client, source_tokens[event["source"]], event)
                assert response.status_code == 202, response.content
                process_inbox_until_empty()
                time.sleep(0.05)
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    client = Client()
    mirror: dict[tuple[str, str], dict] = {}
    after = 0
    thread = threading.Thread(target=writer)
    thread.start()
    while True:
        finished = not thread.is_alive()
        page = changes_page(client, headers, after)
        apply(mirror, page)
        after = page["next"]
        if finished and not page["changes"]:
            break
    thread.join()
    assert errors == []

    documents = {key for kind, key in mirror if kind == "document"}
    expected = rest_view(client, headers)
    assert {key for key in mirror if key[0] != "document"} == set(expected)
    for key, detail in expected.items():
        assert mirror[key] == detail, key
    # What the issue found missed, now in the mirror:
    assert mirror[("shipment", "SHP-M1")]["status"] == "delivered"
    assert mirror[("shipment", "SHP-M3")]["tracking_numbers"] == ["TRK-CORRECTED"]
    assert [c["charge_id"] for c in mirror[("shipment", "SHP-M3")]["freight_charges"]] == ["CHG-M3"]
    assert mirror[("invoice", "INV-M4")]["status"] == "paid"
    assert ("order", "SO-M2") not in mirror and ("shipment", "SHP-M2") not in mirror
    assert documents == {"DOC-M1", "DOC-POD-M4"}  # DOC-POD-M2 left with its shipment
    for document_id in documents:
        assert client.get(f"/api/v1/documents/{document_id}", **headers).status_code == 200
    assert client.get("/api/v1/documents/DOC-POD-M2", **headers).status_code == 404
    assert not any(key[1].endswith("N1") for key in mirror)  # another account throughout
