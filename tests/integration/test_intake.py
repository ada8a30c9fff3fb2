"""POST /api/v1/events: the contract's intake, answer by answer."""

from __future__ import annotations

import json

import pytest

from integration.models import InboxEvent, RejectedEvent
from tests.helpers import post_events, read_jsonl

pytestmark = pytest.mark.django_db


def test_single_event_is_accepted_and_stored_before_the_answer(client, source_tokens, story):
    response = post_events(client, source_tokens["erp"], story[0])

    assert response.status_code == 202
    assert response.json() == {"results": [{"event_id": "erp-demo-0001", "status": "accepted"}]}
    stored = InboxEvent.objects.get(source="erp", event_id="erp-demo-0001")
    assert stored.state == "pending"
    assert stored.data["order_number"] == "SO-100045"
    assert stored.occurred_at.isoformat() == "2026-11-16T07:00:00+00:00"  # stored in UTC


def test_resent_event_is_a_duplicate_and_changes_nothing(client, source_tokens, story):
    post_events(client, source_tokens["erp"], story[0])
    response = post_events(client, source_tokens["erp"], story[0])

    assert response.json()["results"] == [{"event_id": "erp-demo-0001", "status": "duplicate"}]
    assert InboxEvent.objects.count() == 1


def test_batch_is_judged_event_by_event_in_request_order(client, source_tokens, story):
    tms_events = [event for event in story if event["source"] == "tms"][:3]
    bad = {
        **tms_events[1],
        "event_id": "tms-bad",
        "event_type": "shipment.milestone",
        "data": {"shipment_id": "S", "milestone": "teleported"},
    }
    body = {"events": [tms_events[0], bad, tms_events[0], tms_events[2]]}

    results = post_events(client, source_tokens["tms"], body).json()["results"]

    assert [(r["event_id"], r["status"]) for r in results] == [
        ("tms-demo-0001", "accepted"),
        ("tms-bad", "rejected"),
        ("tms-demo-0001", "duplicate"),
        ("tms-demo-0003", "accepted"),
    ]
    assert results[1]["errors"] == [
        {
            "field": "data.milestone",
            "message": "unknown milestone 'teleported'; expected one of: "
            "picked_up, departed_origin, arrived_hub, departed_hub, in_transit, out_for_delivery, "
            "delivery_attempted, delivered, exception",
        }
    ]
    assert InboxEvent.objects.count() == 2
    assert RejectedEvent.objects.get().event_id == "tms-bad"


@pytest.mark.parametrize(
    "example",
    read_jsonl("rejected.jsonl"),
    ids=lambda example: example["event"]["event_id"] or "empty-id",
)
def test_every_contract_counterexample_is_rejected_with_the_field_named(
    client, source_tokens, example
):
    event = example["event"]
    expected_field = example["why"].split(":")[0]

    response = post_events(client, source_tokens["tms"], event)

    assert response.status_code == 202
    [result] = response.json()["results"]
    assert result["status"] == "rejected"
    assert any(error["field"].startswith(expected_field) for error in result["errors"]), result
    assert RejectedEvent.objects.filter(source="tms").count() == 1
    assert not InboxEvent.objects.exists()


def test_higher_minor_version_with_unknown_fields_is_accepted(client, source_tokens, story):
    event = {
        **story[0],
        "spec_version": "1.3",
        "trace": {"id": 1},
        "data": {**story[0]["data"], "incoterms": "DAP"},
    }

    response = post_events(client, source_tokens["erp"], event)

    assert response.json()["results"][0]["status"] == "accepted"


def test_field_paths_point_into_nested_lists(client, source_tokens, story):
    event = json.loads(json.dumps(story[0]))
    event["data"]["lines"][1]["quantity"] = "lots"

    [result] = post_events(client, source_tokens["erp"], event).json()["results"]

    assert result["errors"] == [
        {"field": "data.lines[1].quantity", "message": "must be a number, not 'lots'"}
    ]


@pytest.mark.parametrize("authorization", [None, "Bearer nope", "Basic abc"])
def test_missing_or_wrong_token_is_401(client, story, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.post(
        "/api/v1/events", data=json.dumps(story[0]), content_type="application/json", **headers
    )

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["type"].endswith("/not-authenticated")
    assert not InboxEvent.objects.exists()


def test_malformed_json_is_400(client, source_tokens):
    response = client.post(
        "/api/v1/events",
        data="{not json",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {source_tokens['erp']}",
    )

    assert response.status_code == 400
    assert response.json()["detail"].startswith("Malformed JSON")
    assert response.json()["type"].endswith("/malformed-json")


def test_more_than_1000_events_is_413(client, source_tokens, story):
    events = [{**story[0], "event_id": f"erp-{index}"} for index in range(1001)]

    response = post_events(client, source_tokens["erp"], {"events": events})

    assert response.status_code == 413
    assert "at most 1000" in response.json()["detail"]
    assert not InboxEvent.objects.exists()


def test_body_over_5_mb_is_413(client, source_tokens, story):
    event = {**story[0], "padding": "x" * (5 * 1024 * 1024)}

    response = post_events(client, source_tokens["erp"], event)

    assert response.status_code == 413


def test_a_source_cannot_send_as_another_source(client, source_tokens, story):
    [result] = post_events(client, source_tokens["tms"], story[0]).json()["results"]

    assert result["status"] == "rejected"
    assert result["errors"][0]["field"] == "source"
