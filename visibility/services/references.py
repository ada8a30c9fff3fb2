"""Keep the search index (visibility.models.Reference) in step with the read models."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db.models import F, OuterRef, Subquery

from visibility.models import Invoice, Order, Reference, Shipment

_IGNORED = re.compile(r"[\s\-_/.]+")


def normalize_reference(value: str) -> str:
    """Case-insensitive, ignoring spaces, dashes, underscores, slashes and dots."""
    return _IGNORED.sub("", value).upper()


def _owner_fields(owner: Order | Shipment | Invoice) -> dict:
    if isinstance(owner, Order):
        return {"kind": Reference.Kind.ORDER, "object_key": owner.order_number, "order": owner}
    if isinstance(owner, Shipment):
        return {"kind": Reference.Kind.SHIPMENT, "object_key": owner.shipment_id,
                "shipment": owner}
    return {"kind": Reference.Kind.INVOICE, "object_key": owner.invoice_number,
            "invoice": owner}


def references_replace(owner: Order | Shipment | Invoice,
                       references: Iterable[tuple[str, str]]) -> None:
    """Replace the references a snapshot gives `owner` (document ids are kept)."""
    owner.references.exclude(reference_type=Reference.ReferenceType.DOCUMENT_ID).delete()
    references_add(owner, references)


def references_add(owner: Order | Shipment | Invoice,
                   references: Iterable[tuple[str, str]]) -> None:
    fields = _owner_fields(owner)
    rows, seen = [], set()
    for reference_type, value in references:
        normalized = normalize_reference(value or "")
        if not normalized or (reference_type, normalized) in seen:
            continue
        seen.add((reference_type, normalized))
        rows.append(Reference(customer_account_id=owner.customer_account_id,
                              reference_type=reference_type, value=value[:128],
                              normalized=normalized[:128], **fields))
    Reference.objects.bulk_create(rows)


def references_follow_account(shipment_ids: list[int]) -> None:
    """A shipment that moved to another account takes its references along."""
    if not shipment_ids:
        return
    Reference.objects.filter(shipment_id__in=shipment_ids).exclude(
        customer_account_id=F("shipment__customer_account_id")
    ).update(customer_account_id=Subquery(
        Shipment.objects.filter(id=OuterRef("shipment_id")).values("customer_account_id")[:1]
    ))
