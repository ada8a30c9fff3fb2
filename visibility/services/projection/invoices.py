"""invoice.posted and invoice.paid, a batch at a time."""

from __future__ import annotations

from decimal import Decimal

from core.db.bulk import bulk_insert_rows, bulk_update_rows
from visibility.holds import HoldKey
from visibility.models import Invoice, InvoiceLine, NotificationTrigger, Reference, Shipment
from visibility.services.notifications import Occurrence
from visibility.services.projection.base import (
    SNAPSHOT_VERSION_FIELDS,
    Held,
    ProjectedEvent,
    ProjectionEffects,
    set_snapshot_version,
    timestamp,
)
from visibility.services.projection.snapshots import write_account_snapshots
from visibility.services.references import references_replace

INVOICE_SNAPSHOT_FIELDS = [
    "customer_account",
    "order_numbers",
    "shipment_ids",
    "issue_date",
    "due_date",
    "currency",
    "total_amount",
    *SNAPSHOT_VERSION_FIELDS,
]


def _locked_invoices(numbers) -> dict[str, Invoice]:
    return {
        invoice.invoice_number: invoice
        for invoice in Invoice.objects.select_for_update(no_key=True)
        .filter(invoice_number__in=set(numbers))
        .order_by("invoice_number")
    }


def project_invoices_posted(events: list[ProjectedEvent], effects: ProjectionEffects) -> Held:
    """Write the newest snapshot of each invoice, with its lines and search reference."""
    written = write_account_snapshots(
        events,
        model=Invoice,
        number_field="invoice_number",
        snapshot_fields=INVOICE_SNAPSHOT_FIELDS,
        apply=_apply_snapshot,
    )
    winners = written.winners
    if not winners:
        return written.held
    invoice_ids = [invoice.id for invoice, _ in winners]
    InvoiceLine.objects.filter(invoice_id__in=invoice_ids).delete()
    bulk_insert_rows(
        [
            InvoiceLine(
                invoice=invoice,
                position=position,
                description=line.get("description") or "",
                amount=Decimal(line["amount"]),
            )
            for invoice, event in winners
            for position, line in enumerate(event.data.get("lines") or [], start=1)
        ]
    )
    references_replace(
        [
            (invoice, [(Reference.ReferenceType.INVOICE_NUMBER, invoice.invoice_number)])
            for invoice, _ in winners
        ]
    )
    effects.released_keys.update(HoldKey.invoice(invoice.invoice_number) for invoice, _ in winners)
    # Once per invoice: a newer snapshot of a posted invoice finds its notification there.
    effects.occurrences += [
        Occurrence(invoice, NotificationTrigger.INVOICE_POSTED) for invoice, _ in winners
    ]
    # An invoice naming a delivered shipment ends its "delivered, not invoiced" state.
    effects.shipment_ids.update(
        Shipment.objects.filter(
            shipment_id__in={ref for invoice, _ in winners for ref in invoice.shipment_ids}
        ).values_list("id", flat=True)
    )
    return written.held


def _apply_snapshot(invoice: Invoice, event: ProjectedEvent, account_id: int) -> None:
    data = event.data
    invoice.customer_account_id = account_id
    invoice.order_numbers = list(data.get("order_numbers") or [])
    invoice.shipment_ids = list(data.get("shipment_ids") or [])
    invoice.issue_date = data.get("issue_date")
    invoice.due_date = data.get("due_date")
    invoice.currency = data["currency"]
    invoice.total_amount = Decimal(data["total_amount"])
    set_snapshot_version(invoice, event)


def project_invoices_paid(events: list[ProjectedEvent], effects: ProjectionEffects) -> Held:
    """Record payments. The latest payment wins by (paid_at, key), paid_at being the
    event's own or else its occurred_at: the stored paid_at is then what the next payment
    is compared with, so the winner does not depend on arrival order."""
    invoices = _locked_invoices(event.data["invoice_number"] for event in events)
    held: Held = {}
    changed: dict[str, Invoice] = {}
    for event in events:
        invoice = invoices.get(event.data["invoice_number"])
        if invoice is None:
            held[event.key] = HoldKey.invoice(event.data["invoice_number"])
            continue
        paid_at = timestamp(event.data.get("paid_at")) or event.occurred_at
        if invoice.paid_at is None or (paid_at, event.key) > (
            invoice.paid_at,
            invoice.payment_event_key,
        ):
            invoice.paid_at = paid_at
            invoice.paid_amount = (
                Decimal(event.data["amount"]) if event.data.get("amount") else None
            )
            invoice.payment_event_key = event.key
            changed[invoice.invoice_number] = invoice
    bulk_update_rows(list(changed.values()), ["paid_at", "paid_amount", "payment_event_key"])
    effects.occurrences += [
        Occurrence(invoice, NotificationTrigger.INVOICE_PAID) for invoice in changed.values()
    ]
    return held
