"""Structured logs: one JSON object per line (`LOG_FORMAT=json`), and the request id that
ties an intake request to the events it accepted (docs/OPERATIONS.md, "Follow one event").

Context goes in `extra=`: `logger.info("batch projected", extra={"batch_id": ...})` comes
out as `{"message": "batch projected", "batch_id": ..., ...}` in JSON and as
`batch projected batch_id=...` in the human-readable format.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest

REQUEST_ID_HEADER = "X-Request-ID"
# What a client's id may look like to be kept (a proxy's UUID, a trace id): short and plain,
# so it cannot forge log lines or grow them.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_REQUEST_ID_ATTRIBUTE = "_portal_request_id"

# What every LogRecord carries: anything else on a record came from `extra=`.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def request_id(request: HttpRequest) -> str:
    """The request's correlation id: its `X-Request-ID` if sane, else a new one (the same
    for the whole request)."""
    known = getattr(request, _REQUEST_ID_ATTRIBUTE, None)
    if known is None:
        sent = request.headers.get(REQUEST_ID_HEADER, "")
        known = sent if _SANE_REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
        setattr(request, _REQUEST_ID_ATTRIBUTE, known)
    return known


# The projection batch running in this thread (integration/services/processing.py), so
# that what it records (notifications) carries its id without threading it through
# every call between the batch and the outbox.
_PROJECTION_BATCH_ID: ContextVar[str] = ContextVar("projection_batch_id", default="")


def new_batch_id() -> str:
    return uuid.uuid4().hex[:16]


def current_batch_id() -> str:
    """The id of the projection batch running now, or "" outside one."""
    return _PROJECTION_BATCH_ID.get()


@contextmanager
def projection_batch(batch_id: str) -> Iterator[None]:
    """Run the block as projection batch `batch_id` (`current_batch_id()` inside it)."""
    token = _PROJECTION_BATCH_ID.set(batch_id)
    try:
        yield
    finally:
        _PROJECTION_BATCH_ID.reset(token)


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items() if key not in _RECORD_FIELDS}


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON: time (UTC), level, logger, message, the `extra=`
    fields, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_extra(record),
        }
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        # default=str: a datetime or a Decimal in `extra=` must not lose the line.
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Human-readable lines (the demo, the tests) with the `extra=` fields as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = _extra(record)
        if not extra:
            return text
        fields = " ".join(f"{key}={value}" for key, value in extra.items())
        head, newline, rest = text.partition("\n")
        return f"{head} {fields}{newline}{rest}"
