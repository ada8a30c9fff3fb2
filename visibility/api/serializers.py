"""Output shapes of the REST API. Serializers only shape data; they never query."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.scoping import Actor
from visibility import selectors
from visibility.models import (
    Document,
    Invoice,
    Order,
    Shipment,
    ShipmentEvent,
    ShipmentException,
    ShipmentStop,
)


class MilestoneSerializer(serializers.ModelSerializer):
    milestone = serializers.SerializerMethodField()

    class Meta:
        model = ShipmentEvent
        fields = [
            "milestone",
            "carrier_status_code",
            "occurred_at",
            "location",
            "stop_sequence",
            "remarks",
            "received_by",
        ]

    def get_milestone(self, fact: ShipmentEvent) -> str | None:
        return fact.milestone or None


class EtaUpdateSerializer(serializers.ModelSerializer):
    basis = serializers.CharField(source="eta_basis")

    class Meta:
        model = ShipmentEvent
        fields = [
            "occurred_at",
            "kind",
            "eta",
            "eta_window_start",
            "eta_window_end",
            "basis",
            "reason_code",
            "reason_text",
        ]


class ShipmentOrderSerializer(serializers.Serializer):
    order_number = serializers.CharField(source="order.order_number")
    customer_po = serializers.CharField(source="order.customer_po")
    line_numbers = serializers.ListField(child=serializers.IntegerField())


class ExceptionNoteSerializer(serializers.Serializer):
    text = serializers.CharField()
    visible_to_customer = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class ShipmentExceptionSerializer(serializers.ModelSerializer):
    """An exception as customers read it: the reason in words, never a raw code; the
    notes the actor may read (selectors.exceptions_for prefetched them as shown_notes)."""

    shipment_id = serializers.CharField(source="shipment.shipment_id")
    reason_label = serializers.CharField(source="get_reason_display")
    status_label = serializers.CharField(source="get_status_display")
    notes = ExceptionNoteSerializer(source="shown_notes", many=True)

    class Meta:
        model = ShipmentException
        fields = [
            "id",
            "shipment_id",
            "reason",
            "reason_label",
            "status",
            "status_label",
            "opened_at",
            "notes",
        ]


CLOCK_STATE_FIELDS = [
    "overdue",
    "late_by_hours",
    "late_by",
    "tracking_stale",
    "pod_missing",
    "not_invoiced",
    "flags",
    "last_heard_at",
    "last_heard_source",
]


class ShipmentSerializer(serializers.ModelSerializer):
    carrier = serializers.SerializerMethodField()
    milestones = serializers.SerializerMethodField()
    eta_history = serializers.SerializerMethodField()
    # The selector's scoped rows: the account the actor sees, the actor's orders only.
    customer_account = serializers.CharField(source="account_number")
    orders = ShipmentOrderSerializer(source="visible_order_links", many=True)
    status_label = serializers.CharField(source="get_status_display")
    late_by = serializers.CharField(read_only=True)
    flags = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Shipment
        fields = [
            "shipment_id",
            "customer_account",
            "load_id",
            "status",
            "status_label",
            "status_at",
            "carrier",
            "mode",
            "service_level",
            "tracking_numbers",
            "origin",
            "destination",
            "planned_pickup_at",
            "planned_delivery_at",
            "eta",
            "eta_window_start",
            "eta_window_end",
            "eta_basis",
            "promised_date",
            "delayed",
            "at_risk",
            *CLOCK_STATE_FIELDS,
            "delivered_at",
            "received_by",
            "last_event_at",
            "milestones",
            "eta_history",
            "orders",
        ]

    def get_carrier(self, shipment: Shipment) -> dict | None:
        if not shipment.carrier_scac:
            return None
        return {"scac": shipment.carrier_scac, "name": shipment.carrier_name}

    def get_milestones(self, shipment: Shipment) -> list[dict]:
        facts = selectors.milestones_of_shipment(shipment)
        # The stubs type Serializer(many=True) as the child, not the ListSerializer it is.
        return MilestoneSerializer(facts, many=True).data  # type: ignore[return-value]

    def get_eta_history(self, shipment: Shipment) -> list[dict]:
        eta_updates = EtaUpdateSerializer(selectors.eta_history(shipment), many=True)
        return eta_updates.data  # type: ignore[return-value]  # as above: a ReturnList


# A row of `/api/v1/shipments`: the shape (and the OpenAPI schema); the list builds its
# rows from `values()` with these fields (visibility/api/rows.py), `expand=` adding the
# parts in the shapes of their serializers below. (A comment, not a docstring: drf-spectacular
# would publish a docstring in the OpenAPI document.)
class ShipmentListSerializer(serializers.ModelSerializer):
    customer_account = serializers.CharField(source="account_number")
    orders = serializers.ListField(
        source="order_numbers", child=serializers.CharField(), read_only=True
    )
    late_by = serializers.CharField(read_only=True)
    flags = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Shipment
        fields = [
            "shipment_id",
            "customer_account",
            "load_id",
            "status",
            "carrier_scac",
            "carrier_name",
            "mode",
            "tracking_numbers",
            "eta",
            "promised_date",
            "delayed",
            "at_risk",
            *CLOCK_STATE_FIELDS,
            "delivered_at",
            "last_event_at",
            "orders",
        ]


class ShipmentStopSerializer(serializers.ModelSerializer):
    class Meta:
        model = ShipmentStop
        fields = ["sequence", "stop_type", "location", "planned_arrival"]


class ShipmentDocumentSerializer(serializers.ModelSerializer):
    """A shipment's own document in its lists (`expand=documents`); the file at
    `/api/v1/documents/{document_id}`."""

    class Meta:
        model = Document
        fields = [
            "document_id",
            "document_type",
            "filename",
            "content_type",
            "size",
            "sha256",
            "occurred_at",
        ]


class DocumentSerializer(serializers.ModelSerializer):
    """A document with what it is filed under: `/api/v1/documents` rows and the change
    feed's document objects."""

    customer_account = serializers.CharField(source="customer_account.number")
    shipment_id = serializers.CharField(
        source="shipment.shipment_id", default=None, allow_null=True
    )
    order_number = serializers.CharField(source="order.order_number", default=None, allow_null=True)
    invoice_number = serializers.CharField(
        source="invoice.invoice_number", default=None, allow_null=True
    )

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


class SearchHitSerializer(serializers.Serializer):
    """One object found by `/api/v1/search`: its kind and key (the detail's path
    `/api/v1/{kind}s/{key}`), and the reference that matched."""

    kind = serializers.CharField()
    key = serializers.CharField(source="object_key")
    reference_type = serializers.CharField()
    value = serializers.CharField()
    match = serializers.SerializerMethodField()

    MATCHES = {3: "exact", 2: "prefix", 1: "partial", 0: "similar"}

    def get_match(self, hit: selectors.SearchHit) -> str:
        return self.MATCHES[hit.rank]


class OrderLineSerializer(serializers.Serializer):
    line_number = serializers.IntegerField()
    sku = serializers.CharField()
    description = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=24, decimal_places=6)
    uom = serializers.CharField()
    weight_kg = serializers.DecimalField(max_digits=24, decimal_places=6, allow_null=True)


class OrderDetailSerializer(serializers.ModelSerializer):
    customer_account = serializers.CharField(source="customer_account.number")
    lines = OrderLineSerializer(many=True)
    shipments = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "order_number",
            "customer_account",
            "customer_po",
            "order_date",
            "requested_delivery_date",
            "ship_from",
            "ship_to",
            "status",
            "at_risk",
            "cancelled_at",
            "cancel_reason",
            "last_event_at",
            "lines",
            "shipments",
        ]

    def get_shipments(self, order: Order) -> list[dict]:
        return [
            {
                "shipment_id": link.shipment.shipment_id,
                "status": link.shipment.status,
                "eta": link.shipment.eta,
                "flags": link.shipment.flags,
                "line_numbers": link.line_numbers,
            }
            for link in selectors.prefetched_shipment_links(order)
        ]


class FreightChargeSerializer(serializers.Serializer):
    charge_id = serializers.CharField()
    charge_type = serializers.CharField()
    amount = serializers.DecimalField(max_digits=20, decimal_places=2)
    currency = serializers.CharField()
    occurred_at = serializers.DateTimeField()


class InvoiceLineSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    description = serializers.CharField()
    amount = serializers.DecimalField(max_digits=20, decimal_places=2)


class InvoiceListSerializer(serializers.ModelSerializer):
    customer_account = serializers.CharField(source="customer_account.number")
    status = serializers.CharField(source="derived_status")

    class Meta:
        model = Invoice
        fields = [
            "invoice_number",
            "customer_account",
            "status",
            "order_numbers",
            "shipment_ids",
            "issue_date",
            "due_date",
            "currency",
            "total_amount",
            "paid_at",
            "paid_amount",
        ]


class InvoiceSerializer(InvoiceListSerializer):
    lines = InvoiceLineSerializer(many=True)

    class Meta(InvoiceListSerializer.Meta):
        fields = [*InvoiceListSerializer.Meta.fields, "lines"]


class OrderListSerializer(serializers.ModelSerializer):
    customer_account = serializers.CharField(source="customer_account.number")
    shipments = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "order_number",
            "customer_account",
            "customer_po",
            "order_date",
            "requested_delivery_date",
            "status",
            "at_risk",
            "last_event_at",
            "shipments",
        ]

    def get_shipments(self, order: Order) -> list[str]:
        return [link.shipment.shipment_id for link in selectors.prefetched_shipment_links(order)]


# What a REST detail answers, in one place: the detail views and the change feed's objects
# (visibility/api/changes.py) give the same shape.


def shipment_detail_data(actor: Actor, shipment: Shipment) -> dict[str, Any]:
    """A shipment as its REST detail shows it: its open exceptions, and its charges for
    the finance grant only (the key omitted otherwise)."""
    data = dict(ShipmentSerializer(shipment).data)
    data["exceptions"] = ShipmentExceptionSerializer(
        selectors.open_exceptions_of_shipment(actor, shipment), many=True
    ).data
    charges = selectors.charges_of_shipment(actor, shipment)
    if charges:
        data["freight_charges"] = FreightChargeSerializer(charges, many=True).data
    return data


def order_detail_data(actor: Actor, order: Order) -> dict[str, Any]:
    """An order as its REST detail shows it (invoices with the finance grant only)."""
    data = dict(OrderDetailSerializer(order).data)
    invoices = list(selectors.invoices_of_order(actor, order))
    if invoices:
        data["invoices"] = InvoiceListSerializer(invoices, many=True).data
    return data
