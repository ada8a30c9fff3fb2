"""Clock-driven states: overdue, late, stale, awaiting paperwork; the sweep reads only due rows.

The clock is an argument (`now`), never slept on. The factory's shipment (LTL) is picked
up on 17 Nov 08:00 with a last event at 16:00, planned for 19 Nov 08:00 and promised for
20 Nov (its order's requested date).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from tests.factories import EPOCH, DocumentFactory, ShipmentFactory, derive
from visibility.models import (
    ExceptionReason,
    Milestone,
    Order,
    Shipment,
    ShipmentClock,
    ShipmentEvent,
    ShipmentException,
    VisibilityChange,
)
from visibility.services.clock import clock_sweep, shipments_clock_refresh
from visibility.tasks import sweep_clock

pytestmark = pytest.mark.django_db

NOV = {day: datetime(2026, 11, day, tzinfo=EPOCH.tzinfo) for day in range(16, 30)}


def in_transit() -> Shipment:
    return ShipmentFactory(milestones=[Milestone.PICKED_UP, Milestone.IN_TRANSIT])


def evaluate(shipment: Shipment, now: datetime) -> Shipment:
    shipments_clock_refresh([Shipment.objects.get(pk=shipment.pk)], now)
    return Shipment.objects.get(pk=shipment.pk)


def next_check(shipment: Shipment) -> datetime | None:
    clock = ShipmentClock.objects.filter(shipment=shipment).first()
    return clock.next_check_at if clock else None


def schedule(shipment: Shipment, at: datetime) -> None:
    ShipmentClock.objects.filter(shipment=shipment).update(next_check_at=at)


def open_reasons(shipment: Shipment) -> set[str]:
    return set(
        ShipmentException.objects.filter(shipment=shipment)
        .exclude(status=ShipmentException.Status.RESOLVED)
        .values_list("reason", flat=True)
    )


def test_each_rule_flips_at_the_next_check_the_shipment_stored():
    shipment = evaluate(in_transit(), NOV[17] + timedelta(hours=20))
    assert (shipment.overdue, shipment.tracking_stale, shipment.late_by_hours) == (
        False,
        False,
        None,
    )
    # No event for 12 hours (LTL) after the last one, at 16:00.
    assert next_check(shipment) == NOV[18] + timedelta(hours=4)

    assert clock_sweep(NOV[18] + timedelta(hours=5)) == 1
    shipment.refresh_from_db()
    assert shipment.tracking_stale and not shipment.overdue
    assert open_reasons(shipment) == {ExceptionReason.TRACKING_STALE}
    assert next_check(shipment) == NOV[19] + timedelta(hours=8)  # the ETA

    clock_sweep(NOV[19] + timedelta(hours=9))
    shipment.refresh_from_db()
    assert shipment.overdue and shipment.late_by_hours is None
    assert Order.objects.get(shipment_links__shipment=shipment).at_risk
    assert next_check(shipment) == NOV[21]  # the end of the promised day

    clock_sweep(NOV[22] + timedelta(hours=6))
    shipment.refresh_from_db()
    assert shipment.late_by_hours == 30
    assert open_reasons(shipment) == {
        ExceptionReason.TRACKING_STALE,
        ExceptionReason.OVERDUE,
        ExceptionReason.LATE,
    }


def test_a_late_shipment_seen_at_a_whole_day_past_its_promise_is_checked_again_tomorrow():
    """At exactly N days past the promised end, the next daily re-check is N + 1 days, not
    now (which made the sweep take the same row again and again; found by the 1M bench)."""
    shipment = in_transit()

    shipment = evaluate(shipment, NOV[23])  # promised end NOV[21] 00:00: two whole days

    assert shipment.late_by_hours == 48
    assert next_check(shipment) is not None and next_check(shipment) > NOV[23]
    assert next_check(shipment) == NOV[24]


def test_an_eta_after_the_promised_date_is_late_by_its_slip_before_it_passes():
    shipment = ShipmentFactory(milestones=[Milestone.PICKED_UP], delayed_by=timedelta(days=2))
    shipment = evaluate(shipment, NOV[17] + timedelta(hours=10))
    # ETA 21 Nov 08:00, promised 20 Nov (ends 21 Nov 00:00): 8 hours late, not overdue.
    assert shipment.late_by_hours == 8 and not shipment.overdue
    assert open_reasons(shipment) == {ExceptionReason.WEATHER, ExceptionReason.LATE}


def test_delivery_resolves_overdue_and_late_and_starts_the_paperwork_clock():
    shipment = evaluate(in_transit(), NOV[19] + timedelta(hours=9))
    assert ExceptionReason.OVERDUE in open_reasons(shipment)
    ShipmentEvent.objects.create(
        shipment=shipment,
        event_key="carrier:d1",
        kind=ShipmentEvent.Kind.MILESTONE,
        occurred_at=NOV[19] + timedelta(hours=10),
        milestone=Milestone.DELIVERED,
    )
    derive(shipments=[shipment])
    shipment = evaluate(shipment, NOV[19] + timedelta(hours=11))
    assert not shipment.overdue and shipment.late_by_hours is None
    overdue = ShipmentException.objects.get(shipment=shipment, reason=ExceptionReason.OVERDUE)
    assert overdue.status == ShipmentException.Status.RESOLVED
    assert overdue.resolved_automatically
    assert next_check(shipment) == NOV[20] + timedelta(hours=10)  # 24 h for the POD

    shipment = evaluate(shipment, NOV[23])
    assert shipment.pod_missing and shipment.not_invoiced
    DocumentFactory(shipment=shipment, customer_account=shipment.customer_account)
    shipment = evaluate(shipment, NOV[23])
    assert not shipment.pod_missing
    assert open_reasons(shipment) == {ExceptionReason.NOT_INVOICED}


def test_the_sweep_reads_only_due_rows_through_the_partial_index():
    due = evaluate(in_transit(), NOV[17])
    later = evaluate(in_transit(), NOV[17])
    schedule(later, NOV[28])
    with CaptureQueriesContext(connection) as queries:
        assert clock_sweep(NOV[18] + timedelta(hours=5)) == 1
    select = next(q["sql"] for q in queries if "FOR UPDATE" in q["sql"])
    assert '"next_check_at" <=' in select
    due.refresh_from_db(), later.refresh_from_db()
    assert due.tracking_stale and not later.tracking_stale
    assert next_check(later) == NOV[28]

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT shipment_id FROM visibility_shipmentclock"
            " WHERE next_check_at <= %s ORDER BY next_check_at LIMIT 100",
            [NOV[20]],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "shipment_next_check" in plan


def test_nothing_is_checked_again_when_no_rule_can_flip():
    shipment = ShipmentFactory(milestones=[Milestone.PICKED_UP, Milestone.DELIVERED])
    DocumentFactory(shipment=shipment, customer_account=shipment.customer_account)
    shipment = evaluate(shipment, NOV[29])
    assert shipment.not_invoiced and not shipment.pod_missing
    assert next_check(shipment) is None


def test_every_surface_shows_the_flags_in_words(client, brenner, customer_user, partner_token):
    shipment = ShipmentFactory(
        customer_account=brenner.accounts.get(number="C-1001"),
        milestones=[Milestone.PICKED_UP, Milestone.IN_TRANSIT],
    )
    evaluate(shipment, NOV[22] + timedelta(hours=6))  # ETA 19 Nov passed, promised 20 Nov
    client.force_login(customer_user)
    ref = shipment.shipment_id
    for path in ("/shipments/", f"/shipments/{ref}/", f"/search/?q={ref[:-1]}"):
        assert "Late +2 days" in client.get(path).content.decode(), path
    csv = b"".join(client.get("/shipments/export.csv").streaming_content).decode()
    assert "Overdue; Late +2 days" in csv
    api = client.get(f"/api/v1/shipments/{ref}").json()
    assert api["overdue"] and api["late_by_hours"] == 30
    assert api["late_by"] == "+2 days" and api["last_heard_source"] == "tms"
    body = client.post(
        "/graphql",
        data={"query": f'{{ shipment(shipmentId: "{ref}") {{ overdue lateBy flags }} }}'},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {partner_token}",
    ).json()
    assert body["data"]["shipment"]["lateBy"] == "+2 days"
    assert "Overdue" in body["data"]["shipment"]["flags"]


def test_the_shipment_list_filters_by_overdue_and_late(client, brenner, customer_user):
    on_time = ShipmentFactory(customer_account=brenner.accounts.get(number="C-1001"))
    overdue = ShipmentFactory(
        customer_account=brenner.accounts.get(number="C-1001"),
        milestones=[Milestone.PICKED_UP, Milestone.IN_TRANSIT],
    )
    evaluate(on_time, NOV[17]), evaluate(overdue, NOV[20])
    client.force_login(customer_user)
    rows = client.get("/api/v1/shipments?overdue=true").json()["results"]
    assert [row["shipment_id"] for row in rows] == [overdue.shipment_id]
    rows = client.get("/api/v1/shipments?late=false").json()["results"]
    assert {row["shipment_id"] for row in rows} == {on_time.shipment_id, overdue.shipment_id}


def test_the_sweep_is_one_statement_for_rows_whose_states_do_not_flip():
    """A due row that stays as it was (a late shipment's daily re-read of its slip) is
    evaluated and rescheduled by the one set-based statement: no exception or order work."""
    shipment = evaluate(in_transit(), NOV[23] + timedelta(hours=1))
    assert shipment.late_by_hours == 49 and next_check(shipment) == NOV[24]
    reasons = open_reasons(shipment)

    with CaptureQueriesContext(connection) as queries:
        assert clock_sweep(NOV[24] + timedelta(hours=2)) == 1
    statements = [q["sql"] for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    assert len(statements) == 1, statements
    shipment.refresh_from_db()
    assert shipment.late_by_hours == 74 and next_check(shipment) == NOV[25]
    assert open_reasons(shipment) == reasons


def test_a_swept_state_that_flips_opens_and_resolves_its_exception_records():
    shipment = evaluate(
        ShipmentFactory(milestones=[Milestone.PICKED_UP, Milestone.DELIVERED]), NOV[19]
    )
    assert next_check(shipment) is not None
    assert clock_sweep(next_check(shipment)) == 1
    shipment.refresh_from_db()
    assert shipment.pod_missing
    assert ExceptionReason.MISSING_POD in open_reasons(shipment)
    DocumentFactory(shipment=shipment, customer_account=shipment.customer_account)
    schedule(shipment, NOV[20])
    assert clock_sweep(NOV[21]) == 1
    shipment.refresh_from_db()
    assert not shipment.pod_missing
    assert ExceptionReason.MISSING_POD not in open_reasons(shipment)


@pytest.mark.django_db(transaction=True)
def test_the_beat_task_sweeps_in_autocommit_as_a_worker_runs_it():
    """Found by running `make demo`: the sweep compiled its FOR UPDATE due-set outside a
    transaction, which Django refuses; every beat run failed, while tests (inside their
    own transaction) passed."""
    shipment = evaluate(in_transit(), NOV[17] + timedelta(hours=20))
    schedule(shipment, NOV[18])

    assert sweep_clock.run() == 1
    shipment.refresh_from_db()
    assert next_check(shipment) > NOV[18]


def test_a_re_check_that_changes_nothing_visible_writes_only_the_clock_row():
    """A due row whose states stay as they were (checked early, say after an ETA moved
    back) gets its next check again, and the shipment is not written: no new
    `updated_at`, no change-feed row, so a partner does not re-read it."""
    shipment = evaluate(in_transit(), NOV[17] + timedelta(hours=20))
    stored_at = shipment.updated_at
    changes_before = VisibilityChange.objects.filter(object_key=shipment.shipment_id).count()
    schedule(shipment, NOV[17] + timedelta(hours=21))

    assert clock_sweep(NOV[17] + timedelta(hours=22)) == 1
    shipment.refresh_from_db()
    assert next_check(shipment) == NOV[18] + timedelta(hours=4)
    assert shipment.updated_at == stored_at and not shipment.tracking_stale
    assert (
        VisibilityChange.objects.filter(object_key=shipment.shipment_id).count() == changes_before
    )

    # When a state flips, the shipment is written and the feed records it.
    assert clock_sweep(NOV[18] + timedelta(hours=5)) == 1
    shipment.refresh_from_db()
    assert shipment.tracking_stale and shipment.updated_at > stored_at
    assert VisibilityChange.objects.filter(object_key=shipment.shipment_id).count() > (
        changes_before
    )


def test_a_sweep_batch_is_bounded_and_takes_the_oldest_checks_first():
    shipments = [evaluate(in_transit(), NOV[17] + timedelta(hours=20)) for _ in range(3)]
    for hours, shipment in zip((3, 1, 2), shipments, strict=True):
        schedule(shipment, NOV[17] + timedelta(hours=20 + hours))

    assert clock_sweep(NOV[17] + timedelta(hours=23, minutes=30), limit=2) == 2
    # The two oldest (21:00, 22:00) were re-checked; the 23:00 one waits for the next sweep.
    assert [next_check(shipment) for shipment in shipments] == [
        NOV[17] + timedelta(hours=23),
        NOV[18] + timedelta(hours=4),
        NOV[18] + timedelta(hours=4),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_sweep_skips_a_shipment_another_transaction_holds_without_waiting():
    """Derivation writes a shipment, then its clock row: a sweep holding the clock row
    while waiting for the shipment would deadlock with it. The sweep takes neither row
    when the shipment is held, and leaves it due."""
    shipment = evaluate(in_transit(), NOV[17] + timedelta(hours=20))
    schedule(shipment, NOV[18])
    held = threading.Event()
    release = threading.Event()

    def hold_the_shipment() -> None:
        try:
            with transaction.atomic():
                Shipment.objects.select_for_update().get(pk=shipment.pk)
                held.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_shipment)
    holder.start()
    try:
        assert held.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")  # a wait fails the test, not hangs it
        assert clock_sweep(NOV[18] + timedelta(hours=5)) == 0
        assert next_check(shipment) == NOV[18]
    finally:
        release.set()
        holder.join()
    assert clock_sweep(NOV[18] + timedelta(hours=5)) == 1
    assert next_check(shipment) is not None and next_check(shipment) > NOV[18]


def test_a_sweep_reads_a_constant_number_of_queries_whatever_flips(brenner):
    """The flipped rows are read back once, with what their notifications tell (found
    at 1,000,000 shipments: each flipped row cost one more query for `received_by`)."""

    def queries_to_sweep(count: int) -> int:
        shipments = [
            evaluate(
                ShipmentFactory(
                    customer_account=brenner.accounts.get(number="C-1001"),
                    milestones=[Milestone.PICKED_UP, Milestone.IN_TRANSIT],
                ),
                NOV[19] + timedelta(hours=6),
            )
            for _ in range(count)
        ]
        with CaptureQueriesContext(connection) as queries:
            # The ETA (19 Nov 08:00) passed: every one turns overdue and opens a record.
            assert clock_sweep(NOV[19] + timedelta(hours=9)) == count
        assert all(ExceptionReason.OVERDUE in open_reasons(shipment) for shipment in shipments)
        return len(queries)

    assert queries_to_sweep(2) == queries_to_sweep(5)
