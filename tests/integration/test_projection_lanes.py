"""Projection lanes: events are partitioned by their shipment, order or invoice, and
batches of different lanes project at the same time (docs/ARCHITECTURE.md, "Projection
lanes")."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from integration.models import InboxEvent, InboxState
from integration.services import processing
from integration.services.intake import receive_events
from integration.services.processing import (
    BatchOutcome,
    process_inbox_batch,
    process_inbox_until_empty,
)
from tests.factories import (
    DocumentEventFactory,
    MilestoneEventFactory,
    TenantFactory,
    order_to_cash_stories,
)
from tests.helpers import read_model_state, reset_read_models
from visibility.event_types import EventType
from visibility.lanes import AGGREGATE_KEYS, lane_slot


def test_every_event_type_has_an_aggregate_key():
    assert set(AGGREGATE_KEYS) == set(EventType)


def test_the_events_of_one_shipment_share_a_lane_and_shipments_spread_over_lanes():
    milestone = MilestoneEventFactory(shipment_id="SHP-1")
    document = DocumentEventFactory(shipment_id="SHP-1")
    assert lane_slot(milestone["event_type"], milestone["data"]) == lane_slot(
        document["event_type"], document["data"]
    )
    slots = {lane_slot("shipment.milestone", {"shipment_id": f"SHP-{n}"}) for n in range(50)}
    assert len({slot % 4 for slot in slots}) == 4


@pytest.mark.django_db
def test_intake_stores_the_lane_slot(brenner):
    [event] = [MilestoneEventFactory(shipment_id="SHP-778120")]
    receive_events(source="tms", events=[event])
    assert InboxEvent.objects.get().lane_slot == lane_slot(event["event_type"], event["data"])


TENANTS = {"acme": ["A-1001", "A-1002"], "delta": ["D-4001"]}


def _stories() -> list[list[dict]]:
    """Orders and shipments (one order each); what happens to each shipment (keyed by
    it alone, so two lanes' batches share no row); invoices (which name both)."""
    events = order_to_cash_stories(
        [number for numbers in TENANTS.values() for number in numbers], per_account=30
    )
    stages = [
        {"order.released", "shipment.created"},
        {"shipment.milestone", "shipment.delayed", "document.available", "freight.charge_posted"},
        {"invoice.posted", "invoice.paid"},
    ]
    assert set().union(*stages) >= {event["event_type"] for event in events}
    return [[event for event in events if event["event_type"] in stage] for stage in stages]


def _receive(events: list[dict]) -> None:
    for source in ("erp", "tms"):
        mine = [event for event in events if event["source"] == source]
        for offset in range(0, len(mine), 1000):
            receive_events(source=source, events=mine[offset : offset + 1000])


@pytest.mark.django_db(transaction=True)
def test_two_lanes_project_at_the_same_time_and_build_what_one_lane_builds(settings, monkeypatch):
    for slug, accounts in TENANTS.items():
        TenantFactory(slug=slug, account_numbers=accounts)
    orders_and_shipments, shipment_events, invoices = _stories()

    settings.INBOX_LANES = 1
    for stage in _stories():
        _receive(stage)
        process_inbox_until_empty()
    one_lane = read_model_state()
    reset_read_models()

    settings.INBOX_LANES = 2
    _receive(orders_and_shipments)
    process_inbox_until_empty()
    _receive(shipment_events)
    # Each of two threads projects one batch. Both must get past locking their rows
    # before either commits: with batches projected one at a time, the second would wait
    # for the first and neither would get there (the barrier breaks after its timeout).
    both_locked = threading.Barrier(2, timeout=30)
    lock = processing.aggregates_lock

    def lock_then_meet(named):
        lock(named)
        if threading.current_thread().name.startswith("lane-"):
            both_locked.wait()

    monkeypatch.setattr(processing, "aggregates_lock", lock_then_meet)
    outcomes: dict[str, BatchOutcome] = {}
    errors: list[BaseException] = []

    def project_one_batch() -> None:
        try:
            outcomes[threading.current_thread().name] = process_inbox_batch()
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=project_one_batch, name=f"lane-{n}") for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    assert [outcome.claimed > 0 for outcome in outcomes.values()] == [True, True]
    lanes = {
        slot % 2
        for slot in InboxEvent.objects.filter(state=InboxState.PROCESSED)
        .exclude(event_type__in=["order.released", "shipment.created"])
        .values_list("lane_slot", flat=True)
    }
    assert lanes == {0, 1}
    process_inbox_until_empty()
    _receive(invoices)
    process_inbox_until_empty()
    assert not InboxEvent.objects.exclude(state=InboxState.PROCESSED).exists()
    assert read_model_state() == one_lane
