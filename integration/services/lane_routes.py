"""Lane routes: the slot each stored event gets.

An order's slot is a hash of its key. A shipment or an invoice is routed: the first event
that creates it (`shipment.created`, `invoice.posted`) decides its slot — the lane of the
first order it names, else its own key's hash (`visibility.lanes.lane_anchor`) — stored
in `LaneRoute` and kept, so an order's shipments, invoices and their events share the
order's lane (docs/ARCHITECTURE.md, "Projection lanes"). An event of a shipment or
invoice not created yet takes its own key's slot and stores nothing: had a milestone
that overtook its `shipment.created` decided the route, the whole shipment would leave
its order's lane.

Called inside intake's transaction. Two requests routing one new aggregate at once:
`ON CONFLICT DO NOTHING` makes the second wait for the first's commit and keep its
route, read again in a later statement (READ COMMITTED sees it then). New routes are
inserted in key order, so two such requests cannot wait for each other in a cycle.
"""

from __future__ import annotations

from typing import Any

from django.db import connection

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
        slots.update(_route(first_slots))
        if lost := first_slots.keys() - slots.keys():
            slots.update(_routes(lost))
    # Not created yet (a milestone before its shipment.created): its own key's slot, not
    # stored. It is held until its aggregate exists, and then projected in that lane
    # while the aggregate's later events are in the route's: rows are locked in one
    # order (visibility.services.projection.locks), and only creating events, which
    # always follow the route, insert the aggregate's row.
    return [slots[key] if key in slots else slot_of(key) for key in keys]
