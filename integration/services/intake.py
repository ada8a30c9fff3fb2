"""Intake: judge each event against the contract and store it durably in one round trip.

`accepted` means committed: the answer is built only after the transaction that wrote
the inbox rows commits. The worker is woken on commit (`wake_inbox_worker`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.db.bulk import server_bound_cursor
from core.timestamps import parse_timestamp
from integration.contract import storable_copy, validate_event
from integration.models import InboxState, RejectedEvent
from integration.services.lane_routes import lane_slots_route
from integration.services.processing import wake_inbox_worker
from integration.source_policy import SourcePolicy

MAX_BATCH_EVENTS = 1000

_INSERT_INBOX = """
INSERT INTO integration_inboxevent
    (source, event_id, event_type, spec_version, occurred_at, sequence, data, received_at,
     state, waiting_for, attempts, last_error, request_id, batch_id, lane_slot)
SELECT %b::text, rows.event_id, rows.event_type, rows.spec_version, rows.occurred_at,
       rows.sequence, rows.data::jsonb, %b::timestamptz, %b::text, '', 0, '', %b::text, '',
       rows.lane_slot
FROM unnest(%b::text[], %b::text[], %b::text[], %b::timestamptz[], %b::bigint[], %b::text[],
            %b::smallint[])
    AS rows(event_id, event_type, spec_version, occurred_at, sequence, data, lane_slot)
ON CONFLICT (source, event_id) DO NOTHING
RETURNING event_id
"""


class BatchTooLarge(ValueError):
    pass


@dataclass(frozen=True)
class EventResult:
    event_id: Any
    status: str
    errors: list[dict[str, str]] | None = None

    def as_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {"event_id": self.event_id, "status": self.status}
        if self.errors:
            result["errors"] = self.errors
        return result


def events_from_body(body: Any) -> list[Any]:
    """The events of a request body: one event object, or {"events": [...]}."""
    if isinstance(body, dict) and "events" in body and "event_type" not in body:
        events = body["events"]
        if not isinstance(events, list):
            raise ValueError('"events" must be a list of event objects')
        if len(events) > MAX_BATCH_EVENTS:
            raise BatchTooLarge(
                f"a batch holds at most {MAX_BATCH_EVENTS} events; this one has {len(events)}"
            )
        if not events:
            raise ValueError('"events" must not be empty')
        return events
    if isinstance(body, dict):
        return [body]
    raise ValueError('the body must be an event object or {"events": [...]}')


def receive_events(*, source: str, events: list[Any], request_id: str = "") -> list[EventResult]:
    """Validate, store and answer a batch of events from an authenticated source;
    `request_id` is the intake request's correlation id, kept on each stored event."""
    received_at = timezone.now()
    max_clock_skew = timedelta(hours=settings.EVENTS_MAX_CLOCK_SKEW_HOURS)
    results: list[EventResult | None] = [None] * len(events)
    accepted: dict[str, tuple[int, dict[str, Any]]] = {}
    rejected_rows: list[RejectedEvent] = []
    policy = SourcePolicy.load(source, events)
    for position, event in enumerate(events):
        errors = validate_event(
            event,
            authenticated_source=source,
            received_at=received_at,
            max_clock_skew=max_clock_skew,
        ) or policy.errors(event)
        if errors:
            # What was sent may hold what PostgreSQL cannot (a lone surrogate, NaN, a NUL):
            # the stored copy and the answer carry a storable copy, the errors say why.
            stored, errors = storable_copy(event), storable_copy(errors)
            event_id = stored.get("event_id") if isinstance(stored, dict) else None
            results[position] = EventResult(event_id, "rejected", errors)
            rejected_rows.append(_rejected_row(source, stored, errors, received_at))
            continue
        valid_id: str = event["event_id"]  # a valid event is an object with a string id
        if valid_id in accepted:
            results[position] = EventResult(valid_id, "duplicate")
        else:
            accepted[valid_id] = (position, event)

    with transaction.atomic():
        inserted = _insert_inbox_rows(
            source, [event for _, event in accepted.values()], received_at, request_id
        )
        if rejected_rows:
            RejectedEvent.objects.bulk_create(rejected_rows)
        if inserted:
            transaction.on_commit(wake_inbox_worker)
    for event_id, (position, _) in accepted.items():
        results[position] = EventResult(
            event_id, "accepted" if event_id in inserted else "duplicate"
        )
    return [result for result in results if result is not None]


def _insert_inbox_rows(
    source: str, events: list[dict[str, Any]], received_at, request_id: str
) -> set[str]:
    if not events:
        return set()
    lane_slots = lane_slots_route(events)
    with server_bound_cursor() as cursor:
        cursor.execute(
            _INSERT_INBOX,
            [
                source,
                received_at,
                InboxState.PENDING.value,
                request_id,
                [event["event_id"] for event in events],
                [event["event_type"] for event in events],
                [event["spec_version"] for event in events],
                [parse_timestamp(event["occurred_at"]) for event in events],
                [event.get("sequence") for event in events],
                [json.dumps(event["data"]) for event in events],
                lane_slots,
            ],
        )
        return {event_id for (event_id,) in cursor.fetchall()}


def _rejected_row(
    source: str, event: Any, errors: list[dict[str, str]], received_at
) -> RejectedEvent:
    event_id = event.get("event_id") if isinstance(event, dict) else ""
    event_type = event.get("event_type") if isinstance(event, dict) else ""
    return RejectedEvent(
        source=source,
        event_id=str(event_id or "")[:500],
        event_type=str(event_type or "")[:100],
        body=event,
        errors=errors,
        received_at=received_at,
    )
