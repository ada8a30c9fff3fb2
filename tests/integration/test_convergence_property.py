"""Property: any permutation of an order-to-cash story, with duplicates, processed in any
batch sizes, in one process or by four worker processes projecting lanes at once, yields
the same read models as in-order delivery (docs/ARCHITECTURE.md, decision 3 and
"Projection lanes")."""

from __future__ import annotations

import base64

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integration.models import InboxEvent, InboxState
from integration.services.intake import receive_events
from integration.services.processing import process_inbox_batch, process_inbox_until_empty
from tests.helpers import read_model_state, reset_read_models
from tests.processes import start_worker, stop, wait_until, worker_log

pytestmark = pytest.mark.django_db

# Few distinct instants, so that genuine ties (same occurred_at) are common.
INSTANTS = [f"2026-11-{day:02d}T{hour:02d}:00:00Z" for day in (16, 17) for hour in (8, 12)]
MILESTONES = [
    "picked_up",
    "departed_origin",
    "arrived_hub",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "exception",
]
CODES = ["AF", "X6", "D1", "X3", "AG", "SD", "A9", "ZZ"]


@st.composite
def stories(draw) -> list[dict]:
    events: list[dict] = []

    def add(source: str, event_type: str, data: dict, sequence: int | None = None) -> None:
        event = {
            "spec_version": "1.0",
            "event_id": f"{source}-{len(events)}",
            "event_type": event_type,
            "source": source,
            "occurred_at": draw(st.sampled_from(INSTANTS)),
            "data": data,
        }
        if sequence is not None:
            event["sequence"] = sequence
        events.append(event)

    orders = [f"SO-{index}" for index in range(draw(st.integers(1, 3)))]
    for order in orders:
        for version in range(1, draw(st.integers(1, 2)) + 1):
            add(
                "erp",
                "order.released",
                {
                    "order_number": order,
                    "customer_account": draw(st.sampled_from(["C-1001", "C-1002"])),
                    "customer_po": f"PO-{order}-{version}",
                    "requested_delivery_date": draw(st.sampled_from(["2026-11-17", "2026-11-18"])),
                    "lines": [
                        {"line_number": n, "sku": f"SKU-{n}", "quantity": version * n}
                        for n in range(1, draw(st.integers(1, 3)) + 1)
                    ],
                },
                sequence=draw(st.one_of(st.none(), st.integers(0, 3))),
            )
        if draw(st.integers(0, 4)) == 0:
            add("erp", "order.cancelled", {"order_number": order, "reason": "customer"})
        if draw(st.booleans()):
            add(
                "erp",
                "invoice.posted",
                {
                    "invoice_number": f"INV-{order}",
                    "customer_account": "C-1001",
                    "order_numbers": [order],
                    "currency": "EUR",
                    "total_amount": draw(st.sampled_from(["10.00", "12.50"])),
                },
            )
            if draw(st.booleans()):
                add("erp", "invoice.paid", {"invoice_number": f"INV-{order}", "amount": "10.00"})
    for index in range(draw(st.integers(1, 3))):
        shipment = f"SHP-{index}"
        carried = draw(st.lists(st.sampled_from(orders), min_size=1, max_size=2, unique=True))
        for version in range(1, draw(st.integers(1, 2)) + 1):
            data = {
                "shipment_id": shipment,
                "load_id": f"LD-{index % 2}",
                "orders": [{"order_number": order, "line_numbers": [1]} for order in carried],
                "tracking_numbers": [f"TRK{index}{version}"],
                "planned_delivery_at": draw(st.sampled_from(INSTANTS)),
            }
            if draw(st.booleans()):
                data["carrier"] = {"scac": draw(st.sampled_from(["DHLF", "UPSN"]))}
            add("tms", "shipment.created", data, sequence=version)
        if draw(st.booleans()):
            add(
                "tms",
                "shipment.tender_accepted",
                {"shipment_id": shipment, "carrier": {"scac": "KNIG", "name": "K+N"}},
            )
        for _ in range(draw(st.integers(0, 5))):
            if draw(st.booleans()):
                add(
                    "tms",
                    "shipment.milestone",
                    {"shipment_id": shipment, "milestone": draw(st.sampled_from(MILESTONES))},
                )
            else:
                add(
                    "tms",
                    "shipment.milestone",
                    {
                        "shipment_id": shipment,
                        "carrier_status_code": draw(st.sampled_from(CODES)),
                        "eta": draw(st.sampled_from(INSTANTS)),
                    },
                )
        for _ in range(draw(st.integers(0, 2))):
            add(
                "tms",
                "shipment.eta_updated",
                {"shipment_id": shipment, "eta": draw(st.sampled_from(INSTANTS))},
            )
        if draw(st.booleans()):
            add(
                "tms",
                "shipment.delayed",
                {
                    "shipment_id": shipment,
                    "reason_code": "AO",
                    "new_eta": draw(st.sampled_from(INSTANTS)),
                },
            )
        if draw(st.booleans()):
            add(
                "tms",
                "freight.charge_posted",
                {
                    "shipment_id": shipment,
                    "charge_id": f"CHG-{index}",
                    "charge_type": "fuel",
                    "amount": "5.00",
                    "currency": "EUR",
                },
            )
        if draw(st.booleans()):
            add(
                "tms",
                "document.available",
                {
                    "document_id": f"DOC-{index}",
                    "document_type": "pod",
                    "shipment_id": shipment,
                    "filename": f"pod-{index}.pdf",
                    "content_type": "application/pdf",
                    "content_base64": base64.b64encode(f"pod {index}".encode()).decode(),
                },
            )
    return events


def deliver(events: list[dict], batch_sizes: list[int]) -> dict:
    reset_read_models()
    for position, event in enumerate(events):
        [result] = receive_events(source=event["source"], events=[event])
        assert result.status in ("accepted", "duplicate"), result
        process_inbox_batch(batch_size=batch_sizes[position % len(batch_sizes)])
    process_inbox_until_empty()
    return read_model_state()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_permutation_with_duplicates_gives_the_same_read_models(brenner, data):
    story = data.draw(stories(), label="story")
    in_order = deliver(story, [1000])

    duplicates = data.draw(st.lists(st.sampled_from(story), max_size=5), label="duplicates")
    shuffled = data.draw(st.permutations(story + duplicates), label="delivery order")
    batch_sizes = data.draw(
        st.lists(st.integers(1, 5), min_size=1, max_size=4), label="batch sizes"
    )

    assert deliver(shuffled, batch_sizes) == in_order


def deliver_to_workers(events: list[dict]) -> dict:
    """Post `events` a few at a time, as sources would, while the worker processes
    project them (woken by intake); the read models once every event is projected."""
    reset_read_models()
    for offset in range(0, len(events), 4):
        window = events[offset : offset + 4]
        for source in ("erp", "tms"):
            sent = [event for event in window if event["source"] == source]
            results = receive_events(source=source, events=sent) if sent else []
            assert all(result.status in ("accepted", "duplicate") for result in results)
    settled = wait_until(
        lambda: not InboxEvent.objects.exclude(state=InboxState.PROCESSED).exists(),
        timeout=60,
        interval=0.05,
    )
    assert settled, list(
        InboxEvent.objects.exclude(state=InboxState.PROCESSED).values_list(
            "event_id", "state", "waiting_for", "last_error"
        )
    )
    return read_model_state()


@pytest.fixture
def four_worker_processes():
    """Four worker processes, four lanes, batches of at most three events: a story's
    events are projected by several batches of several lanes at once."""
    workers = [start_worker(INBOX_LANES="4", INBOX_BATCH_SIZE="3") for _ in range(4)]
    yield
    logs = []
    for worker in workers:
        stop(worker)
        logs.append(worker_log(worker))
    assert not any("deadlock detected" in log for log in logs)
    assert not any("Traceback" in log for log in logs), logs


@pytest.mark.fault
@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_permutation_projected_by_four_worker_processes_gives_the_same_read_models(
    brenner, four_worker_processes, data
):
    story = data.draw(stories(), label="story")
    # In order, in this process, inside a transaction that is rolled back: the workers
    # never see these rows.
    with transaction.atomic():
        in_order = deliver(story, [1000])
        transaction.set_rollback(True)

    duplicates = data.draw(st.lists(st.sampled_from(story), max_size=5), label="duplicates")
    shuffled = data.draw(st.permutations(story + duplicates), label="delivery order")

    assert deliver_to_workers(shuffled) == in_order
