"""document.available: files go to Django's storage one at a time (each carries up to
10 MB); the rows, their owners and search references are read and written per batch."""

from __future__ import annotations

import base64

from django.core.files.storage import default_storage

from core.files import save_content_addressed
from visibility.holds import HoldKey, HoldKind
from visibility.models import Document, Invoice, NotificationTrigger, Order, Reference, Shipment
from visibility.services.notifications import Occurrence
from visibility.services.projection.base import Held, ProjectedEvent, ProjectionEffects
from visibility.services.references import Owner, references_add

# How a document names its owner: (data field, model, the model's key field, what a
# document waits for while its owner is missing).
OWNER_KINDS: list[tuple[str, type[Shipment] | type[Order] | type[Invoice], str, HoldKind]] = [
    ("shipment_id", Shipment, "shipment_id", HoldKind.SHIPMENT),
    ("order_number", Order, "order_number", HoldKind.ORDER),
    ("invoice_number", Invoice, "invoice_number", HoldKind.INVOICE),
]


def project_documents(events: list[ProjectedEvent], effects: ProjectionEffects) -> Held:
    stored = set(
        Document.objects.filter(
            document_id__in={event.data["document_id"] for event in events}
        ).values_list("document_id", flat=True)
    )
    owners = _owners(events)
    held: Held = {}
    documents: list[Document] = []
    references: list[tuple[Owner, list[tuple[str, str]]]] = []
    for event in events:
        data = event.data
        if data["document_id"] in stored:
            continue
        field, _, _, hold_kind = next(
            (kind for kind in OWNER_KINDS if data.get(kind[0])), OWNER_KINDS[-1]
        )
        owner = owners[field].get(data[field])
        if owner is None:
            held[event.key] = HoldKey(hold_kind, data[field])
            continue
        documents.append(_document(event, owner))
        references.append((owner, [(Reference.ReferenceType.DOCUMENT_ID, data["document_id"])]))
        stored.add(data["document_id"])
        if isinstance(owner, Shipment):
            effects.shipment_ids.add(owner.id)
    # In key order: two lanes' batches inserting one id wait for each other in that order.
    Document.objects.bulk_create(sorted(documents, key=lambda document: document.document_id))
    references_add(references)
    effects.occurrences += [
        Occurrence(document, NotificationTrigger.DOCUMENT) for document in documents
    ]
    return held


def _owners(events: list[ProjectedEvent]) -> dict[str, dict[str, Owner]]:
    """The shipments, orders and invoices the batch's documents name, by key."""
    owners: dict[str, dict[str, Owner]] = {}
    for field, model, key_field, _ in OWNER_KINDS:
        keys = {event.data[field] for event in events if event.data.get(field)}
        owners[field] = {
            getattr(owner, key_field): owner
            for owner in (
                model.objects.filter(**{f"{key_field}__in": keys}).only(
                    "id", key_field, "customer_account_id"
                )
                if keys
                else []
            )
        }
    return owners


def _document(event: ProjectedEvent, owner: Owner) -> Document:
    data = event.data
    content = base64.b64decode(data["content_base64"])
    # Content-addressed name: replaying or rebuilding reuses the stored file. The client's
    # filename (up to 255 characters) stays out of the path; downloads send it back.
    name, checksum = save_content_addressed(default_storage, "documents", content)
    document = Document(
        document_id=data["document_id"],
        document_type=data["document_type"],
        customer_account_id=owner.customer_account_id,
        shipment=owner if isinstance(owner, Shipment) else None,
        order=owner if isinstance(owner, Order) else None,
        invoice=owner if isinstance(owner, Invoice) else None,
        filename=data["filename"],
        content_type=data["content_type"],
        size=len(content),
        sha256=checksum,
        occurred_at=event.occurred_at,
        event_key=event.key,
    )
    document.file.name = name
    return document
