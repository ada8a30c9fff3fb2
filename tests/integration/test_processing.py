"""Projection of accepted events: the order-to-cash story, convergence, held events."""

from __future__ import annotations

import random

import pytest
from django.utils import timezone

from accounts.services import tenant_create_or_update
from integration.models import InboxEvent, InboxState
from integration.services.intake import receive_events
from integration.services.processing import (
    process_inbox_batch,
    process_inbox_until_empty,
    release_satisfied_holds,
)
from tests.factories import order_to_cash_stories
from tests.helpers import read_model_state
from visibility.holds import HoldKey
from visibility.models import (
    Document,
    FreightCharge,
    Invoice,
    Order,
    Reference,
    Shipment,
    ShipmentEvent,
)
from visibility.services.projection import Hold, ProjectedEvent, ProjectionEffects, project_event

pytestmark = pytest.mark.django_db


def receive_all(events):
    for event in events:
        receive_events(source=event["source"], events=[event])


def test_order_to_cash_story_builds_the_read_models(brenner, story):
    receive_all(story)
    process_inbox_until_empty()

    shipment = Shipment.objects.get(shipment_id="SHP-778120")
    assert shipment.status == "delivered"
    assert shipment.received_by == "K. Huber"
    assert shipment.delivered_at.isoformat() == "2026-11-20T08:42:00+00:00"
    assert shipment.carrier_name == "DHL Freight"
    assert shipment.customer_account.number == "C-1001"
    assert shipment.delayed is False  # delivered shipments are no longer "delayed"
    assert shipment.eta.isoformat() == "2026-11-20T09:00:00+00:00"  # the delay's new ETA
    milestones = list(
        shipment.history.filter(kind=ShipmentEvent.Kind.MILESTONE).values_list(
            "milestone", flat=True
        )
    )
    assert milestones == [
        "picked_up",
        "departed_origin",
        "arrived_hub",
        "departed_hub",
        "out_for_delivery",
        "delivered",
    ]
    order = Order.objects.get(order_number="SO-100045")
    assert order.status == "delivered"
    assert [line.line_number for line in order.lines.all()] == [10, 20]
    invoice = Invoice.objects.get(invoice_number="INV-2026-004512")
    assert str(invoice.paid_amount) == "18950.00"
    document = Document.objects.get(document_id="DOC-POD-778120")
    assert document.file.read().startswith(b"%PDF")
    assert FreightCharge.objects.get(charge_id="CHG-778120-1").shipment == shipment
    assert not InboxEvent.objects.exclude(state=InboxState.PROCESSED).exists()


def test_delay_before_delivery_marks_shipment_delayed_and_at_risk(brenner, story):
    up_to_delay = [
        event
        for event in story
        if event["event_id"] <= "tms-demo-0007" and event["source"] == "tms"
    ]
    receive_all([story[0], *up_to_delay])
    process_inbox_until_empty()

    shipment = Shipment.objects.get(shipment_id="SHP-778120")
    assert shipment.status == "in_transit"
    assert shipment.delayed is True
    assert shipment.promised_date.isoformat() == "2026-11-20"
    assert shipment.at_risk is False  # the new ETA is still on the requested day

    later = {
        **up_to_delay[-1],
        "event_id": "tms-delay-2",
        "occurred_at": "2026-11-19T06:00:00Z",
        "data": {
            "shipment_id": "SHP-778120",
            "reason_code": "AI",
            "new_eta": "2026-11-21T10:00:00+01:00",
        },
    }
    receive_all([later])
    process_inbox_until_empty()

    shipment.refresh_from_db()
    assert shipment.at_risk is True
    assert shipment.eta.isoformat() == "2026-11-21T09:00:00+00:00"


@pytest.mark.parametrize("seed", range(5))
def test_any_permutation_with_duplicates_converges(brenner, story, seed):
    receive_all(story)
    process_inbox_until_empty()
    expected = read_model_state()
    Shipment.objects.all().delete()
    Order.objects.all().delete()
    Invoice.objects.all().delete()
    InboxEvent.objects.all().delete()

    rng = random.Random(seed)
    shuffled = story + rng.sample(story, 5)
    rng.shuffle(shuffled)
    for event in shuffled:
        receive_events(source=event["source"], events=[event])
        process_inbox_batch(batch_size=rng.randint(1, 4))
    process_inbox_until_empty()

    assert read_model_state() == expected


def test_events_for_an_unowned_account_are_held_until_it_is_assigned(db, story):
    receive_all(story)
    process_inbox_until_empty()

    assert not Shipment.objects.exists()
    held = InboxEvent.objects.get(event_id="erp-demo-0001")
    assert (held.state, held.waiting_for) == (InboxState.HELD, "account:C-1001")

    tenant_create_or_update(slug="brenner", name="Brenner", account_numbers=["C-1001"])
    process_inbox_until_empty()

    assert Shipment.objects.get(shipment_id="SHP-778120").status == "delivered"
    assert not InboxEvent.objects.exclude(state=InboxState.PROCESSED).exists()


def test_milestone_before_its_shipment_is_held_then_applied(brenner, story):
    milestone = next(event for event in story if event["event_id"] == "tms-demo-0003")
    receive_all([milestone])
    process_inbox_until_empty()
    assert InboxEvent.objects.get().waiting_for == "shipment:SHP-778120"

    receive_all(story[:2])
    process_inbox_until_empty()

    assert Shipment.objects.get().status == "in_transit"


def test_unknown_carrier_status_code_is_kept_on_the_history(brenner, story):
    unknown = {
        **story[3],
        "event_id": "tms-unknown-code",
        "data": {"shipment_id": "SHP-778120", "carrier_status_code": "ZZ"},
    }
    receive_all([*story[:2], unknown])
    process_inbox_until_empty()

    fact = ShipmentEvent.objects.get(event_key="tms:tms-unknown-code")
    assert (fact.kind, fact.carrier_status_code) == (ShipmentEvent.Kind.UNMAPPED_CODE, "ZZ")
    assert Shipment.objects.get().status == "carrier_assigned"


def test_older_snapshot_arriving_late_does_not_overwrite_newer(brenner, story):
    newer = {
        **story[0],
        "event_id": "erp-demo-0001b",
        "sequence": 2,
        "data": {**story[0]["data"], "customer_po": "PO-NEW"},
    }
    receive_all([newer, story[0]])
    process_inbox_until_empty()

    assert Order.objects.get().customer_po == "PO-NEW"


def test_a_failing_event_does_not_hold_up_its_batch(brenner, story, monkeypatch):
    from visibility.services import projection

    original = projection.PROJECTORS["shipment.tender_accepted"]

    def broken(events, effects):
        raise ValueError("simulated projection bug")

    monkeypatch.setitem(projection.PROJECTORS, "shipment.tender_accepted", broken)
    receive_all(story[:4])
    process_inbox_batch()

    failed = InboxEvent.objects.get(event_id="tms-demo-0002")
    assert failed.state == InboxState.PENDING and failed.attempts == 1
    assert "simulated projection bug" in failed.last_error
    assert InboxEvent.objects.filter(state=InboxState.PROCESSED).count() == 3

    monkeypatch.setitem(projection.PROJECTORS, "shipment.tender_accepted", original)
    InboxEvent.objects.filter(id=failed.id).update(next_attempt_at=None)
    process_inbox_until_empty()
    assert InboxEvent.objects.get(id=failed.id).state == InboxState.PROCESSED


def test_one_failing_event_in_a_large_batch_fails_alone(brenner, monkeypatch):
    from visibility.services import projection

    events = order_to_cash_stories(["C-1001", "C-1002"], per_account=10)
    poisoned = next(e for e in events if e["event_type"] == "shipment.milestone")
    original = projection.PROJECTORS["shipment.milestone"]

    def failing_on_one(group, effects):
        if any(event.key == f"{poisoned['source']}:{poisoned['event_id']}" for event in group):
            raise ValueError("simulated bad milestone")
        return original(group, effects)

    monkeypatch.setitem(projection.PROJECTORS, "shipment.milestone", failing_on_one)
    receive_all(events)
    process_inbox_batch(batch_size=len(events))

    assert InboxEvent.objects.filter(state=InboxState.PROCESSED).count() == len(events) - 1
    failed = InboxEvent.objects.get(state=InboxState.PENDING)
    assert failed.event_id == poisoned["event_id"] and failed.attempts == 1
    assert "simulated bad milestone" in failed.last_error


def test_an_event_that_keeps_failing_becomes_a_dead_letter(brenner, story, monkeypatch, settings):
    from visibility.services import projection

    settings.INBOX_MAX_ATTEMPTS = 2
    monkeypatch.setitem(projection.PROJECTORS, "order.released", lambda events, effects: 1 / 0)
    receive_all(story[:1])
    for _ in range(2):
        InboxEvent.objects.update(next_attempt_at=None)
        process_inbox_batch()

    dead = InboxEvent.objects.get()
    assert dead.state == InboxState.DEAD
    assert "ZeroDivisionError" in dead.last_error


def converge_both_ways(events):
    """Project `events` in order and reversed; return both read-model states."""
    states = []
    for ordering in (events, list(reversed(events))):
        Shipment.objects.all().delete()
        Order.objects.all().delete()
        InboxEvent.objects.all().delete()
        for event in ordering:
            receive_events(source=event["source"], events=[event])
            process_inbox_until_empty()
        states.append(read_model_state())
    return states


def test_carrier_of_an_older_snapshot_is_kept_when_the_newer_names_none(brenner, story):
    newer_without_carrier = {
        **story[1],
        "event_id": "tms-snapshot-2",
        "sequence": 5,
        "occurred_at": "2026-11-16T13:00:00Z",
        "data": {k: v for k, v in story[1]["data"].items() if k != "carrier"},
    }

    in_order, reversed_order = converge_both_ways([story[0], story[1], newer_without_carrier])

    assert in_order == reversed_order
    assert in_order["shipments"]["SHP-778120"]["carrier_scac"] == "DHLF"


def test_shipment_follows_its_order_to_another_account(brenner, story):
    moved = {
        **story[0],
        "event_id": "erp-moved",
        "sequence": 2,
        "data": {**story[0]["data"], "customer_account": "C-1002"},
    }

    in_order, reversed_order = converge_both_ways([story[0], story[1], moved])

    assert in_order == reversed_order
    assert Shipment.objects.get().customer_account.number == "C-1002"


def test_a_hold_that_crossed_its_release_is_freed_by_the_sweep(brenner, story):
    """Worker A held a milestone while worker B, concurrently, created its shipment and
    released what was held for it before A's hold was visible: the hold is left behind
    although the shipment exists. The sweep's check frees it; a hold whose piece is still
    missing stays held."""
    receive_all(story[:2])
    process_inbox_until_empty()
    milestone = next(event for event in story if event["event_id"] == "tms-demo-0003")
    orphan = {
        **milestone,
        "event_id": "tms-orphan",
        "data": {**milestone["data"], "shipment_id": "SHP-NOT-YET"},
    }
    receive_all([milestone, orphan])
    InboxEvent.objects.filter(event_id="tms-demo-0003").update(
        state=InboxState.HELD, waiting_for="shipment:SHP-778120"
    )
    InboxEvent.objects.filter(event_id="tms-orphan").update(
        state=InboxState.HELD, waiting_for="shipment:SHP-NOT-YET"
    )

    released = release_satisfied_holds()
    process_inbox_until_empty()

    assert released == 1
    assert Shipment.objects.get().status == "in_transit"
    assert InboxEvent.objects.get(event_id="tms-orphan").state == InboxState.HELD


def test_payments_converge_when_paid_at_and_occurred_at_disagree(brenner, story):
    """A correction sent later (occurred_at) may carry an earlier paid_at: the latest
    payment by paid_at (the time the ERP reports) wins, whichever arrives first."""
    invoice_posted = next(e for e in story if e["event_type"] == "invoice.posted")
    number = invoice_posted["data"]["invoice_number"]
    late_report = {
        **invoice_posted,
        "event_id": "erp-pay-a",
        "event_type": "invoice.paid",
        "occurred_at": "2026-12-01T10:00:00Z",
        "data": {"invoice_number": number, "paid_at": "2026-11-28T09:00:00Z", "amount": "100.00"},
    }
    prompt_report = {
        **late_report,
        "event_id": "erp-pay-b",
        "occurred_at": "2026-11-30T09:30:00Z",
        "data": {"invoice_number": number, "paid_at": "2026-11-30T09:30:00Z", "amount": "200.00"},
    }
    outcomes = []
    for payments in ([late_report, prompt_report], [prompt_report, late_report]):
        Invoice.objects.all().delete()
        InboxEvent.objects.all().delete()
        receive_all([story[0], invoice_posted])
        process_inbox_until_empty()
        for payment in payments:  # one batch each: the second sees the first's result
            receive_all([payment])
            process_inbox_until_empty()
        invoice = Invoice.objects.get(invoice_number=number)
        outcomes.append((invoice.paid_at.isoformat(), str(invoice.paid_amount)))

    assert outcomes == [("2026-11-30T09:30:00+00:00", "200.00")] * 2


@pytest.mark.parametrize("together", [False, True])
def test_a_corrected_charge_replaces_the_original_in_either_order(brenner, story, together):
    charge = next(e for e in story if e["event_type"] == "freight.charge_posted")
    corrected = {
        **charge,
        "event_id": "tms-charge-fix",
        "occurred_at": "2026-12-01T10:00:00Z",
        "data": {**charge["data"], "amount": "999.99"},
    }
    amounts = []
    for charges in ([charge, corrected], [corrected, charge]):
        Shipment.objects.all().delete()
        Order.objects.all().delete()
        InboxEvent.objects.all().delete()
        receive_all([e for e in story if e["event_type"] != "freight.charge_posted"])
        process_inbox_until_empty()
        if together:
            receive_all(charges)
            process_inbox_until_empty()
        else:
            for event in charges:
                receive_all([event])
                process_inbox_until_empty()
        amounts.append(str(FreightCharge.objects.get(charge_id=charge["data"]["charge_id"]).amount))

    assert amounts == ["999.99", "999.99"]


@pytest.mark.parametrize(
    ("owner_field", "waits_for"),
    [
        ("shipment_id", HoldKey.shipment("X-1")),
        ("order_number", HoldKey.order("X-1")),
        ("invoice_number", HoldKey.invoice("X-1")),
    ],
)
def test_a_document_whose_owner_is_missing_waits_for_it_by_hold_key(
    brenner, story, owner_field, waits_for
):
    """Regression: documents held with the hold key's text, not a HoldKey (it only worked
    because str, too, has a `format` method)."""
    pod = next(e for e in story if e["event_type"] == "document.available")
    data = {key: value for key, value in pod["data"].items() if key != "shipment_id"}
    event = ProjectedEvent(
        key="tms:doc-x",
        event_type=pod["event_type"],
        occurred_at=timezone.now(),
        sequence=None,
        data={**data, owner_field: "X-1"},
    )

    with pytest.raises(Hold) as hold:
        project_event(event, ProjectionEffects())

    assert hold.value.waiting_for == waits_for


def test_documents_of_orders_invoices_and_unknown_shipments_in_one_batch(brenner, story):
    pod = next(e for e in story if e["event_type"] == "document.available")
    invoice_number = next(e for e in story if e["event_type"] == "invoice.posted")["data"][
        "invoice_number"
    ]

    def document(event_id: str, document_id: str, **owner: str) -> dict:
        data = {key: value for key, value in pod["data"].items() if key != "shipment_id"}
        # The ERP attaches documents to orders and invoices, the TMS to shipments.
        source = "tms" if "shipment_id" in owner else "erp"
        return {
            **pod,
            "source": source,
            "event_id": event_id,
            "data": {**data, "document_id": document_id, **owner},
        }

    receive_all([e for e in story if e["event_type"] != "document.available"])
    process_inbox_until_empty()
    receive_all(
        [
            document("tms-doc-1", "DOC-BOL-1", order_number="SO-100045"),
            document("tms-doc-2", "DOC-INV-1", invoice_number=invoice_number),
            document("tms-doc-3", "DOC-POD-9", shipment_id="SHP-UNKNOWN"),
            document("tms-doc-4", "DOC-BOL-1", order_number="SO-100045"),  # same document again
        ]
    )
    process_inbox_batch()

    owners = {
        doc.document_id: (
            doc.order_id and doc.order.order_number,
            doc.invoice_id and doc.invoice.invoice_number,
        )
        for doc in Document.objects.all()
    }
    assert owners == {"DOC-BOL-1": ("SO-100045", None), "DOC-INV-1": (None, invoice_number)}
    assert InboxEvent.objects.get(event_id="tms-doc-3").waiting_for == "shipment:SHP-UNKNOWN"
    assert set(
        Reference.objects.filter(reference_type="document_id").values_list("value", "kind")
    ) == {("DOC-BOL-1", "order"), ("DOC-INV-1", "invoice")}
