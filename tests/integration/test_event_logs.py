"""Structured logs: one event followed from its intake request to the batch that projected
it, as JSON lines (docs/OPERATIONS.md, "Follow one event")."""

from __future__ import annotations

import json
import logging

import pytest

from core.logs import JsonFormatter, TextFormatter
from integration.services.processing import process_inbox_until_empty
from tests.helpers import post_events

pytestmark = pytest.mark.django_db


def json_lines(caplog) -> list[dict]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(record)) for record in caplog.records]


def test_one_event_is_followed_from_its_request_to_its_batch(
    client, brenner, source_tokens, story, caplog
):
    caplog.set_level(logging.INFO)
    event = story[0]

    post_events(client, source_tokens["erp"], event, HTTP_X_REQUEST_ID="req-0042")
    process_inbox_until_empty()

    lines = json_lines(caplog)
    [received] = [line for line in lines if line["message"] == "events received"]
    [batch] = [line for line in lines if line["message"] == "batch projected"]
    assert received["request_id"] == "req-0042"
    assert received["source"] == "erp"
    assert received["accepted"] == [event["event_id"]]
    assert received["level"] == "INFO"
    assert received["logger"] == "integration.api.views"
    assert f"erp:{event['event_id']}" in batch["processed"]
    assert batch["claimed"] == 1
    assert len(batch["batch_id"]) == 16


def test_a_json_line_survives_odd_values_and_tracebacks():
    record = logging.makeLogRecord(
        {"msg": "odd %s", "args": ("value",), "levelname": "ERROR", "name": "x"}
    )
    record.when = object()  # not JSON: written as text, the line is kept
    record.note = 'quote " and newline \n'
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()

    line = JsonFormatter().format(record)

    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "odd value"
    assert parsed["note"] == 'quote " and newline \n'
    assert "ValueError: boom" in parsed["exc_info"]


def test_the_text_format_shows_the_extra_fields():
    record = logging.makeLogRecord({"msg": "batch projected", "batch_id": "abc", "claimed": 3})

    assert TextFormatter("%(message)s").format(record) == "batch projected batch_id=abc claimed=3"
