"""Query-string filters for list endpoints (applied to an already tenant-scoped queryset)."""

from __future__ import annotations

import django_filters

from visibility.models import Shipment, ShipmentStatus


class ShipmentFilter(django_filters.FilterSet):
    # A column of the shipment itself: no join to de-duplicate, and SELECT DISTINCT over
    # every column would cost a sort of each page (and parallel workers) for nothing.
    status = django_filters.MultipleChoiceFilter(choices=ShipmentStatus.choices,
                                                 distinct=False)
    delayed = django_filters.BooleanFilter()
    at_risk = django_filters.BooleanFilter()
    mode = django_filters.CharFilter()
    carrier_scac = django_filters.CharFilter(lookup_expr="iexact")
    load_id = django_filters.CharFilter()
    updated_since = django_filters.IsoDateTimeFilter(field_name="last_event_at",
                                                     lookup_expr="gte")

    class Meta:
        model = Shipment
        fields = ["status", "delayed", "at_risk", "mode", "carrier_scac", "load_id"]
