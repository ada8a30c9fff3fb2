"""Query-string filters for list endpoints (applied to an already tenant-scoped queryset)."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from visibility.models import Invoice, Order, Shipment, ShipmentStatus


class ShipmentFilter(django_filters.FilterSet):
    # A column of the shipment itself: no join to de-duplicate, and SELECT DISTINCT over
    # every column would cost a sort of each page (and parallel workers) for nothing.
    status = django_filters.MultipleChoiceFilter(choices=ShipmentStatus.choices, distinct=False)
    delayed = django_filters.BooleanFilter()
    at_risk = django_filters.BooleanFilter()
    mode = django_filters.CharFilter()
    carrier_scac = django_filters.CharFilter(lookup_expr="iexact")
    load_id = django_filters.CharFilter()
    updated_since = django_filters.IsoDateTimeFilter(field_name="last_event_at", lookup_expr="gte")

    class Meta:
        model = Shipment
        fields = ["status", "delayed", "at_risk", "mode", "carrier_scac", "load_id"]


class InvoiceFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        field_name="derived_status", choices=Invoice.Status.choices
    )
    due_from = django_filters.DateFilter(field_name="due_date", lookup_expr="gte")
    due_to = django_filters.DateFilter(field_name="due_date", lookup_expr="lte")

    class Meta:
        model = Invoice
        fields = ["status", "due_from", "due_to"]


class OrderFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ShipmentStatus.choices)
    date_from = django_filters.DateFilter(field_name="order_date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="order_date", lookup_expr="lte")
    q = django_filters.CharFilter(method="text")
    updated_since = django_filters.IsoDateTimeFilter(field_name="last_event_at", lookup_expr="gte")

    class Meta:
        model = Order
        fields = ["status", "date_from", "date_to", "q", "updated_since"]

    def text(self, queryset, name: str, value: str):
        return queryset.filter(Q(order_number__icontains=value) | Q(customer_po__icontains=value))
