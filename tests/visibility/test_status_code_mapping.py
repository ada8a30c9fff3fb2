"""The X12 214 mapping is data: seeded from the contract, editable, used by projection."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from accounts.services import user_create
from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from tests.factories import PASSWORD
from tests.helpers import sign_in_verified
from visibility.models import Shipment, ShipmentEvent, StatusCodeMapping

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
    sign_in_verified(client, platform_admin)
    response = client.post(
        "/admin/visibility/statuscodemapping/add/",
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


def test_an_unknown_milestone_is_refused_by_the_admin(client):
    """A typo in the mapping would otherwise reach derivation, which knows only the
    contract's milestones."""
    admin = user_create(username="root", password=PASSWORD, platform_admin=True)
    sign_in_verified(client, admin)
    response = client.post(
        "/admin/visibility/statuscodemapping/add/",
        {"code": "OO", "description": "Typo", "action": "milestone", "milestone": "deliverd"},
    )

    assert response.status_code == 200
    assert "milestone" in response.context["adminform"].form.errors
    assert not StatusCodeMapping.objects.filter(code="OO").exists()


@pytest.mark.parametrize(
    ("action", "milestone"),
    [("milestone", "deliverd"), ("milestone", ""), ("stored", "delivered")],
)
def test_full_clean_refuses_a_mapping_derivation_cannot_use(action, milestone):
    mapping = StatusCodeMapping(code="OO", description="x", action=action, milestone=milestone)

    with pytest.raises(ValidationError) as error:
        mapping.full_clean()

    assert "milestone" in error.value.message_dict
