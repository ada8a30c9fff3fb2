"""Fuzzing the contract's limits (1.1) inside a normal story: values at the edges (year 1
and 9999 with ±14:00 offsets, the 1970 and 2100 bounds, integers around 2^31 and 2^63,
lone surrogates, control characters, NaN and Infinity, deep nesting, long text and lists)
are mixed into the order-to-cash story's batches. Whatever they hit:

- intake never answers 500;
- every accepted event is projected (or held for a piece that is missing), never failed
  by something intake let through;
- every normal event of the story is projected.

The figures (examples, events sent, 500s, events lost) are printed at the end of the run
(docs/EVENTS.md quotes them).
"""

from __future__ import annotations

import copy
import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integration.models import InboxEvent, RejectedEvent
from integration.services.processing import process_inbox_until_empty
from tests.helpers import read_jsonl

pytestmark = pytest.mark.django_db

STORY = read_jsonl("order-to-cash.jsonl")
FUZZ_SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
RUN = itertools.count()


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"x": value}
    return value


TIMESTAMPS = st.sampled_from(
    [
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "1970-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:59:59+01:00",
        "2100-01-01T00:00:00Z",
        "2100-01-01T00:00:01Z",
        "2099-12-31T23:59:59-14:00",
        "2026-11-20T10:15:00+24:00",
        "2026-02-29T10:15:00Z",
        "2026-11-18T10:15:00.123456789+05:45",
    ]
)
DATES = st.sampled_from(
    ["0001-01-01", "9999-12-31", "1970-01-01", "2100-01-01", "2100-01-02", "2026-02-29"]
)
INTEGERS = st.one_of(
    st.sampled_from([0, 1, -1, 2**31 - 1, 2**31, 2**40, 2**53, 2**63 - 1, 2**63, -(2**63)]),
    st.integers(min_value=2**31 - 3, max_value=2**31 + 3),
    st.integers(min_value=2**63 - 3, max_value=2**63 + 3),
)
NUMBERS = st.sampled_from(
    [
        "123456789012345678.123456",
        "999999999999999999.99",
        "1234567890123456789",
        "1.1234567",
        "0.001",
        "12.345",
        "NaN",
        "-0",
        123456789012345678,
        10**30,
        float("nan"),
        float("inf"),
        float("-inf"),
        1e300,
        1.5e-7,
        0.1,
    ]
)
TEXTS = st.sampled_from(
    [
        "",
        " ",
        " lead",
        "trail ",
        "XM-NL\nBcc: x@y",
        "tab\there",
        "nul\x00byte",
        "del\x7f",
        "lone \ud800 surrogate",
        "\udfff",
        "pair \U0001f69a ok",
        "PO/2026/17",
        "x" * 128,
        "x" * 129,
        "y" * 1000,
        "y" * 1001,
    ]
)
STRUCTURES = st.one_of(
    st.builds(nested, st.sampled_from([28, 29, 30, 31, 32, 33, 40, 200, 500])),
    st.builds(lambda n: [f"T{i}" for i in range(n)], st.sampled_from([999, 1000, 1001])),
)
EDGE_VALUES = st.one_of(TIMESTAMPS, DATES, INTEGERS, NUMBERS, TEXTS, STRUCTURES, st.none())


def kind_of(value) -> str:
    if isinstance(value, bool) or value is None:
        return "other"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str) and len(value) > 19 and value[10] == "T":
        return "timestamp"
    if isinstance(value, str) and len(value) == 10 and value[4] == "-":
        return "date"
    if isinstance(value, str) and value.replace(".", "").isdigit():
        return "number"
    if isinstance(value, str):
        return "text"
    return "structure"


# Edge values of the same kind as the value they replace, so that most land in a field the
# portal reads and some pass intake (a mismatch of kinds only tests rejection).
EDGES_OF_KIND = {
    "integer": INTEGERS,
    "number": NUMBERS,
    "timestamp": TIMESTAMPS,
    "date": DATES,
    "text": TEXTS,
    "structure": STRUCTURES,
    "other": EDGE_VALUES,
}


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


def value_at(value, path: tuple):
    for step in path:
        value = value[step]
    return value


def story_paths_by_kind() -> dict[str, list[tuple[int, tuple]]]:
    """Every (story event, path) a mutation may hit, by the kind of value there: the
    envelope's occurred_at and sequence, and every field under data."""
    by_kind: dict[str, list[tuple[int, tuple]]] = {}
    for index, event in enumerate(STORY):
        for path in paths(event):
            if path in (("occurred_at",), ("sequence",)):
                by_kind.setdefault("envelope", []).append((index, path))
            elif path[:1] == ("data",) and len(path) > 1:
                kind = kind_of(value_at(event, path))
                by_kind.setdefault(kind, []).append((index, path))
    return by_kind


PATHS_BY_KIND = story_paths_by_kind()
# Ranges are what storage refuses (int32, numeric, timestamp): those kinds count twice.
KINDS = [*sorted(PATHS_BY_KIND), "integer", "number", "timestamp", "envelope"]
EDGES_OF_KIND["envelope"] = st.one_of(TIMESTAMPS, INTEGERS)


@st.composite
def edge_events(draw, run: int, index: int) -> dict:
    # A kind first, then an event and a path holding that kind: the eight integer fields
    # of the story are hit as often as its dozens of texts.
    kind = draw(st.sampled_from(KINDS))
    template, target = draw(st.sampled_from(PATHS_BY_KIND[kind]))
    event = copy.deepcopy(STORY[template])
    like = draw(st.booleans()) or draw(st.booleans())  # three times in four
    value_at(event, target[:-1])[target[-1]] = draw(EDGES_OF_KIND[kind] if like else EDGE_VALUES)
    if draw(st.integers(0, 3)) == 0:
        event["data"]["ignored"] = draw(EDGE_VALUES)
    event["event_id"] = f"fuzz-{run}-{index}"
    return event


@st.composite
def story_with_edges(draw) -> tuple[list[dict], list[dict]]:
    run = next(RUN)
    normal = []
    for event in STORY:
        event = copy.deepcopy(event)
        event["event_id"] = f"{event['event_id']}-run{run}"
        normal.append(event)
    edges = [draw(edge_events(run, index)) for index in range(draw(st.integers(1, 6)))]
    return normal, edges


@pytest.fixture(scope="module")
def figures(request):
    counts = {
        "examples": 0,
        "events sent": 0,
        "edge events": 0,
        "edge events accepted": 0,
        "edge events rejected": 0,
        "edge events duplicate": 0,
        "500s": 0,
        "events lost": 0,
    }
    yield counts
    line = "contract limits fuzz: " + ", ".join(f"{name} {n}" for name, n in counts.items())
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + line)


def post(client, token: str, events: list) -> tuple[int, list[dict]]:
    response = client.post(
        "/api/v1/events",
        data=json.dumps({"events": events}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    if response.status_code != 202:
        return response.status_code, []
    return response.status_code, response.json()["results"]


@FUZZ_SETTINGS
@given(sample=story_with_edges(), data=st.data())
def test_edge_values_in_a_story_never_500_and_never_lose_an_event(
    client, brenner, source_tokens, figures, sample, data
):
    normal, edges = sample
    accepted: list[str] = []
    batches = {source: [e for e in normal if e["source"] == source] for source in ("erp", "tms")}
    for edge in edges:
        batch = batches["erp" if edge.get("source") == "erp" else "tms"]
        batch.insert(data.draw(st.integers(0, len(batch))), edge)
    # Counted once every draw is done: Hypothesis may abandon an example while drawing.
    figures["examples"] += 1
    figures["edge events"] += len(edges)
    for source, batch in batches.items():
        status, results = post(client, source_tokens[source], batch)
        figures["events sent"] += len(batch)
        figures["500s"] += status >= 500
        assert status == 202, status
        assert len(results) == len(batch)
        for result in results:
            if result["status"] == "accepted":
                accepted.append(result["event_id"])
                figures["edge events accepted"] += result["event_id"].startswith("fuzz-")
            elif result["status"] == "duplicate":
                figures["edge events duplicate"] += 1
            elif result["status"] == "rejected":
                figures["edge events rejected"] += 1
                assert all(
                    error["field"] is not None and error["message"] for error in result["errors"]
                )

    process_inbox_until_empty()

    stored = {row.event_id: row for row in InboxEvent.objects.filter(event_id__in=accepted)}
    lost = [event_id for event_id in accepted if event_id not in stored]
    failed = [
        (row.event_id, row.state, row.last_error)
        for row in stored.values()
        if row.state not in ("processed", "held") or row.attempts or row.last_error
    ]
    unprojected = [
        event["event_id"]
        for event in normal
        if event["event_id"] not in stored or stored[event["event_id"]].state != "processed"
    ]
    figures["events lost"] += len(lost) + len(unprojected)
    assert lost == [] and unprojected == [], (lost, unprojected)
    assert failed == [], failed
    rejected_ids = {edge["event_id"] for edge in edges if edge["event_id"] not in stored} & {
        row for row in RejectedEvent.objects.values_list("event_id", flat=True)
    }
    assert all(edge["event_id"] in stored or edge["event_id"] in rejected_ids for edge in edges)
