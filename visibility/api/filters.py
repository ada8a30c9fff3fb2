"""Query strings of the list endpoints, parsed and validated (a bad value is a 400 naming
it). Each serializer's validated data are the keyword arguments of its selector, which
does the filtering: pages, REST and GraphQL filter the same way."""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from rest_framework import serializers

from visibility.models import Invoice, ShipmentStatus


class ShipmentListQuery(serializers.Serializer):
    """Arguments of `selectors.shipment_list`."""

    status = serializers.MultipleChoiceField(
        choices=ShipmentStatus.choices, required=False, source="statuses"
    )
    delayed = serializers.BooleanField(required=False, allow_null=True, default=None)
    at_risk = serializers.BooleanField(required=False, allow_null=True, default=None)
    overdue = serializers.BooleanField(required=False, allow_null=True, default=None)
    late = serializers.BooleanField(required=False, allow_null=True, default=None)
    mode = serializers.CharField(required=False, allow_blank=True, max_length=64)
    carrier_scac = serializers.CharField(required=False, allow_blank=True, max_length=64)
    load_id = serializers.CharField(required=False, allow_blank=True, max_length=64)
    updated_since = serializers.DateTimeField(required=False)


class OrderListQuery(serializers.Serializer):
    """Arguments of `selectors.order_list`."""

    status = serializers.MultipleChoiceField(
        choices=ShipmentStatus.choices, required=False, source="statuses"
    )
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    q = serializers.CharField(required=False, allow_blank=True, max_length=128, source="text")
    updated_since = serializers.DateTimeField(required=False)


class InvoiceListQuery(serializers.Serializer):
    """Arguments of `selectors.invoice_list`."""

    status = serializers.ChoiceField(
        choices=Invoice.Status.choices, required=False, allow_blank=True
    )
    due_from = serializers.DateField(required=False)
    due_to = serializers.DateField(required=False)
    updated_since = serializers.DateTimeField(required=False)


def selector_arguments(
    query: type[serializers.Serializer], params: QueryDict | dict[str, Any]
) -> dict[str, Any]:
    """The selector's keyword arguments from a query string; a bad value raises DRF's
    ValidationError (answered 400 with the field's name)."""
    parsed = query(data=params)
    parsed.is_valid(raise_exception=True)
    return dict(parsed.validated_data)
