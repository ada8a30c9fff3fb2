"""REST endpoints over the read models; every read goes through `visibility.selectors`."""

from __future__ import annotations

from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import actor_from_request
from visibility import selectors
from visibility.access import visible_object_or_404
from visibility.api.filters import (
    InvoiceListQuery,
    OrderListQuery,
    ShipmentListQuery,
    selector_arguments,
)
from visibility.api.serializers import (
    FreightChargeSerializer,
    InvoiceListSerializer,
    InvoiceSerializer,
    OrderDetailSerializer,
    OrderListSerializer,
    ShipmentListSerializer,
    ShipmentSerializer,
)


class NewestFirstCursor(CursorPagination):
    """Cursor pagination: stable under inserts and no COUNT(*) per page."""

    ordering = (f"-{selectors.LISTED_AT}", "-id")  # what `shipment_list` orders by
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class ShipmentListApi(ListAPIView):
    serializer_class = ShipmentListSerializer
    pagination_class = NewestFirstCursor
    filter_backends = ()  # the selector filters, with what ShipmentListQuery parsed

    def get_queryset(self):
        return selectors.shipment_list(
            actor_from_request(self.request),
            **selector_arguments(ShipmentListQuery, self.request.query_params),
        )


class ShipmentDetailApi(APIView):
    def get(self, request: Request, shipment_id: str) -> Response:
        actor = actor_from_request(request)
        shipment = visible_object_or_404(actor, "shipment", shipment_id, request=request)
        data = ShipmentSerializer(shipment).data
        charges = selectors.charges_of_shipment(actor, shipment)
        if charges:  # finance grant only; omitted otherwise
            data["freight_charges"] = FreightChargeSerializer(charges, many=True).data
        return Response(data)


class OrderDetailApi(APIView):
    def get(self, request: Request, order_number: str) -> Response:
        actor = actor_from_request(request)
        order = visible_object_or_404(actor, "order", order_number, request=request)
        data = OrderDetailSerializer(order).data
        invoices = list(selectors.invoices_of_order(actor, order))
        if invoices:  # finance grant only; omitted otherwise
            data["invoices"] = InvoiceListSerializer(invoices, many=True).data
        return Response(data)


class InvoiceCursor(CursorPagination):
    """Newest id first (invoices and orders have no non-null activity time to page on)."""

    ordering = ("-id",)
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class InvoiceListApi(ListAPIView):
    serializer_class = InvoiceListSerializer
    pagination_class = InvoiceCursor
    filter_backends = ()  # the selector filters, with what InvoiceListQuery parsed

    def get_queryset(self):
        return selectors.invoice_list(
            actor_from_request(self.request),
            **selector_arguments(InvoiceListQuery, self.request.query_params),
        )


class InvoiceDetailApi(APIView):
    def get(self, request: Request, invoice_number: str) -> Response:
        actor = actor_from_request(request)
        invoice = visible_object_or_404(actor, "invoice", invoice_number, request=request)
        return Response(InvoiceSerializer(invoice).data)


class OrderListApi(ListAPIView):
    serializer_class = OrderListSerializer
    pagination_class = InvoiceCursor
    filter_backends = ()  # the selector filters, with what OrderListQuery parsed

    def get_queryset(self):
        return selectors.order_list(
            actor_from_request(self.request),
            **selector_arguments(OrderListQuery, self.request.query_params),
        )
