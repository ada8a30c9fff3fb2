"""Systems of record: a source may assert only what its system owns (contract 1.1,
"Sources"), and an order's account belongs to the source that first released it."""

from __future__ import annotations

import copy
import itertools
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from accounts.models import SourceSystem
from accounts.services import source_create, tenant_create_or_update, user_create
from integration.models import InboxEvent, InboxState, RejectedEvent
from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from tests.helpers import post_events, sign_in_verified
from visibility.models import Order

pytestmark = pytest.mark.django_db

# The contract's table, restated here so that the code is checked against the spec.
MAY_SEND = {
    "erp": {
        "order.released",
        "order.cancelled",
        "invoice.posted",
        "invoice.paid",
        "document.available",
    },
    "tms": {
        "shipment.created",
        "shipment.tender_accepted",
        "shipment.milestone",
        "shipment.eta_updated",
        "shipment.delayed",
        "freight.charge_posted",
        "document.available",
    },
    "carrier": {
        "shipment.milestone",
        "shipment.eta_updated",
        "shipment.delayed",
        "document.available",
    },
}
OWNED_BY_ERP = "order SO-100045 is owned by source erp"
EVENT_NUMBERS = itertools.count()


def sent_by(event: dict[str, Any], source: str, **data: Any) -> dict[str, Any]:
    """`event` as `source` would send it, under a new event id, with some data fields
    replaced."""
    event = copy.deepcopy(event)
    event.update(source=source, event_id=f"{source}-{event['event_id']}-{next(EVENT_NUMBERS)}")
    event["data"].update(data)
    return event


def example_of_each_type(story: list[dict], role: str) -> list[dict]:
    """One example per event type from the story (and a cancellation); a document is
    attached to what the role may attach it to, so only the type is judged."""
    examples = {event["event_type"]: event for event in story}
    examples["order.cancelled"] = {
        **examples["order.released"],
        "event_id": "erp-cancel-1",
        "event_type": "order.cancelled",
        "data": {"order_number": "SO-100045", "reason": "customer request"},
    }
    if role == "erp":
        document = copy.deepcopy(examples["document.available"])
        del document["data"]["shipment_id"]
        document["data"]["order_number"] = "SO-100045"
        examples["document.available"] = document
    return list(examples.values())


def result_of(client, token: str, event: dict) -> dict:
    response = post_events(client, token, event)
    assert response.status_code == 202, response.content
    [result] = response.json()["results"]
    return result


@pytest.mark.parametrize("role", ["erp", "tms", "carrier"])
def test_each_role_may_send_only_its_event_types(client, story, role):
    key = f"{role}-matrix"
    _, token = source_create(key=key, role=role)
    events = [sent_by(event, key) for event in example_of_each_type(story, role)]
    assert len({event["event_type"] for event in events}) == 11

    response = post_events(client, token, {"events": events})

    assert response.status_code == 202
    outcome = {
        event["event_type"]: result["status"]
        for event, result in zip(events, response.json()["results"], strict=True)
    }
    assert outcome == {
        event_type: "accepted" if event_type in MAY_SEND[role] else "rejected"
        for event_type in outcome
    }
    for rejected in RejectedEvent.objects.filter(source=key):
        [error] = rejected.errors
        assert error["field"] == "event_type"
        assert f"a source with role {role} may not send {rejected.event_type}" in error["message"]
    assert RejectedEvent.objects.filter(source=key).count() == 11 - len(MAY_SEND[role])


@pytest.mark.parametrize(
    ("role", "target", "accepted"),
    [
        ("erp", "order_number", True),
        ("erp", "invoice_number", True),
        ("erp", "shipment_id", False),
        ("tms", "shipment_id", True),
        ("tms", "order_number", False),
        ("tms", "invoice_number", False),
        ("carrier", "shipment_id", True),
        ("carrier", "order_number", False),
        ("carrier", "invoice_number", False),
    ],
)
def test_documents_attach_only_to_what_the_role_owns(client, story, role, target, accepted):
    _, token = source_create(key=f"{role}-docs", role=role)
    document = next(event for event in story if event["event_type"] == "document.available")
    document = sent_by(document, f"{role}-docs")
    del document["data"]["shipment_id"]
    document["data"][target] = "X-1"

    result = result_of(client, token, document)

    if accepted:
        assert result["status"] == "accepted"
    else:
        assert result["status"] == "rejected"
        assert result["errors"][0]["field"] == f"data.{target}"
        assert "may attach documents only to" in result["errors"][0]["message"]


def test_a_carrier_document_naming_an_order_besides_its_shipment_is_rejected(client, story):
    _, token = source_create(key="dhl", role="carrier")
    document = next(event for event in story if event["event_type"] == "document.available")

    result = result_of(client, token, sent_by(document, "dhl", order_number="SO-100045"))

    assert result["status"] == "rejected"
    assert [error["field"] for error in result["errors"]] == ["data.order_number"]


def test_an_unregistered_or_inactive_source_sends_nothing(story):
    source, _ = source_create(key="old-erp", role="erp")
    source.active = False
    source.save()

    results = receive_events(source="old-erp", events=[sent_by(story[0], "old-erp")])
    results += receive_events(source="nobody", events=[sent_by(story[0], "nobody")])

    assert [result.status for result in results] == ["rejected", "rejected"]
    assert not InboxEvent.objects.exists()
    assert RejectedEvent.objects.count() == 2


def test_an_account_limited_erp_sends_only_for_its_accounts(client, brenner, story):
    # C-1001 exists; C-9999 does not yet: a source may be limited to it all the same.
    _, token = source_create(key="erp-brenner", role="erp", account_numbers=["C-1001", "C-9999"])
    release = next(event for event in story if event["event_type"] == "order.released")
    invoice = next(event for event in story if event["event_type"] == "invoice.posted")

    own = result_of(client, token, sent_by(release, "erp-brenner"))
    future = result_of(
        client,
        token,
        sent_by(release, "erp-brenner", order_number="SO-9", customer_account="C-9999"),
    )
    other_order = result_of(
        client,
        token,
        sent_by(release, "erp-brenner", order_number="SO-2", customer_account="C-2001"),
    )
    other_invoice = result_of(
        client, token, sent_by(invoice, "erp-brenner", customer_account="C-2001")
    )

    assert own["status"] == future["status"] == "accepted"
    for result in (other_order, other_invoice):
        assert result["status"] == "rejected"
        assert result["errors"] == [
            {
                "field": "data.customer_account",
                "message": "this source may send events only for accounts C-1001, C-9999",
            }
        ]


def test_an_account_limited_carrier_may_not_touch_another_accounts_shipment(
    client, delivered_story, story
):
    """SHP-778120 carries an order of C-1001; a carrier feed limited to C-2001 may not
    report on it. A shipment the portal does not know yet cannot be judged at intake:
    its role decides alone (docs/EVENTS.md)."""
    _, token = source_create(key="carrier-nordwind", role="carrier", account_numbers=["C-2001"])
    milestone = next(event for event in story if event["event_type"] == "shipment.milestone")

    known = result_of(client, token, sent_by(milestone, "carrier-nordwind"))
    unknown = result_of(
        client, token, sent_by(milestone, "carrier-nordwind", shipment_id="SHP-NEW")
    )

    assert known["status"] == "rejected"
    assert known["errors"][0]["field"] == "data.shipment_id"
    assert unknown["status"] == "accepted"


def test_an_account_limited_tms_may_not_charge_or_link_another_account(
    client, delivered_story, story
):
    _, token = source_create(key="tms-nordwind", role="tms", account_numbers=["C-2001"])
    charge = next(event for event in story if event["event_type"] == "freight.charge_posted")
    created = next(event for event in story if event["event_type"] == "shipment.created")

    charged = result_of(client, token, sent_by(charge, "tms-nordwind", customer_account="C-1001"))
    linked = result_of(client, token, sent_by(created, "tms-nordwind", shipment_id="SHP-NEW"))

    assert charged["status"] == "rejected"
    assert charged["errors"][0]["field"] == "data.customer_account"
    assert linked["status"] == "rejected"
    assert linked["errors"][0]["field"] == "data.orders[0].order_number"


def test_create_source_requires_a_role_and_takes_accounts(client, story):
    with pytest.raises(CommandError):
        call_command("create_source", "erp-x")
    out = StringIO()

    call_command("create_source", "erp-x", role="erp", accounts="C-1001, C-2001", stdout=out)

    token = out.getvalue().splitlines()[-1]
    assert "registered as erp for C-1001, C-2001" in out.getvalue()
    result = result_of(client, token, sent_by(story[0], "erp-x", customer_account="C-3001"))
    assert result["status"] == "rejected"
    assert result["errors"][0]["field"] == "data.customer_account"


# The outside tester's story: another source takes SO-100045 to another tenant.


def attackers_release(story: list[dict], account: str = "C-2001", **changes: Any) -> dict:
    """The story's release of SO-100045, from source `attacker`, for `account`, with a
    higher sequence than the ERP's."""
    release = next(event for event in story if event["event_type"] == "order.released")
    event = sent_by(release, "attacker", customer_account=account)
    event.update(sequence=99, **changes)
    return event


def test_another_source_cannot_move_an_order_to_another_tenant(
    client, delivered_story, story, nordwind, customer_user, other_tenant_user
):
    _, token = source_create(key="attacker", role="erp")
    cancellation = {
        **attackers_release(story),
        "event_id": "attacker-cancel",
        "event_type": "order.cancelled",
        "data": {"order_number": "SO-100045"},
    }

    released = result_of(client, token, attackers_release(story))
    cancelled = result_of(client, token, cancellation)
    process_inbox_until_empty()

    for result in (released, cancelled):
        assert result["status"] == "rejected"
        assert result["errors"] == [{"field": "data.order_number", "message": OWNED_BY_ERP}]
    assert RejectedEvent.objects.filter(source="attacker").count() == 2
    order = Order.objects.get(order_number="SO-100045")
    assert (order.customer_account.number, order.released_by) == ("C-1001", "erp")
    assert order.cancelled_at is None
    client.force_login(other_tenant_user)
    for url in (
        "/api/v1/orders/SO-100045",
        "/api/v1/shipments/SHP-778120",
        "/api/v1/documents/DOC-POD-778120",
        "/orders/SO-100045/",
        "/documents/DOC-POD-778120/download",
    ):
        assert client.get(url).status_code == 404, url
    client.force_login(customer_user)
    assert client.get("/api/v1/orders/SO-100045").status_code == 200
    assert client.get("/documents/DOC-POD-778120/download").status_code == 200


@pytest.mark.parametrize("attacker_arrives_first", [False, True])
@pytest.mark.parametrize("attacker_occurred_earlier", [False, True])
def test_racing_releases_leave_the_first_release_the_owner(
    brenner, nordwind, story, attacker_arrives_first, attacker_occurred_earlier
):
    """Both releases are in the inbox before either is projected, so intake could not
    judge them: projection does, the same way whatever their order in the batch. The
    owner is the source of the first release (by sequence); the other is a dead letter
    at once, with the reason, and is not retried."""
    source_create(key="attacker", role="erp")
    legitimate = next(event for event in story if event["event_type"] == "order.released")
    attack = attackers_release(
        story,
        occurred_at="2026-11-16T07:00:00+01:00"
        if attacker_occurred_earlier
        else "2026-11-16T09:00:00+01:00",
    )
    arrivals = [("attacker", attack), ("erp", legitimate)]
    if not attacker_arrives_first:
        arrivals.reverse()
    for source, event in arrivals:
        [result] = receive_events(source=source, events=[event])
        assert result.status == "accepted"

    process_inbox_until_empty()

    order = Order.objects.get(order_number="SO-100045")
    assert (order.customer_account.number, order.released_by) == ("C-1001", "erp")
    dead = InboxEvent.objects.get(source="attacker")
    assert (dead.state, dead.last_error, dead.next_attempt_at) == (
        InboxState.DEAD,
        OWNED_BY_ERP,
        None,
    )
    assert InboxEvent.objects.get(source="erp").state == InboxState.PROCESSED


def test_a_held_release_of_another_source_dies_when_it_can_apply(story, brenner):
    """The attacker's release waits for its account's owner while the ERP's applies;
    when the account gets a tenant, the release is projected alone, and dies."""
    source_create(key="attacker", role="erp")
    attack = attackers_release(story, account="C-3001")
    receive_events(source="attacker", events=[attack])
    process_inbox_until_empty()
    assert InboxEvent.objects.get(source="attacker").state == InboxState.HELD
    receive_events(source="erp", events=[story[0]])
    process_inbox_until_empty()

    tenant_create_or_update(slug="third", name="Third", account_numbers=["C-3001"])
    process_inbox_until_empty()

    dead = InboxEvent.objects.get(source="attacker")
    assert (dead.state, dead.last_error) == (InboxState.DEAD, OWNED_BY_ERP)
    assert Order.objects.get(order_number="SO-100045").customer_account.number == "C-1001"


def test_a_racing_cancellation_of_another_source_is_a_dead_letter(story, brenner):
    source_create(key="attacker", role="erp")
    cancellation = {
        **attackers_release(story),
        "event_id": "attacker-cancel",
        "event_type": "order.cancelled",
        "data": {"order_number": "SO-100045", "reason": "not yours"},
    }
    receive_events(source="attacker", events=[cancellation])
    receive_events(source="erp", events=[story[0]])

    process_inbox_until_empty()

    dead = InboxEvent.objects.get(source="attacker")
    assert (dead.state, dead.last_error) == (InboxState.DEAD, OWNED_BY_ERP)
    assert Order.objects.get(order_number="SO-100045").cancelled_at is None


def test_platform_admins_see_and_change_roles_and_accounts_in_the_admin(client):
    sign_in_verified(client, user_create(username="root", password="x-" * 8, platform_admin=True))
    erp = SourceSystem.objects.get(key="erp")

    listing = client.get("/admin/accounts/sourcesystem/").content.decode()
    changed = client.post(
        f"/admin/accounts/sourcesystem/{erp.id}/change/",
        {"key": "erp", "role": "erp", "account_numbers": "C-1001,C-1002", "active": "on"},
    )

    assert "carrier" in listing and "ERP (orders, customer accounts, invoices)" in listing
    assert changed.status_code == 302
    erp.refresh_from_db()
    assert (erp.role, erp.account_numbers) == ("erp", ["C-1001", "C-1002"])


def test_the_policy_reads_a_malformed_batch_without_failing(client, source_tokens, story):
    """The policy loads what a batch names before each event is validated (found by the
    intake fuzz tests: an `event_type` that is a list; a lone surrogate in a looked-up
    number, which psycopg cannot encode and answered 500)."""
    malformed = [
        {**story[0], "event_id": "bad-1", "event_type": []},
        {**story[0], "event_id": "bad-2", "data": {"order_number": ["SO-1"]}},
        {**story[0], "event_id": "bad-3", "data": {"order_number": "SO-\u0000"}},
        {**story[0], "event_id": "bad-4", "data": {"order_number": "SO-\ud800"}},
        {
            **story[0],
            "event_id": "bad-5",
            "data": {"shipment_id": "SHP-\udfff", "invoice_number": "INV-\ud800"},
        },
        "not an event",
    ]

    response = post_events(client, source_tokens["erp"], {"events": [*malformed, story[0]]})

    assert response.status_code == 202
    statuses = [result["status"] for result in response.json()["results"]]
    assert statuses == ["rejected"] * 6 + ["accepted"]


def test_the_owner_may_move_its_order_to_another_account(story, brenner, nordwind):
    """The rule protects the owner's authority, not the account: the ERP that released
    the order may correct its account with a newer snapshot."""
    receive_events(source="erp", events=[story[0]])
    process_inbox_until_empty()
    correction = {
        **story[0],
        "event_id": "erp-correction",
        "sequence": 2,
        "data": {**story[0]["data"], "customer_account": "C-2001"},
    }

    [result] = receive_events(source="erp", events=[correction])
    process_inbox_until_empty()

    assert result.status == "accepted"
    order = Order.objects.get(order_number="SO-100045")
    assert (order.customer_account.number, order.released_by) == ("C-2001", "erp")
