"""bulk_update_rows writes every kind of column the projection writes, row by row."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accounts.models import CustomerAccount
from portal.bulk import bulk_update_rows
from visibility.models import Shipment

pytestmark = pytest.mark.django_db


def test_each_row_gets_its_own_arrays_json_and_timestamps(brenner):
    account = CustomerAccount.objects.get(number="C-1001")
    first, second, third = (Shipment.objects.create(shipment_id=f"S-{n}",
                                                    customer_account=account)
                            for n in range(3))
    first.tracking_numbers = ["1Z 1", 'quote " and \\ backslash', "comma, {brace}"]
    first.origin = {"city": "Linz", "nested": {"list": [1, 2]}}
    second.tracking_numbers = []
    second.planned_delivery_at = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    third.tracking_numbers = ["ONLY"]
    third.origin = None

    assert bulk_update_rows([first, second, third],
                            ["tracking_numbers", "origin", "planned_delivery_at"]) == 3

    stored = {shipment.shipment_id: shipment for shipment in Shipment.objects.all()}
    assert stored["S-0"].tracking_numbers == first.tracking_numbers
    assert stored["S-0"].origin == first.origin
    assert stored["S-0"].planned_delivery_at is None
    assert stored["S-1"].tracking_numbers == []
    assert stored["S-1"].planned_delivery_at == second.planned_delivery_at
    assert stored["S-2"].tracking_numbers == ["ONLY"]
    assert stored["S-2"].origin is None
