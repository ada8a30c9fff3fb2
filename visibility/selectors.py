"""Tenant-scoped reads of the read models. Views, serializers and GraphQL resolvers read
tenant data only through these functions, which take the actor first (DESIGN.md
decision 4). Another tenant's object is simply not found: callers answer 404, not 403."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.postgres.search import TrigramSimilarity
from django.db.models import Case, IntegerField, Prefetch, QuerySet, Value, When
from django.db.models.functions import Collate

from accounts.models import TokenScope
from accounts.scoping import Actor, visible_account_ids
from visibility.models import (
    Document,
    Invoice,
    NotificationSubscription,
    Order,
    Reference,
    Shipment,
    ShipmentEvent,
    Webhook,
    WebhookDelivery,
)
from visibility.services.references import normalize_reference


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


@dataclass(frozen=True)
class SearchHit:
    kind: str
    object_key: str
    reference_type: str
    value: str
    rank: int
    similarity: float
    tenant_id: int


SEARCH_MIN_PARTIAL_LENGTH = 3
# How many exact/prefix matches are ranked, taken in index order (a short prefix can match
# millions of references; the best of them are the shortest, which the index gives first).
SEARCH_PREFIX_CANDIDATES = 200

_HIT_FIELDS = ("kind", "object_key", "reference_type", "value", "rank", "similarity",
               "customer_account__tenant_id")


def search_references(actor: Actor, query: str, *, limit: int = 20) -> list[SearchHit]:
    """Find orders, shipments and invoices by any reference, best match first.

    Exact (normalized) beats prefix beats partial (contained); partial matching starts at
    three characters, and when nothing matches that way, similar references (trigram
    similarity, typos) are offered. One hit per object: its best-matching reference.
    Each tier is one index-backed query, run only while fewer than `limit` objects are
    found: exact and prefix through the B-tree on `normalized` (C collation, so the
    prefix range and its order come from the index), partial and similar through the
    trigram GIN index.
    """
    normalized = normalize_reference(query)
    if not normalized:
        return []
    visible = Reference.objects.filter(
        customer_account_id__in=visible_account_ids(actor)
    ).annotate(key=Collate("normalized", "C"))
    similarity = TrigramSimilarity("normalized", normalized)
    starting = list(
        visible.filter(key__startswith=normalized)
        .annotate(rank=Case(When(normalized=normalized, then=Value(3)), default=Value(2),
                            output_field=IntegerField()),
                  similarity=similarity)
        .order_by("key", "id")
        .values_list(*_HIT_FIELDS, "key", "id")[:SEARCH_PREFIX_CANDIDATES]
    )
    starting.sort(key=lambda row: (-row[4], -row[5], row[7], row[8]))
    rows = [row[:7] for row in starting]
    hits: dict[tuple[str, str], SearchHit] = {}

    def collect(batch: list[tuple]) -> None:
        for row in batch:
            hits.setdefault((row[0], row[1]), SearchHit(*row))

    collect(rows)
    if len(hits) < limit and len(normalized) >= SEARCH_MIN_PARTIAL_LENGTH:
        collect(list(
            visible.filter(normalized__contains=normalized)
            .exclude(key__startswith=normalized)
            .annotate(rank=Value(1, output_field=IntegerField()), similarity=similarity)
            .order_by("-similarity", "key", "id")
            .values_list(*_HIT_FIELDS)[: limit * 3]
        ))
        if not hits:
            collect(list(
                visible.filter(normalized__trigram_similar=normalized)
                .annotate(rank=Value(0, output_field=IntegerField()), similarity=similarity)
                .order_by("-similarity", "key", "id")
                .values_list(*_HIT_FIELDS)[: limit * 3]
            ))
    return list(hits.values())[:limit]


def subscriptions_of(user: Actor, tenant_id: int) -> set[str]:
    return set(NotificationSubscription.objects.filter(user=user, tenant_id=tenant_id)
               .values_list("trigger", flat=True))


def webhooks_of_tenant(tenant_id: int) -> QuerySet[Webhook]:
    return Webhook.objects.filter(tenant_id=tenant_id).order_by("-created_at")


def webhook_deliveries_of_tenant(tenant_id: int, *, limit: int = 50) -> QuerySet:
    return (WebhookDelivery.objects.filter(webhook__tenant_id=tenant_id)
            .select_related("webhook", "notification").order_by("-attempted_at")[:limit])


def document_get(actor: Actor, document_id: str) -> Document | None:
    return documents_for(actor).select_related("customer_account").filter(
        document_id=document_id).first()


def documents_of_shipment(actor: Actor, shipment: Shipment) -> QuerySet[Document]:
    return documents_for(actor).filter(shipment=shipment).order_by("occurred_at", "id")
