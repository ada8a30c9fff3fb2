"""`GET /api/v1/changes`: the change feed for the calling actor (docs/API.md)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import actor_from_request
from accounts.scoping import Actor
from visibility import changes
from visibility.api import schema
from visibility.api.filters import selector_arguments
from visibility.api.serializers import (
    InvoiceSerializer,
    order_detail_data,
    shipment_detail_data,
)
from visibility.models import Document, Invoice, Order, Shipment


class PositionField(serializers.Field):
    """A position of the feed (a `next` or a `position` it gave), or `now`."""

    def to_representation(self, value: int) -> str:
        return str(value)

    def to_internal_value(self, data: Any) -> int:
        text = str(serializers.CharField().run_validation(data))
        if text == changes.NOW:
            return changes.latest_position()
        if (
            not (text.isascii() and text.isdigit() and len(text) <= 19)
            or int(text) > changes.POSITION_MAX
        ):
            raise serializers.ValidationError(
                "Not a position: give the `next` of a previous page, a `position`, or `now`."
            )
        return int(text)


class ChangesQuery(serializers.Serializer):
    """Arguments of `changes.change_page`."""

    after = PositionField(required=False, default=0)
    limit = serializers.IntegerField(
        required=False, default=changes.DEFAULT_PAGE, min_value=1, max_value=changes.MAX_PAGE
    )


class DocumentSerializer(serializers.ModelSerializer):
    customer_account = serializers.CharField(source="customer_account.number")
    shipment_id = serializers.CharField(source="shipment.shipment_id", default=None)
    order_number = serializers.CharField(source="order.order_number", default=None)
    invoice_number = serializers.CharField(source="invoice.invoice_number", default=None)

    class Meta:
        model = Document
        fields = [
            "document_id",
            "document_type",
            "customer_account",
            "shipment_id",
            "order_number",
            "invoice_number",
            "filename",
            "content_type",
            "size",
            "sha256",
            "occurred_at",
        ]


def current_json(actor: Actor, entry: changes.ChangeEntry) -> dict:
    """The object of a change as the actor sees it now, or its tombstone."""
    if entry.current is None:
        return {"deleted": True} if entry.deleted else {"visible": False}
    if isinstance(entry.current, Shipment):
        return shipment_detail_data(actor, entry.current)
    if isinstance(entry.current, Order):
        return order_detail_data(actor, entry.current)
    if isinstance(entry.current, Invoice):
        return dict(InvoiceSerializer(entry.current).data)
    return dict(DocumentSerializer(entry.current).data)


def page_json(actor: Actor, page: changes.ChangePage) -> dict:
    return {
        "changes": [
            {
                "kind": entry.kind,
                "id": entry.key,
                "position": entry.position,
                "object": current_json(actor, entry),
            }
            for entry in page.entries
        ],
        "next": page.next,
    }


@schema.CHANGE_FEED
class ChangeFeedApi(APIView):
    def get(self, request: Request) -> Response:
        actor = actor_from_request(request)
        page = changes.change_page(actor, **selector_arguments(ChangesQuery, request.query_params))
        return Response(page_json(actor, page))
