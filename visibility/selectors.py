"""Tenant-scoped reads of the read models. Views, serializers and GraphQL resolvers read
tenant data only through these functions, which take the actor first (DESIGN.md
decision 4). Another tenant's object is simply not found: callers answer 404, not 403."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from accounts.models import TokenScope
from accounts.scoping import Actor, visible_account_ids
from visibility.models import Document, Invoice, Order, Shipment, ShipmentEvent


def shipments_for(actor: Actor) -> QuerySet[Shipment]:
    return Shipment.objects.filter(
        customer_account_id__in=visible_account_ids(actor, TokenScope.SHIPMENTS)
    )


def shipment_detail_queryset(actor: Actor) -> QuerySet[Shipment]:
    return shipments_for(actor).select_related("customer_account").prefetch_related(
        "stops",
        "order_links__order",
        Prefetch("history", queryset=ShipmentEvent.objects.order_by("occurred_at", "id")),
    )


def shipment_get(actor: Actor, shipment_id: str) -> Shipment | None:
    return shipment_detail_queryset(actor).filter(shipment_id=shipment_id).first()


def shipment_list(actor: Actor) -> QuerySet[Shipment]:
    return (
        shipments_for(actor)
        .select_related("customer_account")
        .prefetch_related("order_links__order")
        .order_by("-last_event_at", "-id")
    )


def orders_for(actor: Actor) -> QuerySet[Order]:
    return Order.objects.filter(
        customer_account_id__in=visible_account_ids(actor, TokenScope.SHIPMENTS)
    )


def order_get(actor: Actor, order_number: str) -> Order | None:
    return (
        orders_for(actor)
        .select_related("customer_account")
        .prefetch_related("lines", "shipment_links__shipment")
        .filter(order_number=order_number)
        .first()
    )


def invoices_for(actor: Actor) -> QuerySet[Invoice]:
    return Invoice.objects.filter(
        customer_account_id__in=visible_account_ids(actor, TokenScope.INVOICES)
    )


def documents_for(actor: Actor) -> QuerySet[Document]:
    return Document.objects.filter(
        customer_account_id__in=visible_account_ids(actor, TokenScope.DOCUMENTS)
    )
