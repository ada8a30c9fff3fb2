"""One poisoned event fails alone: whatever stage it breaks, the rest of its batch and
every other tenant go on, and it ends a dead letter instead of wedging the inbox."""

from __future__ import annotations

import json
from itertools import groupby

import pytest
from django.db import OperationalError, connection

from integration.models import InboxEvent, InboxState, RejectedEvent
from integration.services import processing
from integration.services.intake import receive_events
from integration.services.processing import (
    BatchOutcome,
    process_inbox_batch,
    process_inbox_until_empty,
)
from integration.tasks import sweep_inbox
from portal.demo.events import generated_events
from tests.helpers import sign_in_verified
from visibility.models import Order, Shipment, ShipmentEvent
from visibility.services import derivation, projection

pytestmark = pytest.mark.django_db

MAX_ATTEMPTS = 3
# A delivered milestone of one of Brenner's shipments: the event every stage is made to
# fail for. Its shipment, order and notifications are touched by other events too.
TARGET_EVENT_ID = "tms-gen-1001006-m5"
TARGET_KEY = f"tms:{TARGET_EVENT_ID}"
TARGET_SHIPMENT = "SHP-1001006"
TARGET_ORDER = "SO-1001006"


@pytest.fixture
def two_tenant_batch(brenner, nordwind, settings) -> list[dict]:
    """About 500 events over Brenner's two accounts and Nordwind's one, in the inbox."""
    settings.INBOX_MAX_ATTEMPTS = MAX_ATTEMPTS
    events = generated_events(["C-1001", "C-1002", "C-2001"], shipments_per_account=35)
    assert any(event["event_id"] == TARGET_EVENT_ID for event in events)
    by_source = sorted(events, key=lambda event: event["source"])
    for source, mine in groupby(by_source, key=lambda event: event["source"]):
        receive_events(source=source, events=list(mine))
    return events


def poisoned_fact_present() -> bool:
    """Whether the target event's projection is part of what the stage sees."""
    return ShipmentEvent.objects.filter(event_key=TARGET_KEY).exists()


def run_batches(times: int) -> list[BatchOutcome]:
    """Run the batch `times`, each time with the failed events' backoff already over."""
    outcomes = []
    for _ in range(times):
        InboxEvent.objects.filter(state=InboxState.PENDING).update(next_attempt_at=None)
        outcomes.append(process_inbox_batch(batch_size=1000))
    return outcomes


def assert_only_the_target_died(events: list[dict], message: str) -> None:
    outcomes = run_batches(MAX_ATTEMPTS)

    # The first run processes everything but the target; later runs claim it alone.
    assert outcomes[0].claimed == len(events)
    assert (outcomes[0].processed, outcomes[0].failed) == (len(events) - 1, 1)
    assert [(outcome.claimed, outcome.failed) for outcome in outcomes[1:]] == [(1, 1)] * (
        MAX_ATTEMPTS - 1
    )
    dead = InboxEvent.objects.get(event_id=TARGET_EVENT_ID)
    assert dead.state == InboxState.DEAD and dead.attempts == MAX_ATTEMPTS
    assert message in dead.last_error
    assert InboxEvent.objects.exclude(state=InboxState.PROCESSED).count() == 1
    # Nothing left to claim: the inbox does not loop on the dead letter.
    assert process_inbox_batch(batch_size=1000).claimed == 0
    # The other tenant's shipments and the target's siblings are projected and derived.
    nordwind_shipments = Shipment.objects.filter(customer_account__number="C-2001")
    assert nordwind_shipments.count() == 35
    assert not nordwind_shipments.filter(status="booked", carrier_scac="").exists()
    target = Shipment.objects.get(shipment_id=TARGET_SHIPMENT)
    assert target.status != "delivered"  # its delivery is the dead letter
    assert target.history.filter(kind="milestone").exists()


def test_a_projection_failure_of_one_event_fails_that_event_only(two_tenant_batch, monkeypatch):
    original = projection.PROJECTORS["shipment.milestone"]

    def failing_for_the_target(group, effects):
        if any(event.key == TARGET_KEY for event in group):
            raise ValueError("simulated bad milestone")
        return original(group, effects)

    monkeypatch.setitem(projection.PROJECTORS, "shipment.milestone", failing_for_the_target)

    assert_only_the_target_died(two_tenant_batch, "ValueError: simulated bad milestone")


def test_a_shipment_derivation_failure_fails_only_the_event_that_causes_it(
    two_tenant_batch, monkeypatch
):
    original = derivation._derive_shipment

    def overflowing_for_the_target(shipment, history, orders):
        if any(fact.event_key == TARGET_KEY for fact in history):
            raise OverflowError("date value out of range")
        return original(shipment, history, orders)

    monkeypatch.setattr(derivation, "_derive_shipment", overflowing_for_the_target)

    assert_only_the_target_died(two_tenant_batch, "OverflowError: date value out of range")


def test_an_order_derivation_failure_fails_only_the_event_that_causes_it(
    two_tenant_batch, monkeypatch
):
    original = processing.derive_orders

    def failing_for_the_target(order_ids):
        order_ids = set(order_ids)
        target = Order.objects.filter(order_number=TARGET_ORDER, id__in=order_ids)
        if target.exists() and poisoned_fact_present():
            raise RecursionError("maximum recursion depth exceeded")
        return original(order_ids)

    monkeypatch.setattr(processing, "derive_orders", failing_for_the_target)

    assert_only_the_target_died(two_tenant_batch, "RecursionError: maximum recursion depth")


def test_a_notification_recording_failure_fails_only_the_event_that_causes_it(
    two_tenant_batch, monkeypatch
):
    original = processing.notifications_record

    def failing_for_the_target(transitions):
        shipments = {transition[0].shipment_id for transition in transitions}
        if TARGET_SHIPMENT in shipments and poisoned_fact_present():
            raise AttributeError("'NoneType' object has no attribute 'isoformat'")
        return original(transitions)

    monkeypatch.setattr(processing, "notifications_record", failing_for_the_target)

    assert_only_the_target_died(two_tenant_batch, "AttributeError: 'NoneType'")


def test_a_failing_release_of_holds_neither_undoes_the_batch_nor_stops_the_sweep(
    brenner, story, monkeypatch
):
    order, shipment, milestone = story[0], story[1], story[3]
    receive_events(source="erp", events=[order])
    receive_events(source="tms", events=[milestone])  # before its shipment: held
    process_inbox_until_empty()
    assert InboxEvent.objects.get(event_id=milestone["event_id"]).state == InboxState.HELD

    def broken(*args, **kwargs) -> int:
        raise RuntimeError("release failed")

    monkeypatch.setattr(processing, "release_held_events", broken)
    monkeypatch.setattr(processing, "release_satisfied_holds", broken)
    receive_events(source="tms", events=[shipment])
    outcome = process_inbox_batch()

    assert outcome.processed == 1 and outcome.released == 0
    assert Shipment.objects.filter(shipment_id=shipment["data"]["shipment_id"]).exists()
    monkeypatch.undo()
    sweep_inbox()  # the sweep frees it
    process_inbox_until_empty()
    assert InboxEvent.objects.get(event_id=milestone["event_id"]).state == InboxState.PROCESSED


def test_the_sweep_requeues_processing_even_when_releasing_holds_fails(brenner, story, monkeypatch):
    from integration import tasks

    queued: list[bool] = []
    monkeypatch.setattr(tasks, "release_satisfied_holds", lambda: 1 / 0)
    monkeypatch.setattr(tasks, "enqueue_process_inbox", lambda: queued.append(True))
    receive_events(source="erp", events=[story[0]])

    assert sweep_inbox() is True
    assert queued == [True]


@pytest.mark.parametrize(
    "failure",
    [
        OperationalError("server closed the connection unexpectedly"),
        OperationalError("deadlock detected"),
    ],
)
def test_an_infrastructure_failure_rolls_the_batch_back_without_charging_any_event(
    two_tenant_batch, monkeypatch, failure
):
    def failing(shipment_ids):
        raise failure

    monkeypatch.setattr(processing, "derive_shipments", failing)

    with pytest.raises(OperationalError):
        process_inbox_batch(batch_size=1000)

    assert InboxEvent.objects.count() == len(two_tenant_batch)
    assert set(InboxEvent.objects.values_list("state", flat=True)) == {InboxState.PENDING}
    assert set(InboxEvent.objects.values_list("attempts", flat=True)) == {0}
    assert not Shipment.objects.exists()


# --- rows no validation would let in, inserted by SQL -------------------------------------

INSERT = """
INSERT INTO integration_inboxevent (source, event_id, event_type, spec_version, occurred_at,
    data, received_at, state, waiting_for, attempts, last_error)
VALUES (%s, %s, %s, '1.0', {occurred_at}, %s::jsonb, now(), %s, '', 0, '')
"""
YEAR_1_BC = "'0001-01-01 00:00:00+00'::timestamptz - interval '1 day'"
YEAR_10000 = "'10000-01-01 00:00:00+00'::timestamptz"


def insert_raw(event_id: str, occurred_at: str, data: str, state=InboxState.PENDING) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT.format(occurred_at=occurred_at),
            ["tms", event_id, "shipment.milestone", data, state.value],
        )


DEEP = "[" * 3000 + "]" * 3000
HUGE_NUMBER = json.dumps({"shipment_id": "SHP-778120", "n": "x"}).replace('"x"', "9" * 5000)
ODD_TEXT = json.dumps({"shipment_id": "\u202eSHP\u0301-\U0001f4e6", "milestone": "picked_up"})


@pytest.fixture
def poisoned_rows(brenner, story, settings) -> list[str]:
    """Rows PostgreSQL stores but Python cannot read back, beside a normal story."""
    settings.INBOX_MAX_ATTEMPTS = MAX_ATTEMPTS
    for source in ("erp", "tms"):
        receive_events(source=source, events=[e for e in story if e["source"] == source])
    insert_raw("bc", YEAR_1_BC, json.dumps({"shipment_id": "SHP-778120"}))
    insert_raw("year-1", "'0001-01-01 00:00:00+00'", json.dumps({"shipment_id": "SHP-778120"}))
    insert_raw("year-10000", YEAR_10000, "{}")
    insert_raw("deep", "now()", DEEP)
    insert_raw("huge", "now()", HUGE_NUMBER)
    insert_raw("odd-\u202e\U0001f4e6", "now()", ODD_TEXT)
    insert_raw("dead-bc", YEAR_1_BC, DEEP, state=InboxState.DEAD)
    return ["bc", "year-1", "year-10000", "deep", "huge"]


def test_rows_python_cannot_read_become_dead_letters_and_the_rest_is_projected(
    poisoned_rows, story
):
    run_batches(MAX_ATTEMPTS)

    states = dict(InboxEvent.objects.values_list("event_id", "state"))
    for event_id in poisoned_rows:
        assert states[event_id] == InboxState.DEAD, event_id
    assert all(states[event["event_id"]] == InboxState.PROCESSED for event in story)
    assert Shipment.objects.get(shipment_id="SHP-778120").status == "delivered"
    errors = dict(InboxEvent.objects.values_list("event_id", "last_error"))
    for event_id in ("bc", "year-1", "year-10000"):
        assert "occurred_at is outside what Python reads" in errors[event_id]
    assert "RecursionError" in errors["deep"] and "ValueError" in errors["huge"]
    assert process_inbox_batch().claimed == 0


def admin_pages(client, superuser) -> list[str]:
    sign_in_verified(client, superuser)
    ids = InboxEvent.objects.values_list("id", flat=True)
    return [
        "/admin/integration/inboxevent/",
        "/admin/integration/inboxevent/?state__exact=dead",
        "/admin/integration/inboxevent/?state__exact=pending",
        "/admin/integration/rejectedevent/",
        *[f"/admin/integration/inboxevent/{id}/change/" for id in ids],
    ]


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw-12345678")


def each_page_answers(client, paths: list[str]) -> None:
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path


def test_admin_and_health_pages_answer_on_rows_python_cannot_read(client, poisoned_rows, superuser):
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO integration_rejectedevent (source, event_id, event_type, body, errors,
                   received_at) VALUES ('tms', %s, %s, %s::jsonb, %s::jsonb, now())""",
            ["\u202e\U0001f4e6", "x" * 100, DEEP, HUGE_NUMBER],
        )
    paths = admin_pages(client, superuser)
    paths += [
        f"/admin/integration/rejectedevent/{id}/change/"
        for id in RejectedEvent.objects.values_list("id", flat=True)
    ]

    paths += ["/api/v1/integration/health", "/operations/integration/"]

    each_page_answers(client, paths)
    run_batches(MAX_ATTEMPTS)  # and once they are dead letters
    each_page_answers(client, paths)


def test_an_event_held_for_a_key_longer_than_the_inbox_stores_fails_alone(brenner, story, settings):
    settings.INBOX_MAX_ATTEMPTS = MAX_ATTEMPTS
    receive_events(source="erp", events=[story[0]])
    milestone = {"shipment_id": "S" * 300, "milestone": "picked_up", "location": {"city": "X"}}
    insert_raw("long-hold", "now()", json.dumps(milestone))

    run_batches(MAX_ATTEMPTS)

    states = dict(InboxEvent.objects.values_list("event_id", "state"))
    assert states == {story[0]["event_id"]: InboxState.PROCESSED, "long-hold": InboxState.DEAD}
    assert "longer than the inbox stores" in InboxEvent.objects.get(event_id="long-hold").last_error


def test_an_eta_postgresql_stores_but_python_cannot_read_back_is_a_dead_letter(
    brenner, story, settings
):
    """No monkeypatch: the real derivation meets the real value. Stored, the ETA would be
    10000-01-01 04:00 UTC; reading it back in derivation fails, so its event does, in the
    savepoint that would have stored it."""
    settings.INBOX_MAX_ATTEMPTS = MAX_ATTEMPTS
    for source in ("erp", "tms"):
        receive_events(source=source, events=[e for e in story if e["source"] == source])
    far = {"shipment_id": "SHP-778120", "eta": "9999-12-31T23:00:00-05:00", "basis": "carrier"}
    with connection.cursor() as cursor:
        cursor.execute(
            INSERT.format(occurred_at="now()"),
            ["tms", "far-eta", "shipment.eta_updated", json.dumps(far), "pending"],
        )

    run_batches(MAX_ATTEMPTS)

    states = dict(InboxEvent.objects.values_list("event_id", "state"))
    assert states.pop("far-eta") == InboxState.DEAD
    assert "timestamp too large" in InboxEvent.objects.get(event_id="far-eta").last_error
    assert set(states.values()) == {InboxState.PROCESSED}
    shipment = Shipment.objects.get(shipment_id="SHP-778120")
    assert shipment.status == "delivered" and shipment.eta.year == 2026
