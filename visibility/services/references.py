"""Keep the search index (visibility.models.Reference) in step with the read models."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from core.db.bulk import insert_rows
from visibility.models import Invoice, Order, Reference, Shipment

_IGNORED = re.compile(r"[\s\-_/.]+")


def normalize_reference(value: str) -> str:
    """Case-insensitive, ignoring spaces, dashes, underscores, slashes and dots."""
    return _IGNORED.sub("", value).upper()


def _owner_field(owner: Order | Shipment | Invoice) -> str:
    if isinstance(owner, Order):
        return "order"
    return "shipment" if isinstance(owner, Shipment) else "invoice"


def _owner_fields(owner: Order | Shipment | Invoice) -> dict:
    object_keys = {"order": "order_number", "shipment": "shipment_id", "invoice": "invoice_number"}
    field_name = _owner_field(owner)
    return {
        "kind": field_name,
        "object_key": getattr(owner, object_keys[field_name]),
        f"{field_name}_id": owner.pk,
    }


Owner = Order | Shipment | Invoice


def shipment_references(shipment: Shipment) -> list[tuple[str, str]]:
    """What a shipment is found by: its id, its load id, its tracking numbers."""
    return [
        (Reference.ReferenceType.SHIPMENT_ID, shipment.shipment_id),
        (Reference.ReferenceType.LOAD_ID, shipment.load_id),
        *(
            (Reference.ReferenceType.TRACKING_NUMBER, number)
            for number in shipment.tracking_numbers
        ),
    ]


def references_replace(owners: Sequence[tuple[Owner, Iterable[tuple[str, str]]]]) -> None:
    """Replace the references snapshots give their owners (document ids are kept): one
    DELETE per kind of owner and one INSERT for all."""
    ids_by_field: dict[str, list[int]] = {}
    for owner, _ in owners:
        ids_by_field.setdefault(_owner_field(owner), []).append(owner.pk)
    for field_name, ids in ids_by_field.items():
        Reference.objects.filter(**{f"{field_name}_id__in": ids}).exclude(
            reference_type=Reference.ReferenceType.DOCUMENT_ID
        ).delete()
    insert_rows(
        Reference, [row for owner, references in owners for row in _rows(owner, references)]
    )


def references_add(owners: Sequence[tuple[Owner, Iterable[tuple[str, str]]]]) -> None:
    """Add references to their owners (one INSERT for all)."""
    insert_rows(
        Reference, [row for owner, references in owners for row in _rows(owner, references)]
    )


def _rows(owner: Owner, references: Iterable[tuple[str, str]]) -> list[dict]:
    fields = _owner_fields(owner)
    rows, seen = [], set()
    for reference_type, value in references:
        normalized = normalize_reference(value or "")
        if not normalized or (reference_type, normalized) in seen:
            continue
        seen.add((reference_type, normalized))
        rows.append(
            {
                "customer_account_id": owner.customer_account_id,
                "reference_type": reference_type,
                "value": value[:128],
                "normalized": normalized[:128],
                **fields,
            }
        )
    return rows
