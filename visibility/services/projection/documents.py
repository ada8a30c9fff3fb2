"""document.available: the file goes to Django's storage, one event at a time (they are
rare and each carries up to 10 MB)."""

from __future__ import annotations

import base64
import hashlib

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from visibility.models import Document, Invoice, Order, Reference, Shipment
from visibility.services.projection.base import Held, Hold, ProjectedEvent, ProjectionEffects
from visibility.services.references import references_add


def project_documents(events: list[ProjectedEvent], effects: ProjectionEffects) -> Held:
    held: Held = {}
    for event in events:
        try:
            _project_document(event, effects)
        except Hold as hold:
            held[event.key] = hold.waiting_for
    return held


def _project_document(event: ProjectedEvent, effects: ProjectionEffects) -> None:
    data = event.data
    if Document.objects.filter(document_id=data["document_id"]).exists():
        return
    shipment = order = invoice = None
    if data.get("shipment_id"):
        shipment = Shipment.objects.filter(shipment_id=data["shipment_id"]).first()
        if shipment is None:
            raise Hold(f"shipment:{data['shipment_id']}")
        account_id = shipment.customer_account_id
    elif data.get("order_number"):
        order = Order.objects.filter(order_number=data["order_number"]).first()
        if order is None:
            raise Hold(f"order:{data['order_number']}")
        account_id = order.customer_account_id
    else:
        invoice = Invoice.objects.filter(invoice_number=data["invoice_number"]).first()
        if invoice is None:
            raise Hold(f"invoice:{data['invoice_number']}")
        account_id = invoice.customer_account_id
    content = base64.b64decode(data["content_base64"])
    checksum = hashlib.sha256(content).hexdigest()
    document = Document(
        document_id=data["document_id"], document_type=data["document_type"],
        customer_account_id=account_id, shipment=shipment, order=order, invoice=invoice,
        filename=data["filename"], content_type=data["content_type"], size=len(content),
        sha256=checksum, occurred_at=event.occurred_at, event_key=event.key,
    )
    # Content-addressed name: replaying or rebuilding reuses the stored file. The client's
    # filename (up to 255 characters) stays out of the path; downloads send it back.
    name = f"documents/sha256/{checksum[:2]}/{checksum}"
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(content))
    document.file.name = name
    document.save()
    references_add(shipment or order or invoice,
                   [(Reference.ReferenceType.DOCUMENT_ID, document.document_id)])
    if shipment is not None:
        effects.shipment_ids.add(shipment.id)
