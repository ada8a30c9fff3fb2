"""`GET /api/v1/changes`: the change feed for the calling actor (docs/API.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from types import SimpleNamespace
from typing import Any

import orjson
from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.authentication import actor_from_request
from accounts.scoping import Actor
from core.problems import problem_response
from visibility import changes
from visibility.api import schema
from visibility.api.filters import selector_arguments
from visibility.api.rows import (
    charges_json,
    eta_history_json,
    fields_of,
    labels,
    milestones_json,
    plain,
)
from visibility.api.serializers import (
    DocumentSerializer,
    ExceptionNoteSerializer,
    InvoiceLineSerializer,
    InvoiceListSerializer,
    InvoiceSerializer,
    OrderDetailSerializer,
    OrderLineSerializer,
    ShipmentExceptionSerializer,
    ShipmentSerializer,
)
from visibility.flags import FLAG_FIELDS, shipment_flags, slip_in_words
from visibility.models import (
    Shipment,
    ShipmentException,
    VisibilityChange,
)
from visibility.rows import Row


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


# The feed's objects are built from the rows `changes.change_page` read (values(), not
# model instances), in the shape of the REST details (`shipment_detail_data`,
# `order_detail_data`, `InvoiceSerializer`, `DocumentSerializer`); each value is converted
# by the detail serializer's own field, so a value reads the same in both
# (tests/visibility/test_change_feed_objects.py compares them object for object).
_SHIPMENT_SPECIAL = {
    "customer_account",
    "status_label",
    "carrier",
    "late_by",
    "flags",
    "milestones",
    "eta_history",
    "orders",
}
_SHIPMENT_FIELDS = list(ShipmentSerializer.Meta.fields)
_SHIPMENT_PLAIN = fields_of(
    ShipmentSerializer, [name for name in _SHIPMENT_FIELDS if name not in _SHIPMENT_SPECIAL]
)
_SHIPMENT_STATUS = labels(Shipment, "status")
_EXCEPTION = fields_of(ShipmentExceptionSerializer, ["id", "reason", "status", "opened_at"])
_EXCEPTION_REASON = labels(ShipmentException, "reason")
_EXCEPTION_STATUS = labels(ShipmentException, "status")
_NOTE = fields_of(ExceptionNoteSerializer, ["text", "visible_to_customer", "created_at"])


def _shipment_json(row: Row, tz: tzinfo) -> dict:
    shaped = plain(row, _SHIPMENT_PLAIN, tz)
    flagged = SimpleNamespace(**{name: row[name] for name in FLAG_FIELDS})
    special = {
        "customer_account": row["account_number"],
        "status_label": _SHIPMENT_STATUS.get(row["status"], row["status"]),
        "carrier": {"scac": row["carrier_scac"], "name": row["carrier_name"]}
        if row["carrier_scac"]
        else None,
        "late_by": slip_in_words(row["late_by_hours"]),
        "flags": shipment_flags(flagged),
        "milestones": milestones_json(row["history"], tz),
        "eta_history": eta_history_json(row["history"], tz),
        "orders": [
            {
                "order_number": link["order__order_number"],
                "customer_po": link["order__customer_po"],
                "line_numbers": [int(number) for number in link["line_numbers"]],
            }
            for link in row["order_links"]
        ],
    }
    data = {name: special[name] if name in special else shaped[name] for name in _SHIPMENT_FIELDS}
    data["exceptions"] = [
        {
            **plain(record, _EXCEPTION, tz),
            "shipment_id": record["shipment__shipment_id"],
            "reason_label": _EXCEPTION_REASON.get(record["reason"], record["reason"]),
            "status_label": _EXCEPTION_STATUS.get(record["status"], record["status"]),
            "notes": [plain(note, _NOTE, tz) for note in record["notes"]],
        }
        for record in row["exceptions"]
    ]
    if row["charges"]:
        data["freight_charges"] = charges_json(row["charges"], tz)
    return data


_ORDER_FIELDS = list(OrderDetailSerializer.Meta.fields)
_ORDER_PLAIN = fields_of(
    OrderDetailSerializer,
    [name for name in _ORDER_FIELDS if name not in {"customer_account", "lines", "shipments"}],
)
_ORDER_LINE = fields_of(OrderLineSerializer, list(OrderLineSerializer().fields))
_INVOICE_LIST_FIELDS = list(InvoiceListSerializer.Meta.fields)
_INVOICE_PLAIN = fields_of(
    InvoiceSerializer,
    [name for name in _INVOICE_LIST_FIELDS if name not in {"customer_account", "status"}],
)
_INVOICE_LINE = fields_of(InvoiceLineSerializer, list(InvoiceLineSerializer().fields))


def _invoice_json(row: Row, tz: tzinfo, *, with_lines: bool) -> dict:
    shaped = plain(row, _INVOICE_PLAIN, tz)
    special = {"customer_account": row["customer_account__number"], "status": row["derived_status"]}
    data = {name: special.get(name, shaped.get(name)) for name in _INVOICE_LIST_FIELDS}
    if with_lines:
        data["lines"] = [plain(line, _INVOICE_LINE, tz) for line in row["lines"]]
    return data


def _order_json(row: Row, tz: tzinfo) -> dict:
    shaped = plain(row, _ORDER_PLAIN, tz)
    special = {
        "customer_account": row["customer_account__number"],
        "lines": [plain(line, _ORDER_LINE, tz) for line in row["lines"]],
        "shipments": [
            {
                "shipment_id": link["shipment__shipment_id"],
                "status": link["shipment__status"],
                "eta": link["shipment__eta"],
                "flags": shipment_flags(
                    SimpleNamespace(**{name: link[f"shipment__{name}"] for name in FLAG_FIELDS})
                ),
                "line_numbers": link["line_numbers"],
            }
            for link in row["shipment_links"]
        ],
    }
    data = {name: special[name] if name in special else shaped[name] for name in _ORDER_FIELDS}
    if row["invoices"]:
        data["invoices"] = [
            _invoice_json(invoice, tz, with_lines=False) for invoice in row["invoices"]
        ]
    return data


_DOCUMENT_SOURCES = {
    "customer_account": "customer_account__number",
    "shipment_id": "shipment__shipment_id",
    "order_number": "order__order_number",
    "invoice_number": "invoice__invoice_number",
}
_DOCUMENT = fields_of(DocumentSerializer, list(DocumentSerializer.Meta.fields))


def _document_json(row: Row, tz: tzinfo) -> dict:
    named = {name: row[_DOCUMENT_SOURCES.get(name, name)] for name, _, _ in _DOCUMENT}
    return plain(named, _DOCUMENT, tz)


_BUILDERS: dict[str, Callable[[Row, tzinfo], dict]] = {
    VisibilityChange.Kind.SHIPMENT: _shipment_json,
    VisibilityChange.Kind.ORDER: _order_json,
    VisibilityChange.Kind.INVOICE: lambda row, tz: _invoice_json(row, tz, with_lines=True),
    VisibilityChange.Kind.DOCUMENT: _document_json,
}


def current_json(actor: Actor, entry: changes.ChangeEntry) -> dict:
    """The object of a change as the actor sees it now, or its tombstone."""
    if entry.current is None:
        return {"deleted": True} if entry.deleted else {"visible": False}
    return _BUILDERS[entry.kind](entry.current, timezone.get_current_timezone())


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
    def get(self, request: Request) -> HttpResponse:
        actor = actor_from_request(request)
        arguments = selector_arguments(ChangesQuery, request.query_params)
        try:
            page = changes.change_page(actor, **arguments)
        except changes.CursorExpired as expired:
            return problem_response(
                410,
                title="Gone",
                slug="change-cursor-expired",
                detail=(
                    f"Changes up to position {expired.pruned_through} were pruned (kept"
                    f" {settings.CHANGE_RETENTION_DAYS:g} days): your cursor may have missed"
                    " some. Resync: take `after=now`, make a new full copy, then follow the"
                    " feed from that position."
                ),
                pruned_through=expired.pruned_through,
            )
        # orjson straight to the response: a 1,000-entry page is ~2.5 MB of JSON, which
        # the standard library's encoder (DRF's renderer) wrote in ~30 ms, orjson in ~3.
        # The same text as DRF's renderer: UTF-8, no spaces, a UTC datetime with "Z".
        return HttpResponse(
            orjson.dumps(page_json(actor, page), option=orjson.OPT_UTC_Z),
            content_type="application/json",
        )
