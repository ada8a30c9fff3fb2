"""Exceptions as work: the record's lifecycle, customer service's queue and what customers
read (reasons in words, visible notes only)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from accounts.models import AuditAction, AuditEntry
from tests.factories import EPOCH, ShipmentFactory, StaffFactory, account
from tests.helpers import sign_in_verified
from visibility import selectors
from visibility.models import ExceptionReason, Milestone, Shipment, ShipmentException
from visibility.services.clock import shipments_clock_refresh
from visibility.services.exceptions import (
    exception_acknowledge,
    exception_add_note,
    exception_assign,
    exception_resolve,
)

pytestmark = pytest.mark.django_db

LATE_NIGHT = datetime(2026, 11, 19, 23, tzinfo=EPOCH.tzinfo)


def overdue_shipment(account_number: str, **kwargs) -> ShipmentException:
    shipment = ShipmentFactory(
        customer_account=account(account_number),
        milestones=[Milestone.PICKED_UP, Milestone.IN_TRANSIT],
        **kwargs,
    )
    shipments_clock_refresh([Shipment.objects.get(pk=shipment.pk)], LATE_NIGHT)
    return ShipmentException.objects.get(shipment=shipment, reason=ExceptionReason.OVERDUE)


def test_a_record_is_acknowledged_assigned_annotated_and_resolved_with_an_audit_trail(
    brenner, cs_staff
):
    record = overdue_shipment("C-1001")
    assert record.status == ShipmentException.Status.OPEN
    exception_acknowledge(cs_staff, record, now=LATE_NIGHT)
    exception_assign(cs_staff, record, cs_staff)
    exception_add_note(
        cs_staff, record, "Carrier called", visible_to_customer=False, now=LATE_NIGHT
    )
    exception_resolve(cs_staff, record, now=LATE_NIGHT)
    record.refresh_from_db()
    assert record.status == ShipmentException.Status.RESOLVED
    assert record.owner == cs_staff and not record.resolved_automatically
    changes = AuditEntry.objects.filter(action=AuditAction.EXCEPTION_WORKED).order_by("id")
    assert [entry.details["change"] for entry in changes] == [
        "acknowledge",
        "assign",
        "note",
        "resolve",
    ]
    assert {entry.tenant_id for entry in changes} == {brenner.id}

    # Resolved by a person, the same occurrence (the same ETA passed) stays resolved.
    shipments_clock_refresh([record.shipment], LATE_NIGHT + timedelta(hours=1))
    assert not ShipmentException.objects.exclude(status="resolved").filter(
        reason=ExceptionReason.OVERDUE
    )


def test_the_queue_holds_only_the_tenants_a_staff_member_serves_oldest_first(
    brenner, nordwind, cs_staff, customer_user
):
    first = overdue_shipment("C-1001")
    second = overdue_shipment("C-2001", carrier_scac="UPSN")
    ShipmentException.objects.filter(pk=second.pk).update(opened_at=EPOCH)
    brenner_only = StaffFactory(username="cs-brenner", staff_tenants=[brenner])

    everyone = list(selectors.exception_queue(cs_staff))
    assert [record.pk for record in everyone][:1] == [second.pk]
    assert {record.pk for record in everyone} >= {first.pk, second.pk}
    assert {
        r.shipment.customer_account.tenant_id for r in selectors.exception_queue(brenner_only)
    } == {brenner.id}
    assert not selectors.exception_queue(customer_user).exists()
    by_carrier = selectors.exception_queue(cs_staff, carrier_scac="upsn")
    assert {record.shipment_id for record in by_carrier} == {second.shipment_id}
    by_reason = selectors.exception_queue(cs_staff, reasons=[ExceptionReason.WEATHER])
    assert not by_reason.exists()
    old = selectors.exception_queue(cs_staff, older_than=timedelta(days=2), now=LATE_NIGHT)
    assert {record.pk for record in old} == {second.pk}


def test_customers_read_their_open_exceptions_in_words_and_never_internal_notes(
    client, brenner, nordwind, cs_staff, customer_user, other_tenant_user
):
    record = overdue_shipment("C-1001")
    exception_add_note(cs_staff, record, "Driver sick", visible_to_customer=False, now=LATE_NIGHT)
    exception_add_note(
        cs_staff, record, "New delivery tomorrow 10:00", visible_to_customer=True, now=LATE_NIGHT
    )
    client.force_login(customer_user)
    body = client.get("/api/v1/exceptions").json()
    [row] = [row for row in body["results"] if row["reason"] == "overdue"]
    assert row["reason_label"] == "Overdue"
    assert [note["text"] for note in row["notes"]] == ["New delivery tomorrow 10:00"]

    shipment_id = record.shipment.shipment_id
    detail = client.get(f"/api/v1/shipments/{shipment_id}").json()
    assert "Overdue" in detail["flags"]
    assert "Driver sick" not in str(detail["exceptions"])
    page = client.get(f"/shipments/{shipment_id}/").content.decode()
    assert "New delivery tomorrow 10:00" in page and "Driver sick" not in page

    client.force_login(other_tenant_user)
    assert client.get("/api/v1/exceptions").json()["results"] == []

    sign_in_verified(client, cs_staff)
    queue = client.get("/exceptions/").content.decode()
    assert shipment_id in queue
    staff_page = client.get(f"/exceptions/{record.pk}/").content.decode()
    assert "Driver sick" in staff_page
    client.post(f"/exceptions/{record.pk}/", {"action": "acknowledge"})
    record.refresh_from_db()
    assert record.status == ShipmentException.Status.ACKNOWLEDGED

    client.force_login(customer_user)
    assert client.get("/exceptions/").status_code == 404
    assert client.get(f"/exceptions/{record.pk}/").status_code == 404


def test_a_record_is_open_since_the_problem_began_not_since_it_was_projected(
    client, brenner, source_tokens, story, settings
):
    """Projected long after the fact (a backlog, a replay, the demo loading twelve weeks
    at once), the delay's record is dated by the carrier's delay event and the clock
    rules' records by the instant their rule flipped."""
    from datetime import UTC

    from tests.helpers import send_story

    delayed = [event["event_id"] for event in story].index("tms-demo-0007")
    send_story(client, source_tokens, story[: delayed + 1])  # the order, up to the delay
    shipment = Shipment.objects.get(shipment_id="SHP-778120")
    delay = ShipmentException.objects.get(shipment=shipment, opened_by="delay")
    # tms-demo-0007, shipment.delayed, occurred 2026-11-18T06:30:00+01:00
    assert delay.opened_at == datetime(2026, 11, 18, 5, 30, tzinfo=UTC)

    much_later = shipment.last_event_at + timedelta(days=30)
    shipments_clock_refresh([shipment], much_later)
    stale = ShipmentException.objects.get(shipment=shipment, reason=ExceptionReason.TRACKING_STALE)
    stale_hours = settings.TRACKING_STALE_HOURS.get(
        shipment.mode, settings.TRACKING_STALE_HOURS_DEFAULT
    )
    assert stale.opened_at == shipment.last_event_at + timedelta(hours=stale_hours)
    overdue = ShipmentException.objects.get(shipment=shipment, reason=ExceptionReason.OVERDUE)
    assert overdue.opened_at == (shipment.eta_window_end or shipment.eta)
    assert overdue.opened_at < much_later
