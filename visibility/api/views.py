"""REST endpoints over the read models; every read goes through `visibility.selectors`."""

from __future__ import annotations

from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import actor_from_request
from core.conditional import PageLastModifiedMixin, with_last_modified
from visibility import selectors
from visibility.access import visible_object_or_404
from visibility.api import schema
from visibility.api.filters import (
    InvoiceListQuery,
    OrderListQuery,
    ShipmentListQuery,
    selector_arguments,
)
from visibility.api.serializers import (
    InvoiceListSerializer,
    InvoiceSerializer,
    OrderListSerializer,
    ShipmentExceptionSerializer,
    ShipmentListSerializer,
    order_detail_data,
    shipment_detail_data,
)


class NewestFirstCursor(CursorPagination):
    """Cursor pagination on a key that never changes (newest shipment first): paged by
    a changing column (the last activity), a row that changes while a client pages moves
    behind its cursor and is skipped. No COUNT(*) per page."""

    ordering = ("-id",)
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


@schema.SHIPMENT_LIST
class ShipmentListApi(PageLastModifiedMixin, ListAPIView):
    serializer_class = ShipmentListSerializer
    pagination_class = NewestFirstCursor
    filter_backends = ()  # the selector filters, with what ShipmentListQuery parsed

    def get_queryset(self):
        return selectors.shipment_list(
            actor_from_request(self.request),
            **selector_arguments(ShipmentListQuery, self.request.query_params),
        )


@schema.SHIPMENT_DETAIL
class ShipmentDetailApi(APIView):
    def get(self, request: Request, shipment_id: str) -> Response:
        actor = actor_from_request(request)
        shipment = visible_object_or_404(actor, "shipment", shipment_id, request=request)
        return with_last_modified(
            Response(shipment_detail_data(actor, shipment)), shipment.updated_at
        )


@schema.ORDER_DETAIL
class OrderDetailApi(APIView):
    def get(self, request: Request, order_number: str) -> Response:
        actor = actor_from_request(request)
        order = visible_object_or_404(actor, "order", order_number, request=request)
        return with_last_modified(Response(order_detail_data(actor, order)), order.updated_at)


class InvoiceCursor(CursorPagination):
    """Newest id first: a key that never changes, so paging skips nothing."""

    ordering = ("-id",)
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


@schema.INVOICE_LIST
class InvoiceListApi(PageLastModifiedMixin, ListAPIView):
    serializer_class = InvoiceListSerializer
    pagination_class = InvoiceCursor
    filter_backends = ()  # the selector filters, with what InvoiceListQuery parsed

    def get_queryset(self):
        return selectors.invoice_list(
            actor_from_request(self.request),
            **selector_arguments(InvoiceListQuery, self.request.query_params),
        )


@schema.INVOICE_DETAIL
class InvoiceDetailApi(APIView):
    def get(self, request: Request, invoice_number: str) -> Response:
        actor = actor_from_request(request)
        invoice = visible_object_or_404(actor, "invoice", invoice_number, request=request)
        return with_last_modified(Response(InvoiceSerializer(invoice).data), invoice.updated_at)


@schema.ORDER_LIST
class OrderListApi(PageLastModifiedMixin, ListAPIView):
    serializer_class = OrderListSerializer
    pagination_class = InvoiceCursor
    filter_backends = ()  # the selector filters, with what OrderListQuery parsed

    def get_queryset(self):
        return selectors.order_list(
            actor_from_request(self.request),
            **selector_arguments(OrderListQuery, self.request.query_params),
        )


class ExceptionsCursor(CursorPagination):
    ordering = ("opened_at", "id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


@schema.EXCEPTION_LIST
class ExceptionListApi(ListAPIView):
    """The actor's unresolved shipment exceptions, oldest first, with the notes it may read."""

    serializer_class = ShipmentExceptionSerializer
    pagination_class = ExceptionsCursor
    filter_backends = ()

    def get_queryset(self):
        return selectors.open_exceptions(actor_from_request(self.request))
