"""The OpenAPI description of the REST endpoints (drf-spectacular), kept out of the views:
each view carries one decorator from here. The serializers below only document shapes
the views build as dicts (a detail's optional keys, the feed's page); they never serve."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers

from core.api_schema import LIST_ERRORS, READ_ERRORS, problem_responses
from visibility.api.serializers import (
    EtaUpdateSerializer,
    FreightChargeSerializer,
    InvoiceListSerializer,
    InvoiceSerializer,
    MilestoneSerializer,
    OrderDetailSerializer,
    OrderListSerializer,
    ShipmentExceptionSerializer,
    ShipmentListSerializer,
    ShipmentSerializer,
)


class CarrierSchema(serializers.Serializer):
    scac = serializers.CharField()
    name = serializers.CharField()


# The method fields of the serving serializers, given their shapes (the stubs object to a
# field replacing a SerializerMethodField, hence the ignores).


class MilestoneSchema(MilestoneSerializer):
    milestone = serializers.CharField(allow_null=True, help_text="Null for a carrier status only.")  # type: ignore[assignment]


class ShipmentDetailSchema(ShipmentSerializer):
    carrier = CarrierSchema(allow_null=True)  # type: ignore[assignment]
    milestones = MilestoneSchema(many=True)  # type: ignore[assignment]
    eta_history = EtaUpdateSerializer(many=True, help_text="Oldest first.")  # type: ignore[assignment]
    exceptions = ShipmentExceptionSerializer(many=True, help_text="The open ones.")
    freight_charges = FreightChargeSerializer(
        many=True,
        required=False,
        help_text="Only with the `invoices` scope, only the caller's accounts' charges; "
        "the key is omitted when there are none.",
    )

    class Meta(ShipmentSerializer.Meta):
        fields = [*ShipmentSerializer.Meta.fields, "exceptions", "freight_charges"]


class OrderShipmentSchema(serializers.Serializer):
    shipment_id = serializers.CharField()
    status = serializers.CharField()
    eta = serializers.DateTimeField(allow_null=True)
    flags = serializers.ListField(child=serializers.CharField())
    line_numbers = serializers.ListField(child=serializers.IntegerField())


class OrderDetailSchema(OrderDetailSerializer):
    shipments = OrderShipmentSchema(many=True)  # type: ignore[assignment]
    invoices = InvoiceListSerializer(
        many=True,
        required=False,
        help_text="Only with the `invoices` scope on the order's account; omitted when none.",
    )

    class Meta(OrderDetailSerializer.Meta):
        fields = [*OrderDetailSerializer.Meta.fields, "invoices"]


class ChangeSchema(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["shipment", "order", "invoice", "document"])
    id = serializers.CharField(help_text="The public key (shipment_id, order_number, ...).")
    position = serializers.IntegerField()
    object = serializers.DictField(
        help_text="The object now, in the shape of its REST detail, or a tombstone: "
        '`{"visible": false}` (left the caller\'s view) or `{"deleted": true}`.'
    )


class ChangePageSchema(serializers.Serializer):
    changes = ChangeSchema(many=True)
    next = serializers.IntegerField(help_text="The `after` of the next call.")


def get_operation(**description):
    """A class decorator describing the view's GET operation."""
    return extend_schema_view(get=extend_schema(**description))


def _response_header(name: str, kind, description: str, statuses: list[int]):
    return OpenApiParameter(
        name, kind, OpenApiParameter.HEADER, description=description, response=statuses
    )


RATE_LIMIT_HEADERS = [
    _response_header(
        "RateLimit-Limit", OpenApiTypes.INT, "The token's budget per window.", [200, 304, 429]
    ),
    _response_header(
        "RateLimit-Remaining", OpenApiTypes.INT, "Units left in this window.", [200, 304, 429]
    ),
    _response_header(
        "RateLimit-Reset", OpenApiTypes.INT, "Seconds until the window ends.", [200, 304, 429]
    ),
    _response_header(
        "Retry-After", OpenApiTypes.INT, "Seconds to wait before trying again.", [429]
    ),
]
CONDITIONAL = [
    OpenApiParameter(
        "If-None-Match",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description="An `ETag` of an earlier answer: `304` with no body when unchanged.",
    ),
    _response_header(
        "ETag", OpenApiTypes.STR, "A weak validator of this answer's body.", [200, 304]
    ),
    *RATE_LIMIT_HEADERS,
]


def _not_modified() -> dict[int, OpenApiResponse]:
    return {304: OpenApiResponse(description="Not modified (the `If-None-Match` ETag matches).")}


SHIPMENT_LIST = get_operation(
    operation_id="shipments_list",
    summary="List shipments",
    description="Newest shipment first, cursor-paginated. A bad filter value is a 400 naming it.",
    tags=["shipments"],
    parameters=CONDITIONAL,
    responses={
        200: ShipmentListSerializer(many=True),
        **_not_modified(),
        **problem_responses(*LIST_ERRORS),
    },
)
SHIPMENT_DETAIL = get_operation(
    operation_id="shipments_retrieve",
    summary="A shipment",
    description="The shipment with milestones, ETA history, the caller's orders, open "
    "exceptions and (with the `invoices` scope) freight charges. Another tenant's "
    "shipment, or one outside the token's accounts, is a 404.",
    tags=["shipments"],
    parameters=[*CONDITIONAL],
    responses={200: ShipmentDetailSchema, **_not_modified(), **problem_responses(*READ_ERRORS)},
)
ORDER_LIST = get_operation(
    operation_id="orders_list",
    summary="List orders",
    description="Newest order first, cursor-paginated.",
    tags=["orders"],
    parameters=CONDITIONAL,
    responses={
        200: OrderListSerializer(many=True),
        **_not_modified(),
        **problem_responses(*LIST_ERRORS),
    },
)
ORDER_DETAIL = get_operation(
    operation_id="orders_retrieve",
    summary="An order",
    description="The order with its lines and shipments, and its invoices with the "
    "`invoices` scope.",
    tags=["orders"],
    parameters=[*CONDITIONAL],
    responses={200: OrderDetailSchema, **_not_modified(), **problem_responses(*READ_ERRORS)},
)
INVOICE_LIST = get_operation(
    operation_id="invoices_list",
    summary="List invoices",
    description="Needs the `invoices` scope. Newest invoice first, cursor-paginated.",
    tags=["invoices"],
    parameters=CONDITIONAL,
    responses={
        200: InvoiceListSerializer(many=True),
        **_not_modified(),
        **problem_responses(*LIST_ERRORS),
    },
)
INVOICE_DETAIL = get_operation(
    operation_id="invoices_retrieve",
    summary="An invoice",
    description="With its lines; a 404 without the `invoices` scope on its account.",
    tags=["invoices"],
    parameters=[*CONDITIONAL],
    responses={200: InvoiceSerializer, **_not_modified(), **problem_responses(*READ_ERRORS)},
)
EXCEPTION_LIST = get_operation(
    operation_id="exceptions_list",
    summary="List open exceptions",
    description="The caller's unresolved shipment exceptions, oldest first, with the notes "
    "it may read.",
    tags=["exceptions"],
    parameters=[*CONDITIONAL],
    responses={
        200: ShipmentExceptionSerializer(many=True),
        **_not_modified(),
        **problem_responses(*LIST_ERRORS),
    },
)
CHANGE_FEED = get_operation(
    operation_id="changes_list",
    summary="The change feed",
    description="What changed for the caller since `after`, oldest first; each object "
    "once per page at its latest position. Follow `next` (docs/API.md).",
    tags=["changes"],
    parameters=[
        OpenApiParameter(
            "after",
            OpenApiTypes.STR,
            description="A position (`next` of a previous page), or `now`. Default (or empty): 0.",
            pattern=r"^(now|[0-9]{0,19})$",
        ),
        OpenApiParameter(
            "limit", OpenApiTypes.INT, description="1 to 1000 (default 100).", default=100
        ),
        *CONDITIONAL,
    ],
    responses={
        200: OpenApiResponse(
            ChangePageSchema,
            description="A page of changes.",
            examples=[
                OpenApiExample(
                    "a page",
                    value={
                        "changes": [
                            {
                                "kind": "order",
                                "id": "SO-200017",
                                "position": 4712,
                                "object": {"visible": False},
                            },
                            {
                                "kind": "invoice",
                                "id": "INV-2026-000981",
                                "position": 4713,
                                "object": {"deleted": True},
                            },
                        ],
                        "next": 4713,
                    },
                )
            ],
        ),
        **_not_modified(),
        **problem_responses(*LIST_ERRORS),
    },
)
DOCUMENT_DOWNLOAD = get_operation(
    operation_id="documents_download",
    summary="Download a document",
    description="The file (POD, BOL, ...), with its SHA-256 in `X-Content-SHA256`. Needs "
    "the `documents` scope; audited.",
    tags=["documents"],
    parameters=[
        _response_header(
            "X-Content-SHA256", OpenApiTypes.STR, "The file's SHA-256, in hex.", [200]
        ),
        *RATE_LIMIT_HEADERS,
    ],
    responses={
        (200, "*/*"): OpenApiResponse(
            OpenApiTypes.BINARY,
            description="The file, as an attachment, in its own content type.",
        ),
        **problem_responses(*READ_ERRORS),
    },
)
