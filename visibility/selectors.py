"""Tenant-scoped reads of the read models. Views, serializers and GraphQL resolvers read
tenant data only through these functions, which take the actor first
(docs/ARCHITECTURE.md, decision 4). Another tenant's object is simply not found: callers
answer 404, not 403."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.search import TrigramSimilarity
from django.db.models import (
    Case,
    CharField,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Collate
from django.utils import timezone

from accounts.models import TokenScope
from accounts.scoping import Actor, visible_account_ids
from visibility.models import (
    Document,
    FreightCharge,
    Invoice,
    NotificationSubscription,
    Order,
    Reference,
    Shipment,
    ShipmentEvent,
    ShipmentOrder,
    Webhook,
    WebhookDelivery,
)
from visibility.services.references import normalize_reference


def visible_accounts(actor: Actor, scope: str = TokenScope.SHIPMENTS) -> list[int]:
    """The ids `visible_account_ids` gives, read first (one small query).

    Filtering by a literal list lets PostgreSQL estimate from its per-account statistics
    how much of a table the actor sees; behind a subquery it guesses, and for a large
    tenant it guessed a few hundred rows where there are tens of thousands, then sorted
    them all instead of reading the newest-first index (docs/BENCHMARKS.md).
    """
    return list(visible_account_ids(actor, scope).values_list("id", flat=True))


def shipments_for(actor: Actor) -> QuerySet[Shipment]:
    return Shipment.objects.filter(customer_account_id__in=visible_accounts(actor))


def visible_charges_prefetch(actor: Actor, lookup: str = "charges") -> Prefetch:
    """Prefetch the freight charges of the shipments at `lookup` that the actor may see
    (the finance grant for the shipment's account) as `visible_charges`, which
    `charges_of_shipment` then reads: one query for any number of shipments."""
    return Prefetch(
        lookup,
        queryset=FreightCharge.objects.filter(
            shipment__customer_account_id__in=visible_account_ids(actor, TokenScope.INVOICES)
        ).order_by("occurred_at", "id"),
        to_attr=VISIBLE_CHARGES,
    )


VISIBLE_CHARGES = "visible_charges"


def shipment_detail_prefetches(actor: Actor, path: str = "") -> list[Prefetch]:
    """What a shipment's detail shows, prefetched for the shipments at `path`: its history
    (oldest first), its orders, its charges. (Stops are not shown anywhere.)"""
    return [
        Prefetch(f"{path}history", queryset=ShipmentEvent.objects.order_by("occurred_at", "id")),
        Prefetch(f"{path}order_links__order"),
        visible_charges_prefetch(actor, f"{path}charges"),
    ]


def shipment_detail_queryset(actor: Actor) -> QuerySet[Shipment]:
    return (
        shipments_for(actor)
        .select_related("customer_account")
        .prefetch_related(*shipment_detail_prefetches(actor))
    )


def shipment_get(actor: Actor, shipment_id: str) -> Shipment | None:
    return shipment_detail_queryset(actor).filter(shipment_id=shipment_id).first()


ETA_KINDS = (ShipmentEvent.Kind.ETA, ShipmentEvent.Kind.DELAY)


def eta_history(shipment: Shipment) -> list[ShipmentEvent]:
    """Each ETA update and delay, oldest first, from the prefetched history."""
    return [
        fact
        for fact in shipment.history.all()
        if fact.kind in ETA_KINDS or fact.eta or fact.eta_window_start
    ]


def shipment_list(
    actor: Actor,
    *,
    statuses: Collection[str] = (),
    text: str = "",
    delayed: bool | None = None,
    at_risk: bool | None = None,
    mode: str = "",
    carrier_scac: str = "",
    load_id: str = "",
    updated_since: datetime | None = None,
) -> QuerySet[Shipment]:
    """Newest activity first; each row carries `order_numbers`, the orders it ships.

    Every argument left at its default does not filter: `statuses` is any of them, `text`
    a part of the shipment id, `carrier_scac` case-insensitive, `updated_since` the server
    time of the last change (`updated_at`, never business time). The order numbers come
    in the same query (an array subquery) rather than prefetched: a prefetch gives each
    row its own queryset referring back to it, and a page of such reference cycles costs
    the garbage collector 20-40 ms pauses (docs/BENCHMARKS.md).
    """
    conditions = Q()
    if statuses:
        conditions &= Q(status__in=list(statuses))
    if text:
        conditions &= Q(shipment_id__icontains=text)
    if delayed is not None:
        conditions &= Q(delayed=delayed)
    if at_risk is not None:
        conditions &= Q(at_risk=at_risk)
    if mode:
        conditions &= Q(mode=mode)
    if carrier_scac:
        conditions &= Q(carrier_scac__iexact=carrier_scac)
    if load_id:
        conditions &= Q(load_id=load_id)
    if updated_since is not None:
        conditions &= Q(updated_at__gte=updated_since)
    return (
        shipments_for(actor)
        .filter(conditions)
        .select_related("customer_account")
        .annotate(
            order_numbers=ArraySubquery(
                ShipmentOrder.objects.filter(shipment_id=OuterRef("id"))
                .order_by("order__order_number")
                .values("order__order_number")
            )
        )
        .order_by("-last_event_at", "-id")
    )


def orders_for(actor: Actor) -> QuerySet[Order]:
    return Order.objects.filter(
        customer_account_id__in=visible_accounts(actor, TokenScope.SHIPMENTS)
    )


def order_get(
    actor: Actor, order_number: str, *, with_shipment_details: bool = False
) -> Order | None:
    """The order with its lines and shipments; `with_shipment_details` also prefetches
    each shipment's history, orders and charges (GraphQL's nested shipments)."""
    orders = (
        orders_for(actor)
        .select_related("customer_account")
        .prefetch_related("lines", "shipment_links__shipment")
    )
    if with_shipment_details:
        orders = orders.prefetch_related(
            *shipment_detail_prefetches(actor, "shipment_links__shipment__")
        )
    return orders.filter(order_number=order_number).first()


def orders_detail(actor: Actor, order_numbers: Collection[str]) -> QuerySet[Order]:
    """The orders among `order_numbers` the actor sees, with what their detail shows."""
    return (
        orders_for(actor)
        .select_related("customer_account")
        .prefetch_related("lines", "shipment_links__shipment")
        .filter(order_number__in=list(order_numbers))
    )


def order_list(
    actor: Actor,
    *,
    statuses: Collection[str] = (),
    date_from: date | None = None,
    date_to: date | None = None,
    text: str = "",
    updated_since: datetime | None = None,
) -> QuerySet[Order]:
    """Newest activity first. Every argument left at its default does not filter:
    `statuses` is any of them, the date range applies to the order date, `text` matches
    a part of the order number or customer PO, `updated_since` the server time of the last
    change (`updated_at`)."""
    conditions = Q()
    if statuses:
        conditions &= Q(status__in=list(statuses))
    if date_from:
        conditions &= Q(order_date__gte=date_from)
    if date_to:
        conditions &= Q(order_date__lte=date_to)
    if text:
        conditions &= Q(order_number__icontains=text) | Q(customer_po__icontains=text)
    if updated_since is not None:
        conditions &= Q(updated_at__gte=updated_since)
    return (
        orders_for(actor)
        .filter(conditions)
        .select_related("customer_account")
        .prefetch_related("shipment_links__shipment")
        .order_by(F("last_event_at").desc(nulls_last=True), "-id")
    )


def invoices_for(actor: Actor) -> QuerySet[Invoice]:
    return Invoice.objects.filter(
        customer_account_id__in=visible_accounts(actor, TokenScope.INVOICES)
    )


def with_invoice_status(invoices: QuerySet[Invoice]) -> QuerySet[Invoice]:
    """The one place an invoice's status is derived, as `derived_status`: paid once paid,
    overdue when unpaid past its due date, otherwise open."""
    return invoices.annotate(
        derived_status=Case(
            When(paid_at__isnull=False, then=Value(Invoice.Status.PAID)),
            When(due_date__lt=timezone.localdate(), then=Value(Invoice.Status.OVERDUE)),
            default=Value(Invoice.Status.OPEN),
            output_field=CharField(),
        )
    )


def invoice_list(
    actor: Actor,
    *,
    status: str = "",
    due_from: date | None = None,
    due_to: date | None = None,
    updated_since: datetime | None = None,
) -> QuerySet[Invoice]:
    """Newest issue first. `status` is the derived one (open, paid, overdue); the range
    applies to the due date; `updated_since` the server time of the last change; an
    argument left at its default does not filter."""
    conditions = Q()
    if updated_since is not None:
        conditions &= Q(updated_at__gte=updated_since)
    if status:
        conditions &= Q(derived_status=status)
    if due_from:
        conditions &= Q(due_date__gte=due_from)
    if due_to:
        conditions &= Q(due_date__lte=due_to)
    return (
        with_invoice_status(invoices_for(actor))
        .filter(conditions)
        .select_related("customer_account")
        .prefetch_related("lines")
        .order_by("-issue_date", "-id")
    )


def invoice_get(actor: Actor, invoice_number: str) -> Invoice | None:
    return (
        with_invoice_status(invoices_for(actor))
        .select_related("customer_account")
        .prefetch_related("lines")
        .filter(invoice_number=invoice_number)
        .first()
    )


def invoices_detail(actor: Actor, invoice_numbers: Collection[str]) -> QuerySet[Invoice]:
    """The invoices among `invoice_numbers` the actor sees, as their detail shows them."""
    return (
        with_invoice_status(invoices_for(actor))
        .select_related("customer_account")
        .prefetch_related("lines")
        .filter(invoice_number__in=list(invoice_numbers))
    )


def invoices_of_order(actor: Actor, order: Order) -> QuerySet[Invoice]:
    return (
        with_invoice_status(invoices_for(actor))
        .filter(order_numbers__contains=[order.order_number])
        .select_related("customer_account")
        .order_by("-issue_date", "-id")
    )


def charges_of_shipment(actor: Actor, shipment: Shipment) -> list[FreightCharge]:
    """Freight charges, only where the actor has the finance grant for the account (those
    prefetched by `visible_charges_prefetch` if the shipment came with them)."""
    prefetched = getattr(shipment, VISIBLE_CHARGES, None)
    if prefetched is not None:
        return prefetched
    return list(
        FreightCharge.objects.filter(
            shipment=shipment,
            shipment__customer_account_id__in=visible_account_ids(actor, TokenScope.INVOICES),
        ).order_by("occurred_at", "id")
    )


def can_see_invoices(actor: Actor) -> bool:
    return visible_account_ids(actor, TokenScope.INVOICES).exists()


def documents_for(actor: Actor) -> QuerySet[Document]:
    return Document.objects.filter(
        customer_account_id__in=visible_accounts(actor, TokenScope.DOCUMENTS)
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
# How many candidates a tier ranks. A short prefix can match millions of references:
# exact and prefix candidates come in index order (shortest first), then are ranked.
SEARCH_CANDIDATES = 200

_HIT_FIELDS = (
    "kind",
    "object_key",
    "reference_type",
    "value",
    "rank",
    "similarity",
    "customer_account__tenant_id",
    "key",
    "id",
)


def _ranked(rows: list[tuple]) -> list[tuple]:
    rows.sort(key=lambda row: (-row[4], -row[5], row[7], row[8]))
    return [row[:7] for row in rows]


def search_references(actor: Actor, query: str, *, limit: int = 20) -> list[SearchHit]:
    """Find orders, shipments and invoices by any reference, best match first.

    Exact (normalized) beats prefix beats partial (contained). A query that equals a
    reference is answered by the references it equals or begins; otherwise prefix matches
    are topped up, while fewer than `limit` objects are found, by references containing
    the query (from three characters), and when nothing matches at all, by similar
    references (trigram similarity: typos). One hit per object: its best-matching
    reference. Each tier is one
    index-backed query: exact and prefix through the B-tree on `normalized` (C
    collation: the prefix is a range), partial and similar through the trigram GIN index.
    """
    normalized = normalize_reference(query)
    if not normalized:
        return []
    visible = Reference.objects.filter(customer_account_id__in=visible_accounts(actor)).annotate(
        key=Collate("normalized", "C"), similarity=TrigramSimilarity("normalized", normalized)
    )
    rows = _ranked(
        list(
            visible.filter(key__startswith=normalized)
            .annotate(
                rank=Case(
                    When(normalized=normalized, then=Value(3)),
                    default=Value(2),
                    output_field=IntegerField(),
                )
            )
            .order_by("key", "id")
            .values_list(*_HIT_FIELDS)[:SEARCH_CANDIDATES]
        )
    )
    exact_hit = any(row[4] == 3 for row in rows)
    found = {(row[0], row[1]) for row in rows}
    if not exact_hit and len(found) < limit and len(normalized) >= SEARCH_MIN_PARTIAL_LENGTH:
        # Ordered, so that the planner reads the trigram index's matches rather than
        # gambling on a sequential scan reaching enough of them early.
        rows += _ranked(
            list(
                visible.filter(normalized__contains=normalized)
                .exclude(key__startswith=normalized)
                .annotate(rank=Value(1, output_field=IntegerField()))
                .order_by("-similarity", "key", "id")
                .values_list(*_HIT_FIELDS)[:SEARCH_CANDIDATES]
            )
        )
        if not rows:
            rows = _ranked(
                list(
                    visible.filter(normalized__trigram_similar=normalized)
                    .annotate(rank=Value(0, output_field=IntegerField()))
                    .order_by("-similarity", "key", "id")
                    .values_list(*_HIT_FIELDS)[:SEARCH_CANDIDATES]
                )
            )
    hits: dict[tuple[str, str], SearchHit] = {}
    for row in rows:
        hits.setdefault((row[0], row[1]), SearchHit(*row))
    return list(hits.values())[:limit]


def subscriptions_of(user: Actor, tenant_id: int) -> set[str]:
    return set(
        NotificationSubscription.objects.filter(user=user, tenant_id=tenant_id).values_list(
            "trigger", flat=True
        )
    )


def webhooks_of_tenant(tenant_id: int) -> QuerySet[Webhook]:
    return Webhook.objects.filter(tenant_id=tenant_id).order_by("-created_at")


def webhook_of_tenant(tenant_id: int, webhook_id: int) -> Webhook | None:
    """One of the tenant's webhooks; another tenant's is None (the page answers 404)."""
    return webhooks_of_tenant(tenant_id).filter(id=webhook_id).first()


def webhook_deliveries_of_tenant(tenant_id: int, *, limit: int = 50) -> QuerySet:
    return (
        WebhookDelivery.objects.filter(webhook__tenant_id=tenant_id)
        .select_related("webhook", "notification")
        .order_by("-attempted_at")[:limit]
    )


def document_get(actor: Actor, document_id: str) -> Document | None:
    return (
        documents_for(actor)
        .select_related("customer_account")
        .filter(document_id=document_id)
        .first()
    )


def documents_of_shipment(actor: Actor, shipment: Shipment) -> QuerySet[Document]:
    return documents_for(actor).filter(shipment=shipment).order_by("occurred_at", "id")


def documents_detail(actor: Actor, document_ids: Collection[str]) -> QuerySet[Document]:
    """The documents among `document_ids` the actor sees, with what they are filed under."""
    return (
        documents_for(actor)
        .select_related("customer_account", "shipment", "order", "invoice")
        .filter(document_id__in=list(document_ids))
    )
