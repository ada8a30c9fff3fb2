"""REST endpoints over the read models; every read goes through `visibility.selectors`."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import actor_from_request
from core.api_schema import LIST_ERRORS, READ_ERRORS, problem_responses
from core.conditional import PageLastModifiedMixin, with_last_modified
from core.renderers import FastJSONRenderer
from visibility import selectors
from visibility.access import visible_object_or_404
from visibility.api import schema
from visibility.api.filters import (
    ExceptionFilterSet,
    InvoiceFilterSet,
    OrderFilterSet,
    SelectorFilterBackend,
    SelectorFilterSet,
    ShipmentFilterSet,
    validated_filterset,
)
from visibility.api.rows import SHIPMENT_LIST_COLUMNS, shipment_list_json
from visibility.api.serializers import (
    EtaUpdateSerializer,
    FreightChargeSerializer,
    InvoiceListSerializer,
    InvoiceSerializer,
    MilestoneSerializer,
    OrderListSerializer,
    SearchHitSerializer,
    ShipmentExceptionSerializer,
    ShipmentListSerializer,
    ShipmentStopSerializer,
    order_detail_data,
    shipment_detail_data,
)
from visibility.models import Invoice, Order, Shipment, ShipmentException
from visibility.rows import expansion_rows


class ListCursor(CursorPagination):
    """Cursor pagination on a unique key that never changes (by default the newest
    stored first: `-id`): a row that changes while a client pages is neither skipped nor
    repeated, which a changing column (the last activity, the ETA) could not promise.
    The list's `ordering` parameter picks among such keys (`SelectorFilterSet.orderings`).
    No COUNT(*) per page. A bad `cursor` or `page_size` is a 400 naming it."""

    ordering = ("-id",)
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_ordering(self, request: Request, queryset: QuerySet, view: Any) -> tuple[str, ...]:
        return getattr(view, "cursor_ordering", None) or tuple(self.ordering)

    def get_page_size(self, request: Request) -> int:
        given = request.query_params.get(self.page_size_query_param)
        if given is None:
            return self.page_size
        if not (given.isascii() and given.isdigit() and 1 <= int(given) <= self.max_page_size):
            raise serializers.ValidationError(
                {self.page_size_query_param: [f"An integer from 1 to {self.max_page_size}."]}
            )
        return int(given)

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        self.model = queryset.model  # a list's selector gives a QuerySet
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> Any:
        """DRF's cursor, whose position must also be a value of the ordering's column (a
        cursor is only base64: a hand-made one must not reach the database as a bad
        value, or a 500)."""
        bad_cursor = serializers.ValidationError(
            {self.cursor_query_param: ["Not a cursor: give the `next` of a previous page."]}
        )
        encoded = request.query_params.get(self.cursor_query_param)
        try:
            if encoded is not None:  # DRF's decoding skips what is not base64
                base64.b64decode(encoded.encode("ascii"), validate=True)
            cursor = super().decode_cursor(request)
        except (NotFound, ValueError) as error:  # binascii.Error, UnicodeError are ValueErrors
            raise bad_cursor from error
        if cursor is None or cursor.position is None:
            return cursor
        field = self.model._meta.get_field(self.ordering[0].lstrip("-"))
        try:
            value = field.to_python(cursor.position)
        except DjangoValidationError as error:
            raise bad_cursor from error
        position = str(cursor.position)
        if "\x00" in position or len(position) > 128:
            raise bad_cursor
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            raise bad_cursor
        return cursor


class SelectorListApi(PageLastModifiedMixin, ListAPIView):
    """A list read by a selector with the arguments its FilterSet validated.

    `filterset_class` names the parameters (validated here, documented in the OpenAPI
    document through `SelectorFilterBackend`); `list_selector(actor, **arguments)` does
    the filtering, tenant-scoped. An account the caller does not see is a 400 naming
    `account`, never an empty or an unfiltered list."""

    pagination_class = ListCursor
    filter_backends = (SelectorFilterBackend,)
    filterset_class: ClassVar[type[SelectorFilterSet]]
    list_selector: ClassVar[Callable[..., QuerySet]]
    model: ClassVar[type]
    # Parameters the view answers with rather than the selector filters by.
    view_parameters: ClassVar[frozenset[str]] = frozenset()
    cursor_ordering: tuple[str, ...] = ()

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reads the model only
            return selectors.no_rows(self.model)
        filterset = validated_filterset(
            self.filterset_class, self.request.query_params, self.request
        )
        self.cursor_ordering = filterset.cursor_ordering()
        self.list_arguments = filterset.selector_arguments()
        filters = {
            name: value
            for name, value in self.list_arguments.items()
            if name not in self.view_parameters
        }
        try:
            return type(self).list_selector(actor_from_request(self.request), **filters)
        except selectors.InvisibleAccounts as error:
            raise serializers.ValidationError(
                {"account": [f"Unknown account: {number}." for number in error.numbers]}
            ) from error


@schema.SHIPMENT_LIST
class ShipmentListApi(SelectorListApi):
    serializer_class = ShipmentListSerializer
    renderer_classes = (FastJSONRenderer,)
    filterset_class = ShipmentFilterSet
    list_selector = selectors.shipment_list
    model = Shipment
    # Read for the page's rows (visibility/rows.py): prefetches built by the selector
    # would be dropped with the model instances.
    view_parameters = frozenset({"expand"})

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The page read as rows and shaped by `ShipmentListSerializer`'s fields
        (visibility/api/rows.py), its expansions one query each (visibility/rows.py):
        no model instance, no serializer per row (docs/BENCHMARKS.md, issue #17)."""
        queryset = self.get_queryset()
        expand = self.list_arguments.get("expand", ())
        page = self.paginate_queryset(selectors.as_rows(queryset, SHIPMENT_LIST_COLUMNS))
        assert page is not None  # a list is always paginated
        parts = expansion_rows(actor_from_request(request), [row["id"] for row in page], expand)
        tz = timezone.get_current_timezone()
        return self.get_paginated_response(
            [shipment_list_json(row, parts, expand, tz) for row in page]
        )


@schema.ORDER_LIST
class OrderListApi(SelectorListApi):
    serializer_class = OrderListSerializer
    filterset_class = OrderFilterSet
    list_selector = selectors.order_list
    model = Order


@schema.INVOICE_LIST
class InvoiceListApi(SelectorListApi):
    serializer_class = InvoiceListSerializer
    filterset_class = InvoiceFilterSet
    list_selector = selectors.invoice_list
    model = Invoice


@schema.EXCEPTION_LIST
class ExceptionListApi(SelectorListApi):
    """The actor's unresolved shipment exceptions, oldest first, with the notes it may read."""

    serializer_class = ShipmentExceptionSerializer
    filterset_class = ExceptionFilterSet
    list_selector = selectors.open_exceptions
    model = ShipmentException


@schema.SHIPMENT_DETAIL
class ShipmentDetailApi(APIView):
    def get(self, request: Request, shipment_id: str) -> Response:
        actor = actor_from_request(request)
        shipment = visible_object_or_404(actor, "shipment", shipment_id, request=request)
        return with_last_modified(
            Response(shipment_detail_data(actor, shipment)), shipment.updated_at
        )


class ShipmentPartApi(APIView):
    """One list of a shipment's detail on its own (`/api/v1/shipments/{id}/<part>`):
    `{"shipment_id": ..., "results": [...]}`, whole (a shipment's parts are few), 404
    for a shipment the caller does not see."""

    def rows(self, actor: Any, shipment: Shipment) -> Any:
        raise NotImplementedError

    def get(self, request: Request, shipment_id: str) -> Response:
        actor = actor_from_request(request)
        shipment = visible_object_or_404(actor, "shipment", shipment_id, request=request)
        return Response(
            {"shipment_id": shipment.shipment_id, "results": self.rows(actor, shipment)}
        )


def part_schema(name: str, rows: type[serializers.Serializer]) -> Any:
    """The OpenAPI answer of a shipment's part: its id and the part's rows."""
    return extend_schema(
        tags=["shipments"],
        responses={
            200: inline_serializer(
                name, {"shipment_id": serializers.CharField(), "results": rows(many=True)}
            ),
            **problem_responses(*READ_ERRORS),
        },
    )


@part_schema("ShipmentMilestones", MilestoneSerializer)
class ShipmentMilestonesApi(ShipmentPartApi):
    def rows(self, actor: Any, shipment: Shipment) -> Any:
        return MilestoneSerializer(selectors.milestones_of_shipment(shipment), many=True).data


@part_schema("ShipmentEtaHistory", EtaUpdateSerializer)
class ShipmentEtaHistoryApi(ShipmentPartApi):
    def rows(self, actor: Any, shipment: Shipment) -> Any:
        return EtaUpdateSerializer(selectors.eta_history(shipment), many=True).data


@part_schema("ShipmentStops", ShipmentStopSerializer)
class ShipmentStopsApi(ShipmentPartApi):
    def rows(self, actor: Any, shipment: Shipment) -> Any:
        return ShipmentStopSerializer(selectors.stops_of_shipment(shipment), many=True).data


@part_schema("ShipmentCharges", FreightChargeSerializer)
class ShipmentChargesApi(ShipmentPartApi):
    """The caller's accounts' charges with the finance grant (as in the detail); an empty
    list without it."""

    def rows(self, actor: Any, shipment: Shipment) -> Any:
        charges = selectors.charges_of_shipment(actor, shipment)
        return FreightChargeSerializer(charges, many=True).data


@schema.ORDER_DETAIL
class OrderDetailApi(APIView):
    def get(self, request: Request, order_number: str) -> Response:
        actor = actor_from_request(request)
        order = visible_object_or_404(actor, "order", order_number, request=request)
        return with_last_modified(Response(order_detail_data(actor, order)), order.updated_at)


@schema.INVOICE_DETAIL
class InvoiceDetailApi(APIView):
    def get(self, request: Request, invoice_number: str) -> Response:
        actor = actor_from_request(request)
        invoice = visible_object_or_404(actor, "invoice", invoice_number, request=request)
        return with_last_modified(Response(InvoiceSerializer(invoice).data), invoice.updated_at)


SEARCH_MAX_HITS = 100


class SearchQuery(serializers.Serializer):
    q = serializers.CharField(max_length=128, trim_whitespace=True)
    page_size = serializers.IntegerField(min_value=1, max_value=50, default=20)
    cursor = serializers.CharField(required=False, max_length=32)

    def validate_cursor(self, value: str) -> int:
        try:
            offset = int(base64.urlsafe_b64decode(value.encode()).decode())
        except (binascii.Error, ValueError, UnicodeDecodeError) as error:
            raise serializers.ValidationError("Not a cursor: give `next` of a page.") from error
        if not 0 <= offset < SEARCH_MAX_HITS:
            raise serializers.ValidationError("Not a cursor: give `next` of a page.")
        return offset


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


@extend_schema(
    tags=["search"],
    parameters=[SearchQuery],
    responses={
        200: inline_serializer(
            "SearchPage",
            {
                "next": serializers.URLField(allow_null=True),
                "results": SearchHitSerializer(many=True),
            },
        ),
        **problem_responses(*LIST_ERRORS),
    },
)
class SearchApi(APIView):
    """`GET /api/v1/search?q=`: orders, shipments and invoices by any reference, best
    match first (`selectors.reference_search`, scoped like every read), at most
    SEARCH_MAX_HITS objects, paged by `next`."""

    def get(self, request: Request) -> Response:
        unknown = set(request.query_params) - set(SearchQuery().fields)
        if unknown:
            raise serializers.ValidationError(
                {
                    name: ["Unknown parameter. Search takes q, page_size, cursor."]
                    for name in unknown
                }
            )
        query = SearchQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        offset = query.validated_data.get("cursor", 0)
        size = query.validated_data["page_size"]
        hits = selectors.reference_search(
            actor_from_request(request), query.validated_data["q"], limit=SEARCH_MAX_HITS
        )
        page = hits[offset : offset + size]
        following = offset + size
        next_url = None
        if following < len(hits):
            params = request.query_params.copy()
            params["cursor"] = _cursor(following)
            next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
        return Response({"next": next_url, "results": SearchHitSerializer(page, many=True).data})
