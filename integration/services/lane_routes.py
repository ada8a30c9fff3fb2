"""Lane routes: the slot each stored event gets, its aggregate's for good.

An order's slot is a hash of its key. A shipment or an invoice is routed: the first event
intake stores for it decides its slot (the lane of the first order it names, if it names
one: `visibility.lanes.lane_anchor`), stored in `LaneRoute` and kept, so an order's
shipments, invoices and their events share the order's lane and every event of one
aggregate is projected by one batch at a time (docs/ARCHITECTURE.md, "Projection lanes").

Called inside intake's transaction. Two requests routing one new aggregate at once:
`ON CONFLICT DO NOTHING` makes the second wait for the first's commit and keep its
route, read again in a later statement (READ COMMITTED sees it then). New routes are
inserted in key order, so two such requests cannot wait for each other in a cycle.
"""

from __future__ import annotations

from typing import Any

from django.db import connection

from visibility.lanes import aggregate_key, is_routed, lane_anchor, slot_of

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


def _routes(keys: set[str]) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(_ROUTES, [sorted(keys)])
        return dict(cursor.fetchall())


def _route(first_slots: dict[str, int]) -> dict[str, int]:
    keys = sorted(first_slots)
    with connection.cursor() as cursor:
        cursor.execute(_ROUTE, [keys, [first_slots[key] for key in keys]])
        return dict(cursor.fetchall())


def lane_slots_route(events: list[dict[str, Any]]) -> list[int]:
    """The lane slot of each valid event (`event_type`, `data`), in order; routes the
    shipments and invoices seen for the first time."""
    keys = [aggregate_key(event["event_type"], event["data"]) for event in events]
    routed = {key for key in keys if is_routed(key)}
    slots = _routes(routed) if routed else {}
    if new := routed - slots.keys():
        # Its own key's slot, unless an event of the request names its order (a milestone
        # may come before its shipment.created in one request).
        first_slots = {key: slot_of(key) for key in new}
        anchored: set[str] = set()
        for event, key in zip(events, keys, strict=True):
            if (
                key in new
                and key not in anchored
                and (anchor := lane_anchor(event["event_type"], event["data"]))
            ):
                first_slots[key] = slot_of(anchor)
                anchored.add(key)
        slots.update(_route(first_slots))
        if lost := new - slots.keys():
            slots.update(_routes(lost))
    return [slots.get(key, slot_of(key)) if key in routed else slot_of(key) for key in keys]
