"""Several workers sharing the inbox, four processes projecting lanes at once, build the
same read models as one process (docs/ARCHITECTURE.md, "Projection lanes")."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest

from core.timestamps import parse_timestamp
from integration.models import InboxEvent, InboxState
from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from tests.factories import (
    MilestoneEventFactory,
    ShipmentCreatedEventFactory,
    TenantFactory,
    order_to_cash_stories,
    stamp,
)
from tests.helpers import read_model_state, reset_read_models
from tests.processes import start_worker, stop, wait_until, worker_log
from visibility.lanes import slot_of

TENANTS = {"acme": ["A-1001", "A-1002"], "brightline": ["B-2001"], "delta": ["D-4001", "D-4002"]}


@pytest.mark.fault
@pytest.mark.django_db(transaction=True)
def test_two_workers_with_two_processes_each_build_what_one_process_builds():
    """An order's story shares its lane, but consolidated shipments link orders of other
    lanes, and a milestone that came first stays in its shipment's own lane when a batch
    had claimed it as the route was decided, so the four processes meet on rows: no
    deadlock, nothing left behind, the same rows."""
    for slug, accounts in TENANTS.items():
        TenantFactory(slug=slug, account_numbers=accounts)
    events = order_to_cash_stories(
        [number for numbers in TENANTS.values() for number in numbers], per_account=110
    )
    crossing = _crossing_lanes(events)
    events += [event for pair in crossing.values() for event in pair]
    events.sort(key=lambda event: event["occurred_at"])
    assert len(events) > 2_500

    def receive() -> None:
        """In windows of 300 events (by occurred_at), each source posting its share."""
        for offset in range(0, len(events), 300):
            window = events[offset : offset + 300]
            for source in ("erp", "tms"):
                receive_events(source=source, events=[e for e in window if e["source"] == source])

    receive()
    process_inbox_until_empty()
    assert not InboxEvent.objects.exclude(state=InboxState.PROCESSED).exists()
    sequential = read_model_state()
    reset_read_models()

    receive()
    lanes = dict(InboxEvent.objects.values_list("event_id", "lane_slot"))
    assert all(lanes[f"tms-x{n}-m"] == lanes[f"tms-x{n}-s"] for n in crossing), (
        "the early milestones moved into their shipment's lane"
    )
    _leave_stragglers_in_their_own_lane(list(crossing)[::2])
    lanes = dict(InboxEvent.objects.values_list("event_id", "lane_slot"))
    assert any(lanes[f"tms-x{n}-m"] != lanes[f"tms-x{n}-s"] for n in crossing), (
        "no milestone left in its own lane"
    )
    second_orders = {
        n: created["data"]["orders"][1]["order_number"] for n, (_, created) in crossing.items()
    }
    assert any(
        lanes[f"tms-x{n}-s"] != slot_of(f"order:{second}") for n, second in second_orders.items()
    ), "no consolidated shipment away from its second order's lane"
    workers = [
        start_worker("--concurrency=2", INBOX_BATCH_SIZE="100", INBOX_LANES="8") for _ in range(2)
    ]
    try:
        from portal.celery import app

        for _ in range(8):
            app.send_task("integration.tasks.process_inbox")
        drained = wait_until(
            lambda: not InboxEvent.objects.exclude(state=InboxState.PROCESSED).exists(),
            timeout=120,
            interval=0.2,
        )
    finally:
        logs = []
        for worker in workers:
            stop(worker)
            logs.append(worker_log(worker))

    assert drained, (
        list(
            InboxEvent.objects.exclude(state=InboxState.PROCESSED).values_list(
                "event_id", "state", "waiting_for", "last_error"
            )[:10]
        ),
        [log[-3000:] for log in logs],
    )
    assert not any("deadlock detected" in log for log in logs)
    assert read_model_state() == sequential


def _leave_stragglers_in_their_own_lane(numbers: list[int]) -> None:
    """Put these crossing milestones back in their shipment's own key's lane, as an early
    event is left when a batch had claimed it as its route was decided."""
    for n in numbers:
        InboxEvent.objects.filter(event_id=f"tms-x{n}-m").update(
            lane_slot=slot_of(f"shipment:SHP-X{n}")
        )


def _crossing_lanes(events: list[dict]) -> dict[int, list[dict]]:
    """For every fifth order, a shipment consolidating it with the account's previous
    order (in the lane of the newer one), and its milestone, sent a window earlier
    (it waits in the shipment's own lane until the shipment's route moves it) or an hour
    earlier; by their number."""
    released = sorted(
        (event for event in events if event["event_type"] == "order.released"),
        key=lambda event: (event["data"]["customer_account"], event["occurred_at"]),
    )
    crossing: dict[int, list[dict]] = {}
    for index, (previous, order) in enumerate(pairwise(released)):
        if index % 5 or previous["data"]["customer_account"] != order["data"]["customer_account"]:
            continue
        shipment_id, at = f"SHP-X{index}", parse_timestamp(order["occurred_at"])
        crossing[index] = [
            MilestoneEventFactory(
                event_id=f"tms-x{index}-m",
                occurred_at=stamp(at - timedelta(hours=100 if index % 10 else 1)),
                shipment_id=shipment_id,
            ),
            ShipmentCreatedEventFactory(
                event_id=f"tms-x{index}-s",
                occurred_at=stamp(at + timedelta(hours=2)),
                shipment_id=shipment_id,
                order_numbers=[order["data"]["order_number"], previous["data"]["order_number"]],
            ),
        ]
    assert crossing
    return crossing
