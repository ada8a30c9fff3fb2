"""Tenant-scoped reads of the read models. Views, serializers and GraphQL resolvers read
tenant data only through these functions, which take the actor first
(docs/ARCHITECTURE.md, decision 4). Another tenant's object is simply not found: callers
answer 404, not 403."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias, TypedDict

from django.contrib.auth.models import User
from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.search import TrigramSimilarity
from django.db.models import (
    Case,
    CharField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    prefetch_related_objects,
)
from django.db.models.functions import Collate
from django.utils import timezone

from accounts.audit import note_staff_read
from accounts.models import CustomerAccount, Tenant, TokenScope
from accounts.scoping import Actor, is_operator, visible_account_ids
from visibility.flags import FLAG_FIELDS
from visibility.models import (
    Document,
    ExceptionNote,
    FreightCharge,
    Invoice,
    NotificationSubscription,
    Order,
    Reference,
    Shipment,
    ShipmentAccount,
    ShipmentEvent,
    ShipmentException,
    ShipmentOrder,
    ShipmentStop,
    Webhook,
    WebhookDelivery,
)
from visibility.services.references import normalize_reference

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


def visible_accounts(actor: Actor, scope: str = TokenScope.SHIPMENTS) -> list[int]:
    """The ids `visible_account_ids` gives, read first (one small query).

    Filtering by a literal list lets PostgreSQL estimate from its per-account statistics
    how much of a table the actor sees; behind a subquery it guesses, and for a large
    tenant it guessed a few hundred rows where there are tens of thousands, then sorted
    them all instead of reading the newest-first index (docs/BENCHMARKS.md).
    """
    account_ids = list(visible_account_ids(actor, scope).values_list("id", flat=True))
    note_staff_read(actor, scope, account_ids)  # the operator's staff: audited per request
    return account_ids


def _shipment_ids_of(accounts: list[int] | QuerySet) -> QuerySet:
    """A subquery of the shipments carrying an order of one of `accounts`: visibility
    follows the orders (decision 9), through the set `ShipmentAccount`, never through
    `Shipment.customer_account` (the primary account) alone."""
    return ShipmentAccount.objects.filter(customer_account_id__in=accounts).values("shipment_id")


def _shipments_of(accounts: list[int]) -> QuerySet[Shipment]:
    return Shipment.objects.filter(id__in=_shipment_ids_of(accounts)).annotate(
        account_number=Subquery(
            ShipmentAccount.objects.filter(
                shipment_id=OuterRef("id"), customer_account_id__in=accounts
            )
            # Each link's number by primary key: joined, PostgreSQL hashed every account
            # for each row of a page (~9 ms a 100-row page, docs/BENCHMARKS.md).
            .annotate(number=Subquery(_ACCOUNT_NUMBER))
            .order_by("number")
            .values("number")[:1]
        )
    )


_ACCOUNT_NUMBER = CustomerAccount.objects.filter(id=OuterRef("customer_account_id")).values(
    "number"
)


def shipments_for(actor: Actor) -> QuerySet[Shipment]:
    """The shipments the actor may see, each with `account_number`: the first (by number)
    of its accounts the actor sees, the one to show (never another account's)."""
    return _shipments_of(visible_accounts(actor))


VISIBLE_CHARGES = "visible_charges"
VISIBLE_ORDER_LINKS = "visible_order_links"
VISIBLE_SHIPMENT_LINKS = "visible_shipment_links"
VISIBLE_DOCUMENTS = "visible_documents"


def _charges_visible_to(actor: Actor) -> Q:
    """A charge tagged with an account is that account's; an untagged one belongs to the
    account of a shipment that has only one, and to nobody on a consolidated shipment.
    Either way only with the finance grant for the account."""
    finance = visible_account_ids(actor, TokenScope.INVOICES)
    other_account_on_shipment = ShipmentAccount.objects.filter(
        shipment_id=OuterRef("shipment_id")
    ).exclude(customer_account_id=OuterRef("shipment__customer_account_id"))
    return Q(customer_account_id__in=finance) | Q(
        Q(customer_account__isnull=True, shipment__customer_account_id__in=finance),
        ~Exists(other_account_on_shipment),
    )


def visible_charges_prefetch(actor: Actor, lookup: str = "charges") -> Prefetch:
    """Prefetch the freight charges of the shipments at `lookup` that the actor may see
    (`_charges_visible_to`) as `visible_charges`, which `charges_of_shipment` then reads:
    one query for any number of shipments."""
    return Prefetch(
        lookup,
        queryset=FreightCharge.objects.filter(_charges_visible_to(actor)).order_by(
            "occurred_at", "id"
        ),
        to_attr=VISIBLE_CHARGES,
    )


def _order_links_visible_to(actor: Actor) -> QuerySet[ShipmentOrder]:
    return (
        ShipmentOrder.objects.filter(order__customer_account_id__in=visible_account_ids(actor))
        .select_related("order")
        .order_by("order__order_number")
    )


def visible_order_links_prefetch(actor: Actor, lookup: str = "order_links") -> Prefetch:
    """A shipment's links to the orders the actor may see (with the order), as
    `visible_order_links`, which `order_links_of_shipment` reads: a consolidated
    shipment's other accounts' orders never leave the database."""
    return Prefetch(lookup, queryset=_order_links_visible_to(actor), to_attr=VISIBLE_ORDER_LINKS)


def order_links_of_shipment(actor: Actor, shipment: Shipment) -> list[ShipmentOrder]:
    prefetched = getattr(shipment, VISIBLE_ORDER_LINKS, None)
    if prefetched is not None:
        return prefetched
    return list(_order_links_visible_to(actor).filter(shipment=shipment))


def shipment_detail_prefetches(actor: Actor, path: str = "") -> list[Prefetch]:
    """What a shipment's detail shows, prefetched for the shipments at `path`: its history
    (oldest first), the actor's orders on it, the actor's charges. (Stops are not shown.)"""
    return [
        Prefetch(f"{path}history", queryset=ShipmentEvent.objects.order_by("occurred_at", "id")),
        visible_order_links_prefetch(actor, f"{path}order_links"),
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


# --- a shipment's parts, prefetched for many shipments at once (GraphQL's nested lists) ---

VISIBLE_ACCOUNT_LINKS = "visible_account_links"
OPEN_EXCEPTIONS = "open_exceptions"
SHIPMENT_PARTS = ("history", "orders", "charges", "documents", "stops", "exceptions", "account")


def shipment_part_prefetches(
    actor: Actor, parts: Collection[str], path: str = ""
) -> list[Prefetch | str]:
    """Prefetches of the named `SHIPMENT_PARTS` of the shipments at `path`, each scoped
    as the shipment's detail shows it (the actor's orders, charges with the finance grant,
    documents with the documents grant, the open exceptions with the notes the actor may
    read, the actor's accounts): one query a part for any number of shipments."""
    unknown = set(parts) - set(SHIPMENT_PARTS)
    if unknown:
        raise ValueError(f"unknown shipment parts {sorted(unknown)}")
    prefetches: dict[str, Prefetch | str] = {
        "history": Prefetch(
            f"{path}history", queryset=ShipmentEvent.objects.order_by("occurred_at", "id")
        ),
        "orders": visible_order_links_prefetch(actor, f"{path}order_links"),
        "charges": visible_charges_prefetch(actor, f"{path}charges"),
        "documents": visible_documents_prefetch(actor, f"{path}documents"),
        "stops": Prefetch(f"{path}stops", queryset=ShipmentStop.objects.order_by("sequence", "id")),
        "exceptions": Prefetch(
            f"{path}exceptions",
            queryset=ShipmentException.objects.exclude(status=ShipmentException.Status.RESOLVED)
            .select_related("shipment")
            .prefetch_related(_notes_prefetch(actor))
            .order_by("opened_at", "id"),
            to_attr=OPEN_EXCEPTIONS,
        ),
        "account": Prefetch(
            f"{path}account_links",
            queryset=ShipmentAccount.objects.filter(
                customer_account_id__in=visible_account_ids(actor)
            )
            .select_related("customer_account")
            .order_by("customer_account__number"),
            to_attr=VISIBLE_ACCOUNT_LINKS,
        ),
    }
    return [prefetches[part] for part in SHIPMENT_PARTS if part in parts]


def with_shipment_parts(
    actor: Actor, shipments: QuerySet[Shipment], parts: Collection[str]
) -> QuerySet[Shipment]:
    """`shipments` (read through a selector) with `shipment_part_prefetches`."""
    return shipments.prefetch_related(*shipment_part_prefetches(actor, parts))


def prefetch_shipment_parts(
    actor: Actor, objects: Collection[Any], parts: Collection[str], path: str = ""
) -> None:
    """`shipment_part_prefetches` applied to objects already read (one detail)."""
    if objects and parts:
        prefetch_related_objects(list(objects), *shipment_part_prefetches(actor, parts, path))


def account_number_of_shipment(shipment: Shipment) -> str:
    """The first (by number) of the shipment's accounts the actor sees: annotated by the
    selector that read it, or prefetched by `shipment_part_prefetches(..., ["account"])`."""
    annotated = getattr(shipment, "account_number", None)
    if annotated is not None:
        return str(annotated)
    links: list[ShipmentAccount] = getattr(shipment, VISIBLE_ACCOUNT_LINKS, [])
    return links[0].customer_account.number if links else ""


def stops_of_shipment(shipment: Shipment) -> list[ShipmentStop]:
    return list(shipment.stops.all())


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
    overdue: bool | None = None,
    late: bool | None = None,
    accounts: Collection[str] = (),
    reference: str = "",
    origin_country: str = "",
    origin_city: str = "",
    destination_country: str = "",
    destination_city: str = "",
    eta_after: datetime | None = None,
    eta_before: datetime | None = None,
    promised_after: date | None = None,
    promised_before: date | None = None,
    delivered_after: datetime | None = None,
    delivered_before: datetime | None = None,
) -> QuerySet[Shipment]:
    """Newest activity first; each row carries `order_numbers`, the orders it ships.

    `accounts` are account numbers the actor sees (another raises `InvisibleAccounts`),
    `reference`
    any reference of the shipment or of its orders (exact, normalized); countries (ISO
    codes) and cities match case-insensitively; the date ranges are inclusive.

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
    if overdue is not None:
        conditions &= Q(overdue=overdue)
    if late is not None:
        conditions &= Q(late_by_hours__isnull=not late)
    if mode:
        conditions &= Q(mode=mode)
    if carrier_scac:
        conditions &= Q(carrier_scac__iexact=carrier_scac)
    if load_id:
        conditions &= Q(load_id=load_id)
    if updated_since is not None:
        conditions &= Q(updated_at__gte=updated_since)
    place_and_dates = {
        "origin__country__iexact": origin_country,
        "origin__city__iexact": origin_city,
        "destination__country__iexact": destination_country,
        "destination__city__iexact": destination_city,
        "eta__gte": eta_after,
        "eta__lte": eta_before,
        "promised_date__gte": promised_after,
        "promised_date__lte": promised_before,
        "delivered_at__gte": delivered_after,
        "delivered_at__lte": delivered_before,
    }
    for lookup, value in place_and_dates.items():
        if value not in (None, ""):
            conditions &= Q(**{lookup: value})
    if reference:
        conditions &= _shipments_with_reference(reference)
    account_ids = visible_accounts(actor)
    if accounts:
        account_ids = _account_ids_numbered(accounts, account_ids)
    return (
        _listed_shipments_of(account_ids)
        .filter(conditions)
        .select_related("customer_account")
        .annotate(
            # Only the actor's orders: a consolidated shipment also carries others'.
            order_numbers=ArraySubquery(
                ShipmentOrder.objects.filter(
                    shipment_id=OuterRef("id"), order__customer_account_id__in=account_ids
                )
                .order_by("order__order_number")
                .values("order__order_number")
            )
        )
        .order_by(f"-{LISTED_AT}", "-id")
    )


class InvisibleAccounts(ValueError):
    """A list was asked to filter by account numbers the actor does not see (or that do
    not exist): callers answer naming them, as an empty answer would look like "none"."""

    def __init__(self, numbers: Collection[str]) -> None:
        self.numbers = sorted(numbers)
        super().__init__(f"Unknown account: {', '.join(self.numbers)}")


def _account_ids_numbered(numbers: Collection[str], among: list[int]) -> list[int]:
    found = dict(
        CustomerAccount.objects.filter(id__in=among, number__in=list(numbers)).values_list(
            "number", "id"
        )
    )
    if missing := set(numbers) - found.keys():
        raise InvisibleAccounts(missing)
    return sorted(found.values())


def _shipments_with_reference(value: str) -> Q:
    """Shipments with a reference (shipment id, load id, tracking number) equal to `value`
    once normalized, or carrying an order with one (order number, customer PO)."""
    normalized = normalize_reference(value)
    references = Reference.objects.filter(normalized=normalized)
    return Q(id__in=references.filter(shipment__isnull=False).values("shipment_id")) | Q(
        id__in=ShipmentOrder.objects.filter(
            order_id__in=references.filter(order__isnull=False).values("order_id")
        ).values("shipment_id")
    )


# What `shipment_list` orders by (and a cursor pages by): the shipment's last activity.
LISTED_AT = "listed_at"


def _listed_shipments_of(accounts: list[int]) -> QuerySet[Shipment]:
    """`_shipments_of`, annotated with `listed_at` to order newest first by.

    For one account it is read through that account's `ShipmentAccount` rows, which
    carry the shipment's `last_event_at`, newest first from their index: walking all
    shipments newest first for the few of one account in a large tenant cost 64 ms a page
    (docs/BENCHMARKS.md). For several accounts the shipments' own newest-first index is
    read: a join over the account rows would sort all of them, and walking the shipments
    stays cheap while the accounts hold a fair share of them. (Ordering by
    `listed_at`, `-id`: the join makes the shipment's id its link's `shipment_id`, the
    index's last column.)"""
    if len(accounts) != 1:
        return _shipments_of(accounts).annotate(**{LISTED_AT: F("last_event_at")})
    return Shipment.objects.filter(account_links__customer_account_id=accounts[0]).annotate(
        account_number=F("account_links__customer_account__number"),
        **{LISTED_AT: F("account_links__last_event_at")},
    )


def orders_for(actor: Actor) -> QuerySet[Order]:
    return Order.objects.filter(
        customer_account_id__in=visible_accounts(actor, TokenScope.SHIPMENTS)
    )


def _shipment_links_visible_to(actor: Actor) -> QuerySet[ShipmentOrder]:
    return (
        ShipmentOrder.objects.filter(shipment_id__in=_shipment_ids_of(visible_account_ids(actor)))
        .select_related("shipment")
        .order_by("shipment__shipment_id")
    )


def visible_shipment_links_prefetch(
    actor: Actor, lookup: str = "shipment_links", *, with_shipment_details: bool = False
) -> Prefetch:
    """An order's links to the shipments the actor may see, as `visible_shipment_links`
    (read by `shipment_links_of_order`); `with_shipment_details` also prefetches what
    each shipment's detail shows, scoped the same way (its orders: the actor's only)."""
    links = _shipment_links_visible_to(actor)
    if with_shipment_details:
        links = links.prefetch_related(
            *shipment_detail_prefetches(actor, "shipment__"),
            visible_documents_prefetch(actor, "shipment__documents"),
        )
    return Prefetch(lookup, queryset=links, to_attr=VISIBLE_SHIPMENT_LINKS)


def prefetched_shipment_links(order: Order) -> list[ShipmentOrder]:
    """The actor's shipment links of an order a selector read (`order_get`, `order_list`
    prefetch them, scoped); an order read any other way has none to show."""
    links: list[ShipmentOrder] = getattr(order, VISIBLE_SHIPMENT_LINKS)
    return links


def shipment_links_of_order(actor: Actor, order: Order) -> list[ShipmentOrder]:
    prefetched = getattr(order, VISIBLE_SHIPMENT_LINKS, None)
    if prefetched is not None:
        return prefetched
    return list(_shipment_links_visible_to(actor).filter(order=order))


def order_get(
    actor: Actor, order_number: str, *, with_shipment_details: bool = False
) -> Order | None:
    """The order with its lines and shipments; `with_shipment_details` also prefetches
    each shipment's history, orders and charges (GraphQL's nested shipments)."""
    return (
        orders_for(actor)
        .select_related("customer_account")
        .prefetch_related(
            "lines",
            visible_shipment_links_prefetch(actor, with_shipment_details=with_shipment_details),
        )
        .filter(order_number=order_number)
        .first()
    )


def with_order_lines(orders: QuerySet[Order]) -> QuerySet[Order]:
    """`orders` (read through a selector) with their lines prefetched, in one query."""
    return orders.prefetch_related("lines")


def orders_detail(actor: Actor, order_numbers: Collection[str]) -> QuerySet[Order]:
    """The orders among `order_numbers` the actor sees, with what their detail shows."""
    return (
        orders_for(actor)
        .select_related("customer_account")
        .prefetch_related("lines", visible_shipment_links_prefetch(actor))
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
    with_shipment_details: bool = False,
) -> QuerySet[Order]:
    """Newest activity first. Every argument left at its default does not filter:
    `statuses` is any of them, the date range applies to the order date, `text` matches
    a part of the order number or customer PO, `updated_since` the server time of the last
    change (`updated_at`).
    Each order comes with the shipments the actor sees (`shipment_links_of_order`), with
    their details if `with_shipment_details` (GraphQL's nested shipments)."""
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
        .prefetch_related(
            visible_shipment_links_prefetch(actor, with_shipment_details=with_shipment_details)
        )
        .order_by(F("last_event_at").desc(nulls_last=True), "-id")
    )


def invoices_for(actor: Actor) -> QuerySet[Invoice]:
    return Invoice.objects.filter(
        customer_account_id__in=visible_accounts(actor, TokenScope.INVOICES)
    )


class InvoiceStatus(TypedDict):
    derived_status: str


# An invoice read through `with_invoice_status` (django-stubs-ext is a dev dependency).
InvoiceWithStatus: TypeAlias = "WithAnnotations[Invoice, InvoiceStatus]"


def with_invoice_status(invoices: QuerySet[Invoice]) -> QuerySet[InvoiceWithStatus]:
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
) -> QuerySet[InvoiceWithStatus]:
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


def invoice_get(actor: Actor, invoice_number: str) -> InvoiceWithStatus | None:
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


VISIBLE_INVOICES = "visible_invoices"


def prefetch_order_invoices(actor: Actor, orders: Collection[Order]) -> None:
    """The invoices of each of `orders` the actor sees (the finance grant), with their
    lines, as `visible_invoices` (read by `invoices_of_order_prefetched`): one query for
    any number of orders (an invoice names its orders in an array)."""
    orders = list(orders)
    if not orders:
        return
    invoices = list(
        with_invoice_status(invoices_for(actor))
        .filter(order_numbers__overlap=[order.order_number for order in orders])
        .select_related("customer_account")
        .prefetch_related("lines")
        .order_by("-issue_date", "-id")
    )
    for order in orders:
        setattr(
            order,
            VISIBLE_INVOICES,
            [invoice for invoice in invoices if order.order_number in invoice.order_numbers],
        )


def invoices_of_order_prefetched(order: Order) -> list[InvoiceWithStatus]:
    invoices: list[InvoiceWithStatus] = getattr(order, VISIBLE_INVOICES, [])
    return invoices


def charges_of_shipment(actor: Actor, shipment: Shipment) -> list[FreightCharge]:
    """The freight charges the actor may see (`_charges_visible_to`); those prefetched by
    `visible_charges_prefetch` if the shipment came with them."""
    prefetched = getattr(shipment, VISIBLE_CHARGES, None)
    if prefetched is not None:
        return prefetched
    return list(
        FreightCharge.objects.filter(_charges_visible_to(actor), shipment=shipment).order_by(
            "occurred_at", "id"
        )
    )


def can_see_invoices(actor: Actor) -> bool:
    return visible_account_ids(actor, TokenScope.INVOICES).exists()


def documents_for(actor: Actor) -> QuerySet[Document]:
    """Documents of the actor's orders and invoices, and documents of a shipment the actor
    sees: a shipment's own papers (its POD, its bill of lading) describe the whole
    shipment, so each account of a consolidated shipment sees them."""
    return _documents_of(visible_accounts(actor, TokenScope.DOCUMENTS))


def _documents_of(accounts: list[int] | QuerySet) -> QuerySet[Document]:
    return Document.objects.filter(
        Q(shipment__isnull=True, customer_account_id__in=accounts)
        | Q(shipment_id__in=_shipment_ids_of(accounts))
    )


def visible_documents_prefetch(actor: Actor, lookup: str = "documents") -> Prefetch:
    """A shipment's documents the actor may see, as `visible_documents` (read by
    `documents_of_shipment`), oldest first."""
    return Prefetch(
        lookup,
        queryset=_documents_of(visible_account_ids(actor, TokenScope.DOCUMENTS))
        # The shipment is the one prefetched for (Django sets it on each document).
        .select_related("customer_account", "order", "invoice")
        .order_by("occurred_at", "id"),
        to_attr=VISIBLE_DOCUMENTS,
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


class _Candidate(NamedTuple):
    """A reference a search tier found, with what ranks it among equals."""

    hit: SearchHit
    key: str  # the normalized value, in C collation
    id: int


def _candidates(references: QuerySet) -> list[_Candidate]:
    """A tier's first `SEARCH_CANDIDATES` references (`references` ordered, annotated
    with `key`, `rank` and `similarity`), best first; each row is read by column name."""
    rows = references.values(
        "kind",
        "object_key",
        "reference_type",
        "value",
        "rank",
        "similarity",
        "key",
        "id",
        tenant_id=F("customer_account__tenant_id"),
    )[:SEARCH_CANDIDATES]
    hit_fields = [field.name for field in fields(SearchHit)]
    candidates = [
        _Candidate(SearchHit(**{name: row[name] for name in hit_fields}), row["key"], row["id"])
        for row in rows
    ]
    candidates.sort(key=lambda c: (-c.hit.rank, -c.hit.similarity, c.key, c.id))
    return candidates


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
    candidates = _candidates(
        visible.filter(key__startswith=normalized)
        .annotate(
            rank=Case(
                When(normalized=normalized, then=Value(3)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )
        .order_by("key", "id")
    )
    exact_hit = any(candidate.hit.rank == 3 for candidate in candidates)
    found = {(candidate.hit.kind, candidate.hit.object_key) for candidate in candidates}
    if not exact_hit and len(found) < limit and len(normalized) >= SEARCH_MIN_PARTIAL_LENGTH:
        # Ordered, so that the planner reads the trigram index's matches rather than
        # gambling on a sequential scan reaching enough of them early.
        candidates += _candidates(
            visible.filter(normalized__contains=normalized)
            .exclude(key__startswith=normalized)
            .annotate(rank=Value(1, output_field=IntegerField()))
            .order_by("-similarity", "key", "id")
        )
        if not candidates:
            candidates = _candidates(
                visible.filter(normalized__trigram_similar=normalized)
                .annotate(rank=Value(0, output_field=IntegerField()))
                .order_by("-similarity", "key", "id")
            )
    hits: dict[tuple[str, str], SearchHit] = {}
    for candidate in candidates:
        hits.setdefault((candidate.hit.kind, candidate.hit.object_key), candidate.hit)
    return list(hits.values())[:limit]


def subscriptions_of(user: User, tenant_id: int) -> set[str]:
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


def documents_of_shipment(actor: Actor, shipment: Shipment) -> list[Document]:
    prefetched = getattr(shipment, VISIBLE_DOCUMENTS, None)
    if prefetched is not None:
        return prefetched
    return list(documents_for(actor).filter(shipment=shipment).order_by("occurred_at", "id"))


def document_list(
    actor: Actor,
    *,
    shipment_id: str = "",
    order_number: str = "",
    invoice_number: str = "",
    document_types: Collection[str] = (),
    updated_since: datetime | None = None,
) -> QuerySet[Document]:
    """The documents the actor sees (`documents_for`), newest first, with what they are
    filed under; an argument left at its default does not filter."""
    conditions = Q()
    if shipment_id:
        conditions &= Q(shipment__shipment_id=shipment_id)
    if order_number:
        conditions &= Q(order__order_number=order_number)
    if invoice_number:
        conditions &= Q(invoice__invoice_number=invoice_number)
    if document_types:
        conditions &= Q(document_type__in=list(document_types))
    if updated_since is not None:
        conditions &= Q(updated_at__gte=updated_since)
    return (
        documents_for(actor)
        .filter(conditions)
        .select_related("customer_account", "shipment", "order", "invoice")
        .order_by("-id")
    )


def documents_detail(actor: Actor, document_ids: Collection[str]) -> QuerySet[Document]:
    """The documents among `document_ids` the actor sees, with what they are filed under."""
    return (
        documents_for(actor)
        .select_related("customer_account", "shipment", "order", "invoice")
        .filter(document_id__in=list(document_ids))
    )


# --- exceptions as work ----------------------------------------------------------------------


def _notes_prefetch(actor: Actor) -> Prefetch:
    """The notes an actor may read: all of them for the operator's staff, only those
    marked visible to the customer for everyone else (internal notes never leave)."""
    notes = ExceptionNote.objects.select_related("author").order_by("created_at", "id")
    if not is_operator(actor):
        notes = notes.filter(visible_to_customer=True)
    return Prefetch("notes", queryset=notes, to_attr=SHOWN_NOTES)


SHOWN_NOTES = "shown_notes"


def shown_notes(record: ShipmentException) -> list[ExceptionNote]:
    """The notes of an exception read through `exceptions_for` that the actor may read."""
    notes: list[ExceptionNote] = getattr(record, SHOWN_NOTES)
    return notes


def exceptions_for(actor: Actor) -> QuerySet[ShipmentException]:
    """Exception records on the shipments the actor may see, with the notes it may read."""
    return (
        ShipmentException.objects.filter(shipment__in=shipments_for(actor).values("id"))
        .select_related("shipment", "owner")
        .prefetch_related(_notes_prefetch(actor))
    )


def open_exceptions(actor: Actor, *, shipment_id: str = "") -> QuerySet[ShipmentException]:
    """Unresolved exceptions the actor may see, oldest first, of one shipment if
    `shipment_id` (customers and partners: `/api/v1/exceptions`, GraphQL)."""
    records = exceptions_for(actor).exclude(status=ShipmentException.Status.RESOLVED)
    if shipment_id:
        records = records.filter(shipment__shipment_id=shipment_id)
    return records.order_by("opened_at", "id")


def open_exceptions_of_shipment(actor: Actor, shipment: Shipment) -> list[ShipmentException]:
    prefetched = getattr(shipment, OPEN_EXCEPTIONS, None)
    if prefetched is not None:
        return prefetched
    return list(open_exceptions(actor).filter(shipment_id=shipment.id))


def exception_queue(
    actor: Actor,
    *,
    reasons: Collection[str] = (),
    tenant_id: int | None = None,
    carrier_scac: str = "",
    older_than: timedelta | None = None,
    now: datetime | None = None,
) -> QuerySet[ShipmentException]:
    """Customer service's work queue: the unresolved exceptions of the tenants the staff
    member serves, oldest first. Nobody but the operator's staff has a queue."""
    if not is_operator(actor):
        return ShipmentException.objects.none()
    conditions = Q()
    if reasons:
        conditions &= Q(reason__in=list(reasons))
    if tenant_id is not None:
        # Exists, not a join: a shipment with two accounts of the tenant is one row.
        conditions &= Q(
            Exists(
                ShipmentAccount.objects.filter(
                    shipment_id=OuterRef("shipment_id"), customer_account__tenant_id=tenant_id
                )
            )
        )
    if carrier_scac:
        conditions &= Q(shipment__carrier_scac__iexact=carrier_scac)
    if older_than is not None:
        conditions &= Q(opened_at__lte=(now or timezone.now()) - older_than)
    return (
        open_exceptions(actor)
        .filter(conditions)
        .select_related("shipment__customer_account__tenant")
    )


def queue_exception_get(actor: Actor, exception_id: int) -> ShipmentException | None:
    """One exception for staff to work on, if it is in their queue's tenants."""
    if not is_operator(actor):
        return None
    return exceptions_for(actor).filter(id=exception_id).first()


def customer_service_member(actor: Actor, user_id: int) -> User | None:
    """One member of customer service an exception may be assigned to, or None."""
    return customer_service_staff(actor).filter(id=user_id).first()


def customer_service_staff(actor: Actor) -> QuerySet[User]:
    """Who an exception can be assigned to: the operator's active customer-service staff."""
    if not is_operator(actor):
        return User.objects.none()
    return User.objects.filter(is_active=True, staff_profile__isnull=False).order_by("username")


def tenants_served(actor: Actor) -> QuerySet[Tenant]:
    """The tenants whose exceptions are in a staff member's queue (the queue's filter)."""
    if not is_operator(actor):
        return Tenant.objects.none()
    return (
        Tenant.objects.filter(accounts__id__in=visible_accounts(actor)).distinct().order_by("name")
    )


def shipment_flags_of(actor: Actor, shipment_ids: Collection[str]) -> dict[str, list[str]]:
    """The flags in words of the visible shipments among `shipment_ids` (search results)."""
    if not shipment_ids:
        return {}
    return {
        shipment.shipment_id: shipment.flags
        for shipment in shipments_for(actor)
        .filter(shipment_id__in=list(shipment_ids))
        .only("shipment_id", *FLAG_FIELDS)
    }


# --- keyset pages (GraphQL connections; REST pages with DRF's CursorPagination) -----------


def keyset_page(
    rows: QuerySet[Any], *, ordering: Collection[str], after: Q | None, size: int
) -> list[Any]:
    """Up to `size` + 1 rows of `rows` (read through a selector, so already scoped) in
    `ordering`, a key that never changes, after the position `after` describes: the one
    row more tells whether another page follows, without a count."""
    if after is not None:
        rows = rows.filter(after)
    return list(rows.order_by(*ordering)[: size + 1])
