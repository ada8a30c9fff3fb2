"""The X12 214 mapping is data: seeded from the contract, editable, used by projection."""

from __future__ import annotations

import pytest

from integration.models import StatusCodeMapping
from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from visibility.models import Shipment, ShipmentEvent

pytestmark = pytest.mark.django_db


def test_default_table_matches_the_contract():
    table = {m.code: (m.action, m.milestone) for m in StatusCodeMapping.objects.all()}

    assert table["D1"] == ("milestone", "delivered")
    assert table["X3"] == ("stored", "")
    assert table["AG"] == ("eta", "")
    assert table["SD"] == ("delay", "")
    assert len(table) == 14


def test_an_admin_mapping_for_a_new_code_applies_to_new_events(
    client, brenner, story, platform_admin
):
    client.force_login(platform_admin)
    response = client.post(
        "/admin/integration/statuscodemapping/add/",
        {
            "code": "OO",
            "description": "Out for delivery (carrier X)",
            "action": "milestone",
            "milestone": "out_for_delivery",
        },
    )
    assert response.status_code == 302
    event = {
        **story[3],
        "event_id": "tms-oo",
        "data": {"shipment_id": "SHP-778120", "carrier_status_code": "OO"},
    }
    for item in [*story[:2], event]:
        receive_events(source=item["source"], events=[item])
    process_inbox_until_empty()

    fact = ShipmentEvent.objects.get(event_key="tms:tms-oo")
    assert (fact.kind, fact.milestone) == ("milestone", "out_for_delivery")
    assert Shipment.objects.get().status == "out_for_delivery"
