"""Output shapes of the REST API. Serializers only shape data; they never query."""

from __future__ import annotations

from rest_framework import serializers

from visibility.models import Order, Shipment, ShipmentEvent


class MilestoneSerializer(serializers.ModelSerializer):
    milestone = serializers.SerializerMethodField()

    class Meta:
        model = ShipmentEvent
        fields = ["milestone", "carrier_status_code", "occurred_at", "location",
                  "stop_sequence", "remarks", "received_by"]

    def get_milestone(self, fact: ShipmentEvent) -> str | None:
        return fact.milestone or None


class ShipmentOrderSerializer(serializers.Serializer):
    order_number = serializers.CharField(source="order.order_number")
    customer_po = serializers.CharField(source="order.customer_po")
    line_numbers = serializers.ListField(child=serializers.IntegerField())


class ShipmentSerializer(serializers.ModelSerializer):
    customer_account = serializers.CharField(source="customer_account.number")
    carrier = serializers.SerializerMethodField()
    milestones = serializers.SerializerMethodField()
    orders = ShipmentOrderSerializer(source="order_links", many=True)
    status_label = serializers.CharField(source="get_status_display")

    class Meta:
        model = Shipment
        fields = [
            "shipment_id", "customer_account", "load_id", "status", "status_label",
            "status_at", "carrier", "mode", "service_level", "tracking_numbers", "origin",
            "destination", "planned_pickup_at", "planned_delivery_at", "eta",
            "eta_window_start", "eta_window_end", "eta_basis", "promised_date", "delayed",
            "at_risk", "delivered_at", "received_by", "last_event_at", "milestones", "orders",
        ]

    def get_carrier(self, shipment: Shipment) -> dict | None:
        if not shipment.carrier_scac:
            return None
        return {"scac": shipment.carrier_scac, "name": shipment.carrier_name}

    def get_milestones(self, shipment: Shipment) -> list[dict]:
        facts = [fact for fact in shipment.history.all()
                 if fact.kind == ShipmentEvent.Kind.MILESTONE]
        return MilestoneSerializer(facts, many=True).data


class OrderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Order
        fields = ["order_number", "customer_po", "status", "requested_delivery_date"]
