"""bulk_update_rows and bulk_insert_rows write every kind of column the projection writes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from accounts.models import CustomerAccount, Tenant
from core.db.bulk import (
    binary_rows,
    bulk_insert_rows,
    bulk_update_rows,
    insert_rows,
    update_rows,
)
from visibility.models import FreightCharge, Shipment, ShipmentEvent, Webhook, WebhookEventType

pytestmark = pytest.mark.django_db


def test_each_row_gets_its_own_arrays_json_and_timestamps(brenner):
    account = CustomerAccount.objects.get(number="C-1001")
    first, second, third = (
        Shipment.objects.create(shipment_id=f"S-{n}", customer_account=account) for n in range(3)
    )
    first.tracking_numbers = ["1Z 1", 'quote " and \\ backslash', "comma, {brace}"]
    first.origin = {"city": "Linz", "nested": {"list": [1, 2]}}
    second.tracking_numbers = []
    second.planned_delivery_at = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    third.tracking_numbers = ["ONLY"]
    third.origin = None

    assert (
        bulk_update_rows(
            [first, second, third], ["tracking_numbers", "origin", "planned_delivery_at"]
        )
        == 3
    )

    stored = {shipment.shipment_id: shipment for shipment in Shipment.objects.all()}
    assert stored["S-0"].tracking_numbers == first.tracking_numbers
    assert stored["S-0"].origin == first.origin
    assert stored["S-0"].planned_delivery_at is None
    assert stored["S-1"].tracking_numbers == []
    assert stored["S-1"].planned_delivery_at == second.planned_delivery_at
    assert stored["S-2"].tracking_numbers == ["ONLY"]
    assert stored["S-2"].origin is None


def test_insert_writes_choices_json_decimals_and_stamps_then_skips_conflicts(brenner):
    account = CustomerAccount.objects.get(number="C-1001")
    shipment = Shipment.objects.create(shipment_id="S-1", customer_account=account)
    moment = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    facts = [
        ShipmentEvent(
            shipment=shipment,
            event_key="k1",
            kind=ShipmentEvent.Kind.MILESTONE,
            occurred_at=moment,
            milestone="delivered",
            location={"city": "Linz", "nested": [1, {"a": None}]},
            stop_sequence=2,
            received_by='J. "Quote" \\ Doe',
        ),
        ShipmentEvent(
            shipment=shipment,
            event_key="k2",
            kind=ShipmentEvent.Kind.ETA,
            occurred_at=moment,
            eta=moment,
            location=None,
        ),
    ]

    assert bulk_insert_rows(facts) == 2
    assert (
        bulk_insert_rows(
            [
                *facts,
                ShipmentEvent(
                    shipment=shipment,
                    event_key="k3",
                    kind="delay",
                    occurred_at=moment,
                    reason_code="AO",
                ),
            ],
            ignore_conflicts=True,
        )
        == 1
    )

    stored = {fact.event_key: fact for fact in ShipmentEvent.objects.all()}
    assert set(stored) == {"k1", "k2", "k3"}
    assert stored["k1"].kind == "milestone" and stored["k1"].milestone == "delivered"
    assert stored["k1"].location == {"city": "Linz", "nested": [1, {"a": None}]}
    assert stored["k1"].stop_sequence == 2
    assert stored["k1"].received_by == 'J. "Quote" \\ Doe'
    assert stored["k2"].eta == moment and stored["k2"].location is None
    assert stored["k3"].reason_code == "AO"

    bulk_insert_rows(
        [
            FreightCharge(
                charge_id="C1",
                shipment=shipment,
                charge_type="fuel",
                amount=Decimal("12.345"),
                currency="EUR",
                occurred_at=moment,
                event_key="k4",
            )
        ]
    )
    assert FreightCharge.objects.get().amount == Decimal("12.35")

    bulk_insert_rows(
        [
            Webhook(
                tenant=Tenant.objects.get(slug="brenner"),
                url="https://example.com/hook",
                secret="s",
                event_types=[WebhookEventType.SHIPMENT_DELAYED],
            )
        ]
    )
    webhook = Webhook.objects.get()
    assert webhook.created_at is not None and webhook.active is True
    assert webhook.event_types == [WebhookEventType.SHIPMENT_DELAYED]


def test_inserted_rows_get_their_ids_matched_by_a_unique_field(brenner):
    account = CustomerAccount.objects.get(number="C-1001")
    Shipment.objects.create(shipment_id="S-EXISTING", customer_account=account)
    new = [
        Shipment(shipment_id=f"S-{n}", customer_account=account, load_id=f"L-{n}")
        for n in (3, 1, 2)
    ]

    assert bulk_insert_rows(new, set_ids_by="shipment_id") == 3

    for shipment in new:
        assert Shipment.objects.get(pk=shipment.pk).load_id == f"L-{shipment.shipment_id[2:]}"
        assert not shipment._state.adding
    shipment = new[0]
    shipment.mode = "ltl"
    shipment.save(update_fields=["mode"])  # an UPDATE: the instance knows its row
    assert Shipment.objects.get(shipment_id="S-3").mode == "ltl"


def test_rows_given_as_dicts_take_defaults_and_write_only_their_fields(brenner):
    account = CustomerAccount.objects.get(number="C-1001")
    shipment = Shipment.objects.create(
        shipment_id="S-1", customer_account=account, load_id="L-1", mode="ftl"
    )
    moment = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)

    assert (
        insert_rows(
            ShipmentEvent,
            [
                {
                    "shipment_id": shipment.pk,
                    "event_key": "k1",
                    "kind": "milestone",
                    "occurred_at": moment,
                    "location": {"city": "Linz"},
                },
                {
                    "shipment_id": shipment.pk,
                    "event_key": "k2",
                    "kind": "eta",
                    "occurred_at": moment,
                    "eta": moment,
                },
            ],
            ignore_conflicts=True,
        )
        == 2
    )
    fact = ShipmentEvent.objects.get(event_key="k1")
    assert fact.location == {"city": "Linz"} and fact.milestone == "" and fact.eta is None
    eta = ShipmentEvent.objects.get(event_key="k2")
    assert eta.location is None and eta.eta == moment

    Webhook.objects.all().delete()
    insert_rows(
        Webhook,
        [
            {
                "tenant_id": Tenant.objects.get(slug="brenner").pk,
                "url": "https://example.com/hook",
                "secret": "s",
                "event_types": [WebhookEventType.SHIPMENT_DELAYED],
            }
        ],
    )
    webhook = Webhook.objects.get()
    assert webhook.created_at is not None and webhook.active is True

    assert (
        update_rows(Shipment, [{"id": shipment.pk, "mode": "ltl", "tracking_numbers": ["1Z 9"]}])
        == 1
    )
    shipment.refresh_from_db()
    assert (shipment.mode, shipment.tracking_numbers, shipment.load_id) == ("ltl", ["1Z 9"], "L-1")


def test_binary_rows_read_what_values_list_reads(brenner):
    account = CustomerAccount.objects.get(number="C-1001")
    moment = datetime(2026, 11, 20, 8, 30, 15, 123456, tzinfo=UTC)
    Shipment.objects.create(
        shipment_id="S-1",
        customer_account=account,
        eta=moment,
        promised_date=moment.date(),
        delayed=True,
    )
    Shipment.objects.create(shipment_id="S-2", customer_account=account)
    shipments = Shipment.objects.order_by("shipment_id").values_list(
        "shipment_id", "customer_account_id", "eta", "promised_date", "delayed"
    )

    assert binary_rows(shipments) == list(shipments)
    assert binary_rows(shipments)[0][2] == moment
    assert binary_rows(shipments.filter(id__in=[])) == []
