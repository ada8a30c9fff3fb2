"""Projection lanes: events are partitioned by their shipment, order or invoice, and
batches of different lanes project at the same time (docs/ARCHITECTURE.md, "Projection
lanes")."""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import pytest
from django.db import connection, connections, transaction

from accounts.models import CustomerAccount
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
    FreightChargeEventFactory,
    InvoicePaidEventFactory,
    InvoicePostedEventFactory,
    MilestoneEventFactory,
    OrderReleasedEventFactory,
    ShipmentCreatedEventFactory,
    TenantFactory,
    order_to_cash_stories,
)
from tests.helpers import read_model_state, reset_read_models
from visibility.event_types import EventType
from visibility.lanes import AGGREGATE_KEYS, slot_of
from visibility.services.projection import snapshots


def test_every_event_type_has_an_aggregate_key():
    assert set(AGGREGATE_KEYS) == set(EventType)


def _slots() -> dict[str, int]:
    return dict(InboxEvent.objects.values_list("event_id", "lane_slot"))


@pytest.mark.django_db
def test_an_orders_shipments_invoices_and_their_events_share_the_orders_lane(brenner):
    """So an order's story is projected in order by one lane, not held across lanes."""
    receive_events(
        source="erp", events=[OrderReleasedEventFactory(event_id="o", order_number="SO-1")]
    )
    receive_events(
        source="tms",
        events=[
            ShipmentCreatedEventFactory(
                event_id="s", shipment_id="SHP-1", order_numbers=["SO-1", "SO-2"]
            ),
        ],
    )
    receive_events(
        source="tms",
        events=[
            MilestoneEventFactory(event_id="m", shipment_id="SHP-1"),
            DocumentEventFactory(event_id="d", shipment_id="SHP-1"),
            FreightChargeEventFactory(event_id="c", shipment_id="SHP-1"),
        ],
    )
    receive_events(
        source="erp",
        events=[
            InvoicePostedEventFactory(
                event_id="i", invoice_number="INV-1", order_numbers=["SO-1"], shipment_ids=[]
            ),
            InvoicePaidEventFactory(event_id="p", invoice_number="INV-1"),
        ],
    )
    assert _slots() == dict.fromkeys(["o", "s", "m", "d", "c", "i", "p"], slot_of("order:SO-1"))


@pytest.mark.django_db
def test_a_milestone_that_overtakes_its_shipment_does_not_take_the_shipment_from_its_orders_lane(
    brenner,
):
    """The milestone has its own key's lane (it waits there for its shipment); the
    shipment, created later, and its later events join the order's lane."""
    receive_events(source="tms", events=[MilestoneEventFactory(event_id="m", shipment_id="S-9")])
    receive_events(
        source="tms",
        events=[
            ShipmentCreatedEventFactory(event_id="s", shipment_id="S-9", order_numbers=["SO-7"]),
            MilestoneEventFactory(event_id="m2", shipment_id="S-9"),
        ],
    )
    receive_events(source="tms", events=[MilestoneEventFactory(event_id="m3", shipment_id="S-9")])
    assert slot_of("shipment:S-9") != slot_of("order:SO-7")
    assert _slots() == dict.fromkeys(["m", "s", "m2", "m3"], slot_of("order:SO-7"))


@pytest.mark.django_db
def test_an_early_milestone_moves_to_its_orders_lane_and_projects_without_a_hold(settings, brenner):
    """A milestone posted before its shipment.created is moved into the lane the creation
    decides, so one batch of that lane projects both, creation first: no hold."""
    settings.INBOX_LANES = 4096
    receive_events(
        source="erp", events=[OrderReleasedEventFactory(event_id="o", order_number="SO-7")]
    )
    receive_events(source="tms", events=[MilestoneEventFactory(event_id="m", shipment_id="S-9")])
    assert _slots()["m"] == slot_of("shipment:S-9")
    receive_events(
        source="tms",
        events=[
            ShipmentCreatedEventFactory(event_id="s", shipment_id="S-9", order_numbers=["SO-7"])
        ],
    )
    assert _slots()["m"] == slot_of("order:SO-7")

    outcomes = []
    while (outcome := process_inbox_batch()).claimed:
        outcomes.append(outcome)
    assert sum(outcome.held for outcome in outcomes) == 0
    assert set(InboxEvent.objects.values_list("state", flat=True)) == {InboxState.PROCESSED}


@pytest.mark.django_db
def test_an_early_payment_moves_to_its_invoices_lane(brenner):
    receive_events(
        source="erp", events=[InvoicePaidEventFactory(event_id="p", invoice_number="I-9")]
    )
    receive_events(
        source="erp",
        events=[
            InvoicePostedEventFactory(
                event_id="i", invoice_number="I-9", order_numbers=["SO-7"], shipment_ids=[]
            )
        ],
    )
    assert _slots() == dict.fromkeys(["p", "i"], slot_of("order:SO-7"))


@pytest.mark.django_db(transaction=True)
def test_an_early_event_that_a_batch_has_claimed_keeps_its_lane(brenner):
    """Moving never waits for a batch: a row locked by one stays where it is."""
    receive_events(source="tms", events=[MilestoneEventFactory(event_id="m", shipment_id="S-9")])
    locked, release = threading.Event(), threading.Event()

    def hold_the_row_like_a_batch():
        try:
            with transaction.atomic():
                InboxEvent.objects.select_for_update().get(event_id="m")
                locked.set()
                release.wait(timeout=10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_row_like_a_batch)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        started = time.monotonic()
        receive_events(
            source="tms",
            events=[
                ShipmentCreatedEventFactory(event_id="s", shipment_id="S-9", order_numbers=["SO-7"])
            ],
        )
        assert time.monotonic() - started < 5
    finally:
        release.set()
        holder.join()
    assert _slots() == {"m": slot_of("shipment:S-9"), "s": slot_of("order:SO-7")}


@pytest.mark.django_db
def test_a_shipment_keeps_the_lane_its_first_creation_chose(brenner):
    """A later snapshot naming other orders does not move it: one shipment's snapshots are
    projected by one lane, never inserted by two batches at once."""
    receive_events(
        source="tms",
        events=[
            ShipmentCreatedEventFactory(event_id="s1", shipment_id="S-9", order_numbers=["SO-7"])
        ],
    )
    receive_events(
        source="tms",
        events=[
            ShipmentCreatedEventFactory(event_id="s2", shipment_id="S-9", order_numbers=["SO-8"])
        ],
    )
    assert slot_of("order:SO-8") != slot_of("order:SO-7")
    assert _slots() == dict.fromkeys(["s1", "s2"], slot_of("order:SO-7"))


@pytest.mark.django_db
def test_in_one_request_the_shipment_created_decides_a_new_shipments_lane(brenner):
    receive_events(
        source="tms",
        events=[
            MilestoneEventFactory(event_id="m", shipment_id="S-9"),
            ShipmentCreatedEventFactory(event_id="s", shipment_id="S-9", order_numbers=["SO-7"]),
        ],
    )
    assert _slots() == dict.fromkeys(["m", "s"], slot_of("order:SO-7"))


def test_orders_spread_over_lanes():
    slots = {slot_of(f"order:SO-{n}") for n in range(50)}
    assert len({slot % 4 for slot in slots}) == 4


@pytest.mark.django_db
def test_a_batch_takes_lanes_until_they_hold_a_batchs_worth(settings, brenner):
    """Fewer, fuller batches: each batch has fixed costs, so a batch does not stop at one
    lane while others have due events and no batch holds them."""
    settings.INBOX_LANES = 4
    orders = [OrderReleasedEventFactory(order_number=f"SO-{n}") for n in range(12)]
    assert len({slot_of(f"order:SO-{n}") % 4 for n in range(12)}) > 1
    receive_events(source="erp", events=orders)
    assert process_inbox_batch(batch_size=100).claimed == 12


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
            # A batch takes lanes until they hold a batch's worth: five events leave the
            # other lane to the other thread.
            outcomes[threading.current_thread().name] = process_inbox_batch(batch_size=5)
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


def _in_lane(kind: str, lane: int, lanes: int = 2) -> str:
    """A key of `kind` (order numbers, shipment ids) whose slot falls in `lane`."""
    prefix = {"order": "SO-L", "shipment": "SHP-L"}[kind]
    return next(
        key for n in range(100) if slot_of(f"{kind}:{(key := f'{prefix}{n}')}") % lanes == lane
    )


def _charge(shipment_id: str, account: str) -> dict:
    event = FreightChargeEventFactory(shipment_id=shipment_id)
    event["data"]["customer_account"] = account
    return event


@pytest.mark.django_db(transaction=True)
def test_two_batches_creating_the_same_new_accounts_in_opposite_orders_do_not_deadlock(
    settings, monkeypatch, caplog
):
    """Issue #20. Each lane's batch creates two new accounts, in opposite orders: its
    order's account (orders project first), then its charge's, which the other lane's
    order names. Were each insert to wait for the other batch's, the two would wait for
    each other (PostgreSQL breaks the cycle: "deadlock detected"). Instead the second
    batch waits for the first's accounts before projecting anything."""
    settings.INBOX_LANES = 2
    first, second = "C-NEW-1", "C-NEW-2"
    receive_events(
        source="erp",
        events=[
            OrderReleasedEventFactory(order_number=_in_lane("order", 0), account=second),
            OrderReleasedEventFactory(order_number=_in_lane("order", 1), account=first),
        ],
    )
    receive_events(
        source="tms",
        events=[_charge(_in_lane("shipment", 0), first), _charge(_in_lane("shipment", 1), second)],
    )
    assert sorted(slot % 2 for slot in _slots().values()) == [0, 0, 1, 1]

    # Both batches have claimed their lane before either locks; each creates its order's
    # account, then waits until the other has too, so each holds one new account when it
    # goes on to the other. Only on a batch's first attempt (a batch rolled back is
    # retried), and only a while: a batch waiting for the other's accounts never comes.
    both_claimed = threading.Barrier(2, timeout=30)
    both_created_one = threading.Barrier(2, timeout=3)
    met: set[tuple[str, threading.Barrier]] = set()

    def meet(barrier: threading.Barrier) -> None:
        if (threading.current_thread().name, barrier) in met:
            return
        met.add((threading.current_thread().name, barrier))
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()

    lock, create = processing.aggregates_lock, snapshots.owned_account_ids

    def meet_then_lock(named):
        meet(both_claimed)
        lock(named)

    def create_then_meet(numbers):
        accounts = create(numbers)
        meet(both_created_one)
        return accounts

    monkeypatch.setattr(processing, "aggregates_lock", meet_then_lock)
    monkeypatch.setattr(snapshots, "owned_account_ids", create_then_meet)
    outcomes: list[BatchOutcome] = []
    errors: list[BaseException] = []

    def project_one_batch() -> None:
        try:
            outcomes.append(process_inbox_batch(batch_size=2))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    caplog.set_level(logging.INFO, logger=processing.__name__)
    threads = [threading.Thread(target=project_one_batch, name=f"lane-{n}") for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    assert [outcome.claimed for outcome in outcomes] == [2, 2]
    assert [record.getMessage() for record in caplog.records if "rolled back" in record.msg] == []
    assert sorted(CustomerAccount.objects.values_list("number", flat=True)) == [first, second]
    # Held: the orders for an owner of their accounts, the charges for their shipments.
    assert set(InboxEvent.objects.values_list("state", flat=True)) == {InboxState.HELD}
