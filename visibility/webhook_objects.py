"""The object a webhook event carries: the same shape as its REST detail, as the
subscribing tenant sees it (all its accounts, every read scope).

Rendered by the notification worker when an event is first sent, then kept with the
delivery, so retries and redeliveries send the same bytes. It reads through the same
selectors and serializers as the REST details (visibility/api), the one definition of
that shape; this module sits beside `visibility/changes.py` because both the worker's
service and the API use it.
"""

from __future__ import annotations

from typing import Any

from accounts.models import ApiToken
from visibility import selectors
from visibility.api.serializers import (
    DocumentSerializer,
    InvoiceSerializer,
    shipment_detail_data,
)


def tenant_reader(tenant_id: int) -> ApiToken:
    """An actor that reads what the tenant owns: an unsaved token of the tenant with no
    account limit and every read scope. Never stored, so it cannot authenticate."""
    return ApiToken(tenant_id=tenant_id, name="webhooks", scopes=[])


def webhook_object(tenant_id: int, kind: str, key: str) -> dict[str, Any]:
    """The object `key` of `kind` as the tenant's REST detail shows it, or the change
    feed's tombstone `{"visible": false}` when the tenant no longer sees it."""
    reader = tenant_reader(tenant_id)
    if kind == "shipment":
        shipment = selectors.shipment_get(reader, key)
        return shipment_detail_data(reader, shipment) if shipment else {"visible": False}
    if kind == "invoice":
        invoice = selectors.invoice_get(reader, key)
        return dict(InvoiceSerializer(invoice).data) if invoice else {"visible": False}
    if kind == "document":
        document = selectors.document_get(reader, key)
        return dict(DocumentSerializer(document).data) if document else {"visible": False}
    raise ValueError(f"no webhook object of kind {kind!r}")
