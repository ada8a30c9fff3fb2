"""The change feed's object shapes, derived from the REST serializers: each serializer
field becomes a `JsonField` saying which column it reads and how DRF writes its value,
or that the object's SQL computes it (a method field, a nested list, a value from a
related row or an annotation). visibility/feed_objects.py turns the shapes into the SQL
that writes each object, so the details, the OpenAPI document and the feed share the
serializers' one field list."""

from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model
from rest_framework import serializers

from visibility.api.serializers import (
    DocumentSerializer,
    EtaUpdateSerializer,
    ExceptionNoteSerializer,
    FreightChargeSerializer,
    InvoiceLineSerializer,
    InvoiceListSerializer,
    InvoiceSerializer,
    MilestoneSerializer,
    OrderDetailSerializer,
    OrderLineSerializer,
    ShipmentExceptionSerializer,
    ShipmentOrderSerializer,
    ShipmentSerializer,
)
from visibility.feed_objects import FeedShapes, JsonField
from visibility.models import (
    Document,
    ExceptionNote,
    FreightCharge,
    Invoice,
    InvoiceLine,
    Order,
    OrderLine,
    Shipment,
    ShipmentEvent,
    ShipmentException,
    ShipmentOrder,
)


def _column(model: type[Model], source: str) -> bool:
    try:
        field = model._meta.get_field(source)
    except FieldDoesNotExist:
        return False
    return getattr(field, "concrete", False) and not field.is_relation


def _written(field: serializers.Field) -> str:
    if isinstance(field, serializers.DateTimeField):
        return "datetime"
    if isinstance(field, serializers.DateField):
        return "date"
    if isinstance(field, serializers.DecimalField):
        return f"decimal:{field.decimal_places}"
    return "value"


def shape_of(serializer: type[serializers.Serializer], model: type[Model]) -> list[JsonField]:
    """A `JsonField` per field of the serializer, in its order."""
    shape = []
    for name, field in serializer().fields.items():
        source = field.source if field.source and field.source != "*" else name
        if isinstance(field, serializers.BaseSerializer | serializers.SerializerMethodField):
            shape.append(JsonField(name, source, "special"))
        elif _column(model, source):
            shape.append(JsonField(name, source, _written(field)))
        else:
            shape.append(JsonField(name, source, "special"))
    return shape


FEED_SHAPES = FeedShapes(
    shipment=shape_of(ShipmentSerializer, Shipment),
    milestone=shape_of(MilestoneSerializer, ShipmentEvent),
    eta_update=shape_of(EtaUpdateSerializer, ShipmentEvent),
    shipment_order=shape_of(ShipmentOrderSerializer, ShipmentOrder),
    exception=shape_of(ShipmentExceptionSerializer, ShipmentException),
    note=shape_of(ExceptionNoteSerializer, ExceptionNote),
    charge=shape_of(FreightChargeSerializer, FreightCharge),
    order=shape_of(OrderDetailSerializer, Order),
    order_line=shape_of(OrderLineSerializer, OrderLine),
    # `OrderDetailSerializer.get_shipments`'s dict, key for key.
    order_shipment=[
        JsonField("shipment_id", "shipment.shipment_id", "special"),
        JsonField("status", "shipment.status", "special"),
        JsonField("eta", "shipment.eta", "special"),
        JsonField("flags", "shipment.flags", "special"),
        JsonField("line_numbers", "line_numbers", "value"),
    ],
    invoice_summary=shape_of(InvoiceListSerializer, Invoice),
    invoice=shape_of(InvoiceSerializer, Invoice),
    invoice_line=shape_of(InvoiceLineSerializer, InvoiceLine),
    document=shape_of(DocumentSerializer, Document),
)
