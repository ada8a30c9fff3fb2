"""Change-feed retention (a cursor older than the pruned rows is told to resync) and the
changes nothing else writes: an invoice turning overdue when its due date passes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from tests.factories import ApiTokenFactory, InvoiceFactory, ShipmentFactory
from visibility.models import ChangeFeedMarks, VisibilityChange
from visibility.services.changes import changes_prune, stamp_positions
from visibility.services.clock import invoices_overdue_record

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def partner(brenner) -> dict:
    token = ApiTokenFactory(tenant=brenner, scopes=["shipments", "documents", "invoices"])
    return {"HTTP_AUTHORIZATION": f"Bearer {token.secret}"}


def feed(client: Client, partner: dict, query: str = "") -> dict:
    response = client.get(f"/api/v1/changes{query}", **partner)
    assert response.status_code == 200, response.content
    return response.json()


def age_changes(days: float, *, through: int | None = None) -> None:
    changes = VisibilityChange.objects.all()
    if through is not None:
        changes = changes.filter(position__lte=through)
    changes.update(changed_at=timezone.now() - timedelta(days=days))


def test_a_cursor_below_the_pruned_positions_is_410_gone_and_told_to_resync(
    client, partner, brenner, settings
):
    settings.CHANGE_RETENTION_DAYS = 30
    account = brenner.accounts.get(number="C-1001")
    old = ShipmentFactory(customer_account=account)
    start = feed(client, partner, "?after=0")
    assert old.shipment_id in {change["id"] for change in start["changes"]}
    stamp_positions()
    age_changes(31)
    kept_from = feed(client, partner, "?after=now")["next"]
    recent = ShipmentFactory(customer_account=account)

    assert changes_prune(timezone.now()) > 0
    assert ChangeFeedMarks.current().pruned_through == kept_from

    response = client.get("/api/v1/changes?after=0", **partner)
    assert response.status_code == 410
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 410 and problem["type"].endswith("change-cursor-expired")
    assert "after=now" in problem["detail"] and problem["pruned_through"] == kept_from
    # At the pruned position nothing unread is gone: the page goes on.
    page = feed(client, partner, f"?after={kept_from}")
    ids = {change["id"] for change in page["changes"]}
    assert recent.shipment_id in ids and old.shipment_id not in ids


def test_pruning_keeps_every_row_after_the_first_recent_one(client, partner, brenner, settings):
    """Only a prefix of the positions is pruned: an old row after a recent one stays, so
    "below pruned_through" is the whole rule for clients."""
    settings.CHANGE_RETENTION_DAYS = 1
    account = brenner.accounts.get(number="C-1001")
    ShipmentFactory(customer_account=account)
    stamp_positions()
    first = VisibilityChange.objects.order_by("position").values_list("position", flat=True)
    prefix_end = list(first)[-1]
    ShipmentFactory(customer_account=account)
    stamp_positions()
    age_changes(2)
    VisibilityChange.objects.filter(position=prefix_end + 1).update(changed_at=timezone.now())

    changes_prune(timezone.now())

    assert ChangeFeedMarks.current().pruned_through == prefix_end
    assert not VisibilityChange.objects.filter(position__lte=prefix_end).exists()
    assert VisibilityChange.objects.filter(position__gt=prefix_end + 1).exists()  # old, kept
    assert changes_prune(timezone.now()) == 0


def test_the_prune_command_keeps_recent_changes(brenner, settings):
    ShipmentFactory(customer_account=brenner.accounts.get(number="C-1001"))
    stamp_positions()
    kept = VisibilityChange.objects.count()
    call_command("prune_changes")
    assert VisibilityChange.objects.count() == kept
    assert ChangeFeedMarks.current().pruned_through == 0


def test_an_invoice_turning_overdue_is_in_the_feed_once(client, partner, brenner):
    today = timezone.localdate()
    account = brenner.accounts.get(number="C-1001")
    overdue = InvoiceFactory(customer_account=account, due_date=today - timedelta(days=1))
    InvoiceFactory(customer_account=account, due_date=today + timedelta(days=5))
    InvoiceFactory(
        customer_account=account, due_date=today - timedelta(days=2), paid_at=timezone.now()
    )
    start = feed(client, partner, "?after=now")["next"]

    assert invoices_overdue_record(timezone.now()) == 1

    page = feed(client, partner, f"?after={start}")
    invoices = [change for change in page["changes"] if change["kind"] == "invoice"]
    assert [(change["id"], change["object"]["status"]) for change in invoices] == [
        (overdue.invoice_number, "overdue")
    ]
    assert invoices_overdue_record(timezone.now()) == 0  # recorded once
    # The next day, the invoice due today turns overdue; the recorded one is not again.
    assert invoices_overdue_record(timezone.now() + timedelta(days=6)) == 1


def test_graphql_changes_below_the_pruned_positions_is_a_coded_resync_error(client, partner):
    marks = ChangeFeedMarks.current()
    marks.pruned_through = 10
    marks.save()

    response = client.post(
        "/graphql",
        data={"query": '{ changes(after: "5") { next } }'},
        content_type="application/json",
        **partner,
    )

    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "CURSOR_EXPIRED"
    assert error["extensions"]["prunedThrough"] == 10
    assert "Resync" in error["message"]
