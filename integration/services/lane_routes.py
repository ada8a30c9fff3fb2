"""Lane routes: the slot each stored event gets.

An order's slot is a hash of its key. A shipment or an invoice is routed: the first event
that creates it (`shipment.created`, `invoice.posted`) decides its slot — the lane of the
first order it names, else its own key's hash (`visibility.lanes.lane_anchor`) — stored
in `LaneRoute` and kept, so an order's shipments, invoices and their events share the
order's lane (docs/ARCHITECTURE.md, "Projection lanes"). An event of a shipment or
invoice not created yet takes its own key's slot and stores nothing: had a milestone
that overtook its `shipment.created` decided the route, the whole shipment would leave
its order's lane. When the route is then decided, such events still pending or held move
into it (`_move_early_events`), so they are projected with their order's story.

Called inside intake's transaction. Two requests routing one new aggregate at once:
`ON CONFLICT DO NOTHING` makes the second wait for the first's commit and keep its
route, read again in a later statement (READ COMMITTED sees it then). New routes are
inserted in key order, so two such requests cannot wait for each other in a cycle.
Moving early events never waits: rows a batch has claimed (locked) are skipped and keep
their lane, so an event is in one lane only and no batch waits on intake or the reverse.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from django.db import connection

from integration.models import InboxState, LaneRoute
from visibility.lanes import CREATING_TYPES, aggregate_key, is_routed, lane_anchor, slot_of

_ROUTES = """
SELECT aggregate_key, lane_slot FROM integration_laneroute
WHERE aggregate_key = ANY(%s::text[])
"""

_ROUTE = """
INSERT INTO integration_laneroute (aggregate_key, lane_slot)
SELECT key, slot FROM unnest(%s::text[], %s::smallint[]) AS new(key, slot) ORDER BY key
ON CONFLICT (aggregate_key) DO NOTHING
RETURNING aggregate_key, lane_slot
"""


# The pending or held events naming a new route's shipment or invoice: candidates, checked
# by `aggregate_key` (the partial indexes `inbox_waiting_shipment`/`inbox_waiting_invoice`
# find them).
# The states are literals so the planner can match the indexes' condition.
_EARLY_EVENTS = f"""
SELECT id, event_type, data, lane_slot FROM integration_inboxevent
WHERE state IN ('{InboxState.PENDING.value}', '{InboxState.HELD.value}')
AND (data->>'shipment_id' = ANY(%s::text[]) OR data->>'invoice_number' = ANY(%s::text[]))
ORDER BY id
FOR UPDATE SKIP LOCKED
"""

_MOVE = """
UPDATE integration_inboxevent AS inbox SET lane_slot = moved.slot
FROM unnest(%s::bigint[], %s::smallint[]) AS moved(id, slot)
WHERE inbox.id = moved.id
"""


def _routes(keys: set[str]) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(_ROUTES, [sorted(keys)])
        return dict(cursor.fetchall())


def _route(first_slots: dict[str, int]) -> dict[str, int]:
    keys = sorted(first_slots)
    with connection.cursor() as cursor:
        cursor.execute(_ROUTE, [keys, [first_slots[key] for key in keys]])
        return dict(cursor.fetchall())


def _move_early_events(new_routes: dict[str, int]) -> int:
    """Move the stored events of newly routed aggregates (events that overtook their
    creation) into the route's lane; returns how many moved."""
    keys_of: dict[str, list[str]] = {"shipment": [], "invoice": []}
    for key in new_routes:
        kind, _, name = key.partition(":")
        keys_of[kind].append(name)
    moved: dict[int, int] = {}
    with connection.cursor() as cursor:
        cursor.execute(_EARLY_EVENTS, [keys_of["shipment"], keys_of["invoice"]])
        for event_id, event_type, data, lane_slot in cursor.fetchall():
            data = json.loads(data) if isinstance(data, str) else data
            slot = new_routes.get(aggregate_key(event_type, data) or "")
            if slot is not None and slot != lane_slot:
                moved[event_id] = slot
        if moved:
            cursor.execute(_MOVE, [list(moved), list(moved.values())])
    return len(moved)


def lane_slots_route(events: list[dict[str, Any]]) -> list[int]:
    """The lane slot of each valid event (`event_type`, `data`), in order; stores the
    route of each shipment and invoice created here for the first time."""
    keys = [aggregate_key(event["event_type"], event["data"]) for event in events]
    routed = {key for key in keys if key is not None and is_routed(key)}
    slots = _routes(routed) if routed else {}
    first_slots: dict[str, int] = {}
    for event, key in zip(events, keys, strict=True):
        if (
            key is not None
            and key in routed
            and key not in slots
            and key not in first_slots
            and event["event_type"] in CREATING_TYPES
        ):
            anchor = lane_anchor(event["event_type"], event["data"])
            first_slots[key] = slot_of(anchor or key)
    if first_slots:
        new_routes = _route(first_slots)
        if new_routes:
            _move_early_events(new_routes)
        slots.update(new_routes)
        if lost := first_slots.keys() - slots.keys():
            slots.update(_routes(lost))
    # Not created yet (a milestone before its shipment.created): its own key's slot, not
    # stored, until the route is decided and moves it. One a batch had claimed then, or
    # stored by a request that committed after the route's, stays in that lane: rows
    # are locked in one order (visibility.services.projection.locks), and only creating
    # events, which always follow the route, insert the aggregate's row.
    return [slots[key] if key in slots else slot_of(key) for key in keys]


def lane_routes_forget(*, shipment_ids: Collection[str]) -> int:
    """Delete the routes of shipments that are gone (retention deleted them); answer how
    many. One that comes back is routed again by its next creating event."""
    deleted, _ = LaneRoute.objects.filter(
        aggregate_key__in=[f"shipment:{shipment_id}" for shipment_id in shipment_ids]
    ).delete()
    return deleted
