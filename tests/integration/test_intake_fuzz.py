"""Fuzzing intake: whatever the body, the answer is 202 with per-event results, or a JSON
400/413 — never a 5xx, never an accepted event that is not stored."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integration.models import InboxEvent
from tests.helpers import read_jsonl

pytestmark = pytest.mark.django_db

STORY = read_jsonl("order-to-cash.jsonl")
FUZZ_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "\u0000",
            "1.0",
            "2.0",
            "2026-11-20T10:15:00+01:00",
            "C-1001",
            "picked_up",
            "D1",
            "12,00",
            "-1",
            "1e400",
            "JVBERi0=",
            "not base64!",
        ]
    ),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def paths(value, prefix=()):
    """Every (path) into a JSON value, so a mutation can hit any nesting level."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


@st.composite
def mutated_events(draw):
    event = copy.deepcopy(draw(st.sampled_from(STORY)))
    event["event_id"] = f"fuzz-{draw(st.integers(0, 10**9))}"
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from([p for p in paths(event) if p]))
        parent = event
        for step in target[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            parent.pop(target[-1], None)
        else:
            parent[target[-1]] = draw(json_values)
    return event


def check_answer(response, sent_events: int | None) -> None:
    assert response.status_code < 500, response.content[:500]
    body = response.json()
    if response.status_code == 202:
        results = body["results"]
        if sent_events is not None:
            assert len(results) == sent_events
        for result in results:
            assert result["status"] in ("accepted", "duplicate", "rejected")
            if result["status"] == "rejected":
                assert all(
                    isinstance(error["field"], str) and error["message"]
                    for error in result["errors"]
                )
            if result["status"] == "accepted":
                assert InboxEvent.objects.filter(event_id=result["event_id"]).exists()
    else:
        assert response.status_code in (400, 413)
        assert body["status"] == response.status_code
        assert isinstance(body["detail"], str)


def post(client, token, raw: bytes):
    return client.post(
        "/api/v1/events",
        data=raw,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


@FUZZ_SETTINGS
@given(event=mutated_events())
def test_mutated_contract_events_never_500(client, source_tokens, event):
    event["source"] = "erp"
    check_answer(post(client, source_tokens["erp"], json.dumps(event).encode()), 1)


@FUZZ_SETTINGS
@given(body=json_values)
def test_arbitrary_json_bodies_never_500(client, source_tokens, body):
    check_answer(post(client, source_tokens["erp"], json.dumps(body).encode()), None)


@FUZZ_SETTINGS
@given(events=st.lists(json_values, min_size=1, max_size=5))
def test_batches_of_arbitrary_values_are_judged_one_by_one(client, source_tokens, events):
    check_answer(
        post(client, source_tokens["erp"], json.dumps({"events": events}).encode()), len(events)
    )


@FUZZ_SETTINGS
@given(raw=st.binary(max_size=200))
def test_raw_bytes_never_500(client, source_tokens, raw):
    check_answer(post(client, source_tokens["erp"], raw), None)
