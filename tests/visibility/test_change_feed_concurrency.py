"""The change feed never skips a change, whatever order concurrent writers commit in.

Real transactions on separate connections (threads): one holds its transaction open
after recording a change while another records a later one and commits. A reader
resuming "after the last position" must still receive the slower one's change.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from tests.factories import ApiTokenFactory, ShipmentFactory, TenantFactory
from visibility import changes
from visibility.models import Shipment, VisibilityChange
from visibility.services.changes import STAMPER_LOCK, stamp_positions

pytestmark = pytest.mark.django_db(transaction=True)


def _touch(shipment_id: str) -> None:
    Shipment.objects.filter(shipment_id=shipment_id).update(eta=timezone.now())


def _read_all(actor, after: int) -> tuple[list[changes.ChangeEntry], int]:
    seen: list[changes.ChangeEntry] = []
    while True:
        page = changes.change_page(actor, after=after, limit=2)
        seen += page.entries
        if page.next == after:
            return seen, after
        after = page.next


def shipments(entries: list[changes.ChangeEntry]) -> list[str]:
    """The shipments among the changes (an ETA change also changes its orders' detail)."""
    return [entry.key for entry in entries if entry.kind == "shipment"]


class HeldTransaction(threading.Thread):
    """A writer that records a change, then waits with its transaction open until told to
    commit. `take_xid_first` gets a transaction id before the change (its xid is then
    older than a writer that starts later, whatever serial its row gets)."""

    def __init__(self, shipment_id: str, *, take_xid_first: bool) -> None:
        super().__init__()
        self.shipment_id = shipment_id
        self.take_xid_first = take_xid_first
        self.xid_taken = threading.Event()
        self.record_now = threading.Event()
        self.recorded = threading.Event()
        self.commit = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with transaction.atomic():
                if self.take_xid_first:
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT pg_current_xact_id()")
                self.xid_taken.set()
                if self.take_xid_first:
                    assert self.record_now.wait(10)
                _touch(self.shipment_id)
                self.recorded.set()
                assert self.commit.wait(10)
        except BaseException as error:  # reported by the test
            self.error = error
        finally:
            connections.close_all()


@pytest.fixture
def world():
    tenant = TenantFactory(account_numbers=["C-9001"])
    account = tenant.accounts.get()
    slow, fast = (ShipmentFactory(customer_account=account) for _ in range(2))
    return ApiTokenFactory(tenant=tenant), slow.shipment_id, fast.shipment_id


@pytest.mark.parametrize("take_xid_first", [False, True], ids=["serial-first", "xid-first"])
def test_a_slow_writers_change_is_never_skipped(world, take_xid_first):
    """serial-first: the slow writer's row gets the smaller serial id, yet commits last (a
    reader of "id > last seen" skips it for ever). xid-first: its transaction id is the
    older one but its row is written after the fast writer's."""
    token, slow_id, fast_id = world
    _, start = _read_all(token, 0)

    slow = HeldTransaction(slow_id, take_xid_first=take_xid_first)
    slow.start()
    assert slow.xid_taken.wait(10)
    if not take_xid_first:
        assert slow.recorded.wait(10)
    _touch(fast_id)  # commits at once (autocommit), while the slow writer is open
    if take_xid_first:
        slow.record_now.set()
        assert slow.recorded.wait(10)

    seen_while_open, resume = _read_all(token, start)
    assert shipments(seen_while_open) == [fast_id]

    slow.commit.set()
    slow.join(10)
    assert slow.error is None
    if not take_xid_first:
        serial = dict(
            VisibilityChange.objects.filter(kind="shipment").values_list("object_key", "id")
        )
        assert serial[slow_id] < serial[fast_id]  # the trap a serial-ordered feed falls in

    seen_after, resume = _read_all(token, resume)
    assert shipments(seen_after) == [slow_id]
    assert seen_after[0].position > seen_while_open[0].position  # in commit order
    assert _read_all(token, resume)[0] == []


def test_a_stamper_holding_its_positions_uncommitted_does_not_let_a_reader_skip_them(world):
    """Positions drawn by a stamper whose transaction is still open are invisible: no
    other stamper may draw larger ones meanwhile, or a reader would pass over them."""
    token, first_id, second_id = world
    _, start = _read_all(token, 0)
    _touch(first_id)
    stamped, release, errors = threading.Event(), threading.Event(), []

    def slow_stamper() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [STAMPER_LOCK])
                cursor.execute(
                    "UPDATE visibility_change SET position ="
                    " nextval('visibility_change_position_seq') WHERE position IS NULL"
                )
                stamped.set()
                assert release.wait(10)
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_stamper)
    thread.start()
    assert stamped.wait(10)
    _touch(second_id)
    seen_while_held, resume = _read_all(token, start)
    assert seen_while_held == []
    release.set()
    thread.join(10)
    assert errors == []
    seen_after, _ = _read_all(token, resume)
    assert shipments(seen_after) == [first_id, second_id]


def test_many_concurrent_writers_a_polling_reader_misses_nothing(world):
    """Writers commit in random order with random delays while a reader polls: for every
    recorded change the reader received that object at that position or later."""
    token, *_ = world
    account = token.tenant.accounts.get()
    shipment_ids = [ShipmentFactory(customer_account=account).shipment_id for _ in range(6)]
    _, start = _read_all(token, 0)
    done = threading.Event()
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(15):
                with transaction.atomic():
                    if rng.random() < 0.5:
                        with connection.cursor() as cursor:
                            cursor.execute("SELECT pg_current_xact_id()")
                    time.sleep(rng.random() * 0.01)
                    _touch(rng.choice(shipment_ids))
                    time.sleep(rng.random() * 0.02)
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    received: list[tuple[int, str]] = []

    def reader() -> None:
        after = start
        try:
            while True:
                finished = done.is_set()
                page = changes.change_page(token, after=after, limit=3)
                received.extend((entry.position, entry.key) for entry in page.entries)
                after = page.next
                if finished and not page.entries:
                    return
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    writers = [threading.Thread(target=writer, args=(seed,)) for seed in range(4)]
    polling = threading.Thread(target=reader)
    polling.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(60)
    done.set()
    polling.join(60)
    assert errors == []

    stamp_positions(wait=True)
    recorded = list(
        VisibilityChange.objects.filter(
            kind="shipment", object_key__in=shipment_ids, position__gt=start
        ).values_list("position", "object_key")
    )
    assert len(recorded) >= 60
    for position, key in recorded:
        assert any(got >= position for got, got_key in received if got_key == key), (
            f"change {position} of {key} never delivered"
        )
    positions = [position for position, _ in received]
    assert positions == sorted(positions)
