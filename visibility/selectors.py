"""Tenant-scoped reads of the read models. Views, serializers and GraphQL resolvers read
tenant data only through these functions, which take the actor first
(docs/ARCHITECTURE.md, decision 4). Another tenant's object is simply not found: callers
answer 404, not 403."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias, TypedDict, TypeVar

from django.contrib.auth.models import User
from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.search import TrigramSimilarity
from django.db import connections, router
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    IntegerField,
    Model,
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
from rapidfuzz.distance import Levenshtein

from accounts.audit import note_staff_read
from accounts.models import CustomerAccount, Tenant, TokenScope
from accounts.scoping import Actor, is_operator, visible_account_ids
from visibility.flags import FLAG_FIELDS
from visibility.models import (
    Document,
    ExceptionNote,
    FreightCharge,
    Invoice,
    Notification,
    NotificationSubscription,
    Order,
    Reference,
    SavedView,
    Shipment,
    ShipmentAccount,
    ShipmentEvent,
    ShipmentException,
    ShipmentOrder,
    ShipmentStatus,
    ShipmentStop,
    Webhook,
    WebhookDelivery,
)
from visibility.services.references import normalize_reference

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

ModelT = TypeVar("ModelT", bound=Model)


def no_rows(model: type[ModelT]) -> QuerySet[ModelT]:
    """An empty queryset of `model` (the OpenAPI generator asks a list view for its model)."""
    return model._default_manager.none()


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


def is_eta_update(kind: str, eta: object, eta_window_start: object) -> bool:
    """A history fact the ETA history shows: an ETA update or a delay, or any other fact
    that carried an ETA."""
    return kind in ETA_KINDS or bool(eta) or bool(eta_window_start)


def eta_history(shipment: Shipment) -> list[ShipmentEvent]:
    """Each ETA update and delay, oldest first, from the prefetched history."""
    return [
        fact
        for fact in history_of(shipment)
        if is_eta_update(fact.kind, fact.eta, fact.eta_window_start)
    ]


class InvisibleAccounts(ValueError):
    """A list was asked to filter by account numbers the actor does not see (or that do
    not exist). Callers answer 400 naming them: an empty answer would look like "no
    shipments" and an unfiltered one like "all of them are this account's"."""

    def __init__(self, numbers: Collection[str]) -> None:
        self.numbers = sorted(numbers)
        super().__init__(f"Unknown account: {', '.join(self.numbers)}")


def visible_accounts_among(
    actor: Actor, numbers: Collection[str], scope: str = TokenScope.SHIPMENTS
) -> list[int]:
    """`visible_accounts`, narrowed to the account `numbers` if any are given (one query
    either way); a number the actor does not see raises `InvisibleAccounts`."""
    if not numbers:
        return visible_accounts(actor, scope)
    wanted = set(numbers)
    found = {
        number: account_id
        for account_id, number in CustomerAccount.objects.filter(
            id__in=visible_account_ids(actor, scope), number__in=list(wanted)
        ).values_list("id", "number")
    }
    if missing := wanted - found.keys():
        raise InvisibleAccounts(missing)
    account_ids = sorted(found.values())
    note_staff_read(actor, scope, account_ids)
    return account_ids


def _in_range(field: str, after: object | None, before: object | None) -> Q:
    """`field` within [after, before], both ends included; an end left None is open."""
    conditions = Q()
    if after is not None:
        conditions &= Q(**{f"{field}__gte": after})
    if before is not None:
        conditions &= Q(**{f"{field}__lte": before})
    return conditions


def _matching_reference(value: str, accounts: list[int], kind: str) -> QuerySet[Reference]:
    """The references of `kind` of `accounts` equal to `value` once normalized: the
    B-tree on the C-collated `normalized` serves the lookup."""
    return Reference.objects.annotate(key=Collate("normalized", "C")).filter(
        key=normalize_reference(value), kind=kind, customer_account_id__in=accounts
    )


def _shipments_by_reference(value: str, accounts: list[int]) -> Q:
    """Shipments one of whose references (id, load id, tracking number, document id) or
    one of whose orders' references (order number, customer PO) of the actor's accounts
    equals `value`: another account's order on a consolidated shipment never matches."""
    own = _matching_reference(value, accounts, Reference.Kind.SHIPMENT).values("shipment_id")
    of_orders = ShipmentOrder.objects.filter(
        order_id__in=_matching_reference(value, accounts, Reference.Kind.ORDER).values("order_id")
    ).values("shipment_id")
    return Q(id__in=own) | Q(id__in=of_orders)


def _location_matches(field: str, *, country: str = "", city: str = "") -> Q:
    """A JSON location (`{"city": ..., "country": ...}`) by country and city, ignoring case."""
    conditions = Q()
    if country:
        conditions &= Q(**{f"{field}__country__iexact": country})
    if city:
        conditions &= Q(**{f"{field}__city__iexact": city})
    return conditions


# What a shipment list can carry along per row, one query per page each (`expand=`).
SHIPMENT_EXPANSIONS = ("milestones", "eta_history", "stops", "charges", "documents")
VISIBLE_STOPS = "visible_stops"
# Lists, not per-row querysets: without `to_attr` Django builds a filtered queryset for
# every row of the page (100 rows: ~60 ms, bench/expand.py profiled).
LISTED_HISTORY = "listed_history"


def history_of(shipment: Shipment) -> list[ShipmentEvent]:
    """A shipment's history facts, oldest first, as its selector prefetched them (a list
    page's `expand`, or a detail's `history`)."""
    listed = getattr(shipment, LISTED_HISTORY, None)
    if listed is not None:
        return listed
    return list(shipment.history.all())


def stops_of_shipment(shipment: Shipment) -> list[ShipmentStop]:
    """A visible shipment's stops in sequence (those prefetched by `expand=stops` or
    GraphQL's `shipment_part_prefetches` if any)."""
    prefetched = getattr(shipment, VISIBLE_STOPS, None)
    if prefetched is not None:
        return prefetched
    return list(ShipmentStop.objects.filter(shipment_id=shipment.id).order_by("sequence"))


def milestones_of_shipment(shipment: Shipment) -> list[ShipmentEvent]:
    """The milestones of a shipment read with its history (detail or `expand`), oldest first."""
    return [fact for fact in history_of(shipment) if fact.kind == ShipmentEvent.Kind.MILESTONE]


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
        # Lists (`to_attr`), read by `history_of` and `stops_of_shipment`: a prefetch into
        # the related manager builds a queryset per row (bench/api.py, profiled).
        "history": Prefetch(
            f"{path}history",
            queryset=ShipmentEvent.objects.order_by("occurred_at", "id"),
            to_attr=LISTED_HISTORY,
        ),
        "orders": visible_order_links_prefetch(actor, f"{path}order_links"),
        "charges": visible_charges_prefetch(actor, f"{path}charges"),
        "documents": visible_documents_prefetch(actor, f"{path}documents"),
        "stops": Prefetch(
            f"{path}stops",
            queryset=ShipmentStop.objects.order_by("sequence", "id"),
            to_attr=VISIBLE_STOPS,
        ),
        "exceptions": Prefetch(
            f"{path}exceptions",
            queryset=_open_exceptions_with_notes(actor),
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


def _open_exceptions_with_notes(actor: Actor) -> QuerySet[ShipmentException]:
    return (
        ShipmentException.objects.exclude(status=ShipmentException.Status.RESOLVED)
        .select_related("shipment")
        .prefetch_related(_notes_prefetch(actor))
        .order_by("opened_at", "id")
    )


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


def as_rows(listed: QuerySet, columns: Collection[str]) -> QuerySet:
    """A selector's list read as plain rows of `columns`: no model instances and no
    related reads (the REST shipment list builds its page from rows: visibility/api/rows.py)."""
    return listed.select_related(None).prefetch_related(None).values(*columns)


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
    exception_reasons: Collection[str] = (),
    carrier: str = "",
    origin_country: str = "",
    origin_city: str = "",
    destination_country: str = "",
    destination_city: str = "",
    reference: str = "",
    tracking_number: str = "",
    order_number: str = "",
    eta_after: datetime | None = None,
    eta_before: datetime | None = None,
    promised_after: date | None = None,
    promised_before: date | None = None,
    delivered_after: datetime | None = None,
    delivered_before: datetime | None = None,
    updated_after: datetime | None = None,
    updated_before: datetime | None = None,
    origin: str = "",
    destination: str = "",
    open_exception: bool | None = None,
    documents_after: datetime | None = None,
    sort: str = "",
    tenant_id: int | None = None,
) -> QuerySet[Shipment]:
    """Newest activity first (or by `sort`, a key of SHIPMENT_SORTS, "-" for descending);
    each row carries `order_numbers`, the orders it ships.

    One set of filter arguments for every caller: they are the cleaned data of
    `ShipmentFilterSet` (visibility/api/filters.py), which REST validates from its query
    string, GraphQL from its arguments, and the list page from its own keys translated
    (portal/forms.py), so a filter means the same thing everywhere.

    Every argument left at its default does not filter: `statuses` is any of them, `text`
    a part of the shipment id, `carrier_scac` case-insensitive, `carrier` the SCAC or the
    carrier's name (case-insensitive), `accounts` account numbers the actor sees (another
    raises `InvisibleAccounts`), `exception_reasons` an unresolved exception of any of
    them, `open_exception` an unresolved exception of any reason (or none), `reference`
    any reference of the shipment or of the actor's orders on it (normalized, exact),
    `order_number` one of the actor's orders on it, countries (ISO codes) and cities
    exact ignoring case, `origin`/`destination` a part of the city or the country code,
    ranges `_after` and `_before` both included, `updated_since` (= `updated_after`) the
    server time of the last change (`updated_at`, never business time),
    `documents_after` a document of the shipment received since then. What a REST page
    carries along (`expand=`, SHIPMENT_EXPANSIONS) is read for the page's rows by
    visibility/rows.py, not prefetched here.

    `tenant_id` narrows an operator's list to one of the tenants they serve (the
    customer-service console's read-only view of a tenant's portal).

    The order numbers come in the same query (an array subquery) rather than prefetched:
    a prefetch gives each row its own queryset referring back to it, and a page of such
    reference cycles costs the garbage collector 20-40 ms pauses (docs/BENCHMARKS.md).
    """
    account_ids = visible_accounts_among(actor, accounts)
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
    if carrier:
        conditions &= Q(carrier_scac__iexact=carrier) | Q(carrier_name__iexact=carrier)
    if load_id:
        conditions &= Q(load_id=load_id)
    if exception_reasons:
        conditions &= Q(
            Exists(
                ShipmentException.objects.filter(
                    shipment_id=OuterRef("id"), reason__in=list(exception_reasons)
                ).exclude(status=ShipmentException.Status.RESOLVED)
            )
        )
    conditions &= _location_matches("origin", country=origin_country, city=origin_city)
    conditions &= _location_matches(
        "destination", country=destination_country, city=destination_city
    )
    if reference:
        conditions &= _shipments_by_reference(reference, account_ids)
    if tracking_number:
        conditions &= Q(tracking_numbers__contains=[tracking_number])
    if order_number:
        conditions &= Q(
            id__in=ShipmentOrder.objects.filter(
                order__order_number=order_number, order__customer_account_id__in=account_ids
            ).values("shipment_id")
        )
    conditions &= _in_range("eta", eta_after, eta_before)
    conditions &= _in_range("promised_date", promised_after, promised_before)
    conditions &= _in_range("delivered_at", delivered_after, delivered_before)
    conditions &= _in_range("updated_at", updated_since, None)
    conditions &= _in_range("updated_at", updated_after, updated_before)
    if origin:
        conditions &= _place("origin", origin)
    if destination:
        conditions &= _place("destination", destination)
    if open_exception is not None:
        has_open = Exists(
            ShipmentException.objects.filter(shipment_id=OuterRef("id")).exclude(
                status=ShipmentException.Status.RESOLVED
            )
        )
        conditions &= Q(has_open) if open_exception else ~Q(has_open)
    if documents_after is not None:
        conditions &= Q(
            Exists(
                Document.objects.filter(
                    shipment_id=OuterRef("id"), occurred_at__gte=documents_after
                )
            )
        )
    if tenant_id is not None:
        account_ids = list(
            CustomerAccount.objects.filter(id__in=account_ids, tenant_id=tenant_id).values_list(
                "id", flat=True
            )
        )
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
        .order_by(*_shipment_ordering(sort))
    )


# The list's sortable columns: the `sort` key -> the field.
SHIPMENT_SORTS = {
    "shipment": "shipment_id",
    "status": "status",
    "carrier": "carrier_name",
    "eta": "eta",
    "promised": "promised_date",
    "delivered": "delivered_at",
    "updated": "listed_at",
}


def _shipment_ordering(sort: str) -> list:
    field = SHIPMENT_SORTS.get(sort.removeprefix("-"))
    if field is None or sort == "-updated":
        return [f"-{LISTED_AT}", "-id"]
    if sort.startswith("-"):
        return [F(field).desc(nulls_last=True), "-id"]
    return [F(field).asc(nulls_last=True), "id"]


def _place(field: str, text: str) -> Q:
    return Q(**{f"{field}__city__icontains": text}) | Q(**{f"{field}__country__iexact": text})


@dataclass(frozen=True)
class ShipmentListChoices:
    """What the list's filters offer: the actor's account numbers and the carriers of
    the shipments it sees."""

    account_numbers: list[str]
    carriers: list[tuple[str, str]]  # (SCAC, name)


def shipment_list_choices(actor: Actor) -> ShipmentListChoices:
    accounts = list(visible_account_ids(actor).values_list("id", flat=True))
    return ShipmentListChoices(
        account_numbers=list(
            CustomerAccount.objects.filter(id__in=accounts)
            .order_by("number")
            .values_list("number", flat=True)
        ),
        carriers=carriers_of_accounts(accounts),
    )


# A loose index scan: per account, the first carrier of its `ShipmentAccount` rows in
# `shipment_account_carrier` order, then the first one after it, and so on, so each
# step is one index probe and the cost follows the number of (account, carrier) pairs,
# not of shipments. The DISTINCT it replaces read every shipment the actor sees (12.4 s
# for the largest tenant of `make bench-data`, docs/BENCHMARKS.md).
_CARRIERS_SQL = """
WITH RECURSIVE found AS (
    SELECT account.id AS account_id, first.carrier_scac, first.carrier_name
    FROM unnest(%s::bigint[]) AS account(id)
    CROSS JOIN LATERAL (
        SELECT link.carrier_scac, link.carrier_name FROM visibility_shipmentaccount link
        WHERE link.customer_account_id = account.id AND link.carrier_scac > ''
        ORDER BY link.carrier_scac LIMIT 1
    ) first
    UNION ALL
    SELECT found.account_id, next.carrier_scac, next.carrier_name
    FROM found CROSS JOIN LATERAL (
        SELECT link.carrier_scac, link.carrier_name FROM visibility_shipmentaccount link
        WHERE link.customer_account_id = found.account_id
        AND link.carrier_scac > found.carrier_scac
        ORDER BY link.carrier_scac LIMIT 1
    ) next
)
SELECT DISTINCT ON (carrier_scac) carrier_scac, carrier_name FROM found
ORDER BY carrier_scac, carrier_name
"""


def carriers_of_accounts(account_ids: list[int]) -> list[tuple[str, str]]:
    """The carriers (SCAC, name) of the shipments these accounts see, by name; one name
    per SCAC (the first by name when shipments spell it differently)."""
    if not account_ids:
        return []
    with connections[router.db_for_read(ShipmentAccount)].cursor() as cursor:
        cursor.execute(_CARRIERS_SQL, [account_ids])
        rows = [(scac, name) for scac, name in cursor.fetchall()]
    return sorted(rows, key=lambda row: (row[1] or row[0], row[0]))


def saved_views_for(user: User, tenant_id: int | None) -> list[SavedView]:
    """The user's own saved views and those shared within its tenant, by name (one
    query; the user's default, if any, is among them)."""
    if tenant_id is None:
        return []
    return list(
        SavedView.objects.filter(Q(owner_id=user.pk) | Q(shared=True), tenant_id=tenant_id)
        .select_related("owner")
        .order_by("name", "id")
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
    accounts: Collection[str] = (),
    at_risk: bool | None = None,
    order_number: str = "",
    reference: str = "",
    shipment_id: str = "",
    requested_after: date | None = None,
    requested_before: date | None = None,
    updated_after: datetime | None = None,
    updated_before: datetime | None = None,
) -> QuerySet[Order]:
    """Newest activity first. Every argument left at its default does not filter:
    `statuses` is any of them, the date range applies to the order date, `text` matches
    a part of the order number or customer PO, `reference` any reference of the order
    (normalized, exact), `shipment_id` a shipment the actor sees carrying it, `accounts`
    account numbers the actor sees (another raises `InvisibleAccounts`), ranges both ends
    included, `updated_since` (= `updated_after`) the server time of the last change
    (`updated_at`).
    Each order comes with the shipments the actor sees (`shipment_links_of_order`), with
    their details if `with_shipment_details` (GraphQL's nested shipments)."""
    account_ids = visible_accounts_among(actor, accounts)
    conditions = Q()
    if statuses:
        conditions &= Q(status__in=list(statuses))
    if text:
        conditions &= Q(order_number__icontains=text) | Q(customer_po__icontains=text)
    if at_risk is not None:
        conditions &= Q(at_risk=at_risk)
    if order_number:
        conditions &= Q(order_number=order_number)
    if reference:
        conditions &= Q(
            id__in=_matching_reference(reference, account_ids, Reference.Kind.ORDER).values(
                "order_id"
            )
        )
    if shipment_id:
        conditions &= Q(
            id__in=ShipmentOrder.objects.filter(
                shipment__shipment_id=shipment_id, shipment_id__in=_shipment_ids_of(account_ids)
            ).values("order_id")
        )
    conditions &= _in_range("order_date", date_from, date_to)
    conditions &= _in_range("requested_delivery_date", requested_after, requested_before)
    conditions &= _in_range("updated_at", updated_since, None)
    conditions &= _in_range("updated_at", updated_after, updated_before)
    return (
        Order.objects.filter(customer_account_id__in=account_ids)
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
    accounts: Collection[str] = (),
    order_number: str = "",
    shipment_id: str = "",
    issued_after: date | None = None,
    issued_before: date | None = None,
    updated_after: datetime | None = None,
    updated_before: datetime | None = None,
) -> QuerySet[InvoiceWithStatus]:
    """Newest issue first. `status` is the derived one (open, paid, overdue); the due
    range applies to the due date, the issued range to the issue date (both ends
    included); `order_number` and `shipment_id` an order or shipment the invoice bills;
    `accounts` account numbers the actor sees with the finance grant (another raises
    `InvisibleAccounts`); `updated_since` (= `updated_after`) the server time of the last
    change; an argument left at its default does not filter."""
    account_ids = visible_accounts_among(actor, accounts, TokenScope.INVOICES)
    conditions = Q()
    if status:
        conditions &= Q(derived_status=status)
    if order_number:
        conditions &= Q(order_numbers__contains=[order_number])
    if shipment_id:
        conditions &= Q(shipment_ids__contains=[shipment_id])
    conditions &= _in_range("due_date", due_from, due_to)
    conditions &= _in_range("issue_date", issued_after, issued_before)
    conditions &= _in_range("updated_at", updated_since, None)
    conditions &= _in_range("updated_at", updated_after, updated_before)
    return (
        with_invoice_status(Invoice.objects.filter(customer_account_id__in=account_ids))
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


def documents_of_shipments(actor: Actor, shipment_ids: list[int]) -> QuerySet[Document]:
    """The documents of the shipments that the actor may see, oldest first (as
    `visible_documents_prefetch` gives them), with what each is filed under."""
    return (
        _documents_of(visible_account_ids(actor, TokenScope.DOCUMENTS))
        .filter(shipment_id__any=shipment_ids)
        .select_related("shipment", "customer_account", "order", "invoice")
        .order_by("occurred_at", "id")
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
    tenant_name: str
    account_number: str

    @property
    def exact(self) -> bool:
        return self.rank == SEARCH_RANK_EXACT

    @property
    def matched_by(self) -> str:
        """What the query matched, in words ("Order number", "Tracking number")."""
        return str(Reference.ReferenceType(self.reference_type).label)


SEARCH_MIN_PARTIAL_LENGTH = 3
SEARCH_RANK_EXACT = 3
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
        tenant_name=F("customer_account__tenant__name"),
        account_number=F("customer_account__number"),
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
                When(normalized=normalized, then=Value(SEARCH_RANK_EXACT)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )
        .order_by("key", "id")
    )
    exact_hit = any(candidate.hit.exact for candidate in candidates)
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
            # Trigrams tie a typo with all its siblings (SHP-1002OO3 shares as many with
            # SHP-1002001 as with SHP-1002003); the fewest edits breaks the tie.
            candidates.sort(
                key=lambda c: (Levenshtein.distance(c.key, normalized), -c.hit.similarity, c.key)
            )
    hits: dict[tuple[str, str], SearchHit] = {}
    for candidate in candidates:
        hits.setdefault((candidate.hit.kind, candidate.hit.object_key), candidate.hit)
    return list(hits.values())[:limit]


@dataclass(frozen=True)
class SearchResult:
    """A search hit with what a caller asks next: its state and when it is due."""

    hit: SearchHit
    status: str = ""
    due_label: str = ""  # what `due` is: "ETA", "Delivered", "Requested", "Due"
    due: date | datetime | None = None
    flags: tuple[str, ...] = ()


def search_results(actor: Actor, query: str, *, limit: int = 20) -> list[SearchResult]:
    """`search_references` with each hit's status and ETA (or delivery, requested or due
    date): three queries more, one per kind, whatever the number of hits."""
    hits = search_references(actor, query, limit=limit)
    keys: dict[str, list[str]] = {"shipment": [], "order": [], "invoice": []}
    for hit in hits:
        keys[hit.kind].append(hit.object_key)
    shipments = (
        {
            shipment.shipment_id: shipment
            for shipment in shipments_for(actor)
            .filter(shipment_id__in=keys["shipment"])
            .only("shipment_id", "status", "eta", "delivered_at", *FLAG_FIELDS)
        }
        if keys["shipment"]
        else {}
    )
    orders = (
        {
            order.order_number: order
            for order in orders_for(actor)
            .filter(order_number__in=keys["order"])
            .only("order_number", "status", "requested_delivery_date")
        }
        if keys["order"]
        else {}
    )
    invoices = (
        {
            invoice.invoice_number: invoice
            for invoice in with_invoice_status(invoices_for(actor))
            .filter(invoice_number__in=keys["invoice"])
            .only("invoice_number", "due_date", "paid_at")
        }
        if keys["invoice"]
        else {}
    )
    results = []
    for hit in hits:
        result = SearchResult(hit)
        if (shipment := shipments.get(hit.object_key)) and hit.kind == "shipment":
            delivered = shipment.delivered_at is not None
            result = SearchResult(
                hit,
                status=shipment.get_status_display(),
                due_label="Delivered" if delivered else "ETA",
                due=shipment.delivered_at if delivered else shipment.eta,
                flags=tuple(shipment.flags),
            )
        elif (order := orders.get(hit.object_key)) and hit.kind == "order":
            result = SearchResult(
                hit,
                status=order.get_status_display(),
                due_label="Requested",
                due=order.requested_delivery_date,
            )
        elif (invoice := invoices.get(hit.object_key)) and hit.kind == "invoice":
            result = SearchResult(
                hit,
                status=str(Invoice.Status(invoice.derived_status).label),
                due_label="Due",
                due=invoice.due_date,
            )
        results.append(result)
    return results


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


def deliveries_of_webhook(webhook: Webhook) -> QuerySet[Notification]:
    """The webhook's deliveries (one per event), newest first, each with its attempts
    (newest first) prefetched."""
    return (
        Notification.objects.filter(subscriber=f"webhook:{webhook.id}", tenant_id=webhook.tenant_id)
        .prefetch_related(
            Prefetch("deliveries", queryset=WebhookDelivery.objects.order_by("-attempt", "-id"))
        )
        .order_by("-id")
    )


def webhook_delivery_of_tenant(tenant_id: int, delivery_id: int) -> Notification | None:
    """One delivery to one of the tenant's webhooks; another tenant's is None (404)."""
    return (
        Notification.objects.filter(
            id=delivery_id, tenant_id=tenant_id, subscriber__startswith="webhook:"
        )
        .prefetch_related(
            Prefetch("deliveries", queryset=WebhookDelivery.objects.order_by("-attempt", "-id"))
        )
        .first()
    )


def recent_webhook_deliveries_of_tenant(tenant_id: int, *, limit: int = 50) -> list[Notification]:
    """The tenant's latest deliveries to its webhooks, each with its attempts."""
    return list(
        Notification.objects.filter(tenant_id=tenant_id, subscriber__startswith="webhook:")
        .prefetch_related(
            Prefetch("deliveries", queryset=WebhookDelivery.objects.order_by("-attempt", "-id"))
        )
        .order_by("-id")[:limit]
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
    """The documents the actor may see (`documents_for`), newest first, filed under the
    shipment, order or invoice named (each given narrows); an object the actor does not
    see has no documents to list, like one that does not exist."""
    conditions = Q()
    if shipment_id:
        conditions &= Q(shipment__shipment_id=shipment_id)
    if order_number:
        conditions &= Q(order__order_number=order_number)
    if invoice_number:
        conditions &= Q(invoice__invoice_number=invoice_number)
    if document_types:
        conditions &= Q(document_type__in=list(document_types))
    conditions &= _in_range("updated_at", updated_since, None)
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


def reference_search(actor: Actor, query: str, *, limit: int) -> list[SearchHit]:
    """`search_references` for the API: invoices only with the finance grant on their
    account (a reference names an invoice the actor could not open otherwise)."""
    hits = search_references(actor, query, limit=limit)
    invoice_keys = [hit.object_key for hit in hits if hit.kind == Reference.Kind.INVOICE]
    if invoice_keys:
        openable = set(
            invoices_for(actor)
            .filter(invoice_number__in=invoice_keys)
            .values_list("invoice_number", flat=True)
        )
        hits = [
            hit for hit in hits if hit.kind != Reference.Kind.INVOICE or hit.object_key in openable
        ]
    return hits


# --- exceptions as work ----------------------------------------------------------------------


def notes_shown_to(actor: Actor) -> QuerySet[ExceptionNote]:
    """The notes an actor may read: all of them for the operator's staff, only those
    marked visible to the customer for everyone else (internal notes never leave)."""
    notes = ExceptionNote.objects.order_by("created_at", "id")
    if not is_operator(actor):
        notes = notes.filter(visible_to_customer=True)
    return notes


def _notes_prefetch(actor: Actor) -> Prefetch:
    return Prefetch(
        "notes", queryset=notes_shown_to(actor).select_related("author"), to_attr=SHOWN_NOTES
    )


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


def open_exceptions(
    actor: Actor,
    *,
    shipment_id: str = "",
    reasons: Collection[str] = (),
    statuses: Collection[str] = (),
    opened_after: datetime | None = None,
    opened_before: datetime | None = None,
) -> QuerySet[ShipmentException]:
    """Unresolved exceptions the actor may see, oldest first, of one shipment if
    `shipment_id` (customers and partners: `/api/v1/exceptions`, GraphQL); `reasons` and
    `statuses` (open, acknowledged) any of them, the opened range both ends included."""
    records = exceptions_for(actor).exclude(status=ShipmentException.Status.RESOLVED)
    if shipment_id:
        records = records.filter(shipment__shipment_id=shipment_id)
    if reasons:
        records = records.filter(reason__in=list(reasons))
    if statuses:
        records = records.filter(status__in=list(statuses))
    records = records.filter(_in_range("opened_at", opened_after, opened_before))
    return records.order_by("opened_at", "id")


def open_exceptions_of_shipment(actor: Actor, shipment: Shipment) -> list[ShipmentException]:
    prefetched = getattr(shipment, OPEN_EXCEPTIONS, None)
    if prefetched is not None:
        return prefetched
    return list(open_exceptions(actor).filter(shipment_id=shipment.id))


def open_exceptions_of_shipments(
    actor: Actor, shipment_ids: list[int]
) -> QuerySet[ShipmentException]:
    """The unresolved exceptions of shipments read through a selector (so visible), oldest
    first, with the notes the actor may read, as `shipment_part_prefetches(...,
    ["exceptions"])` gives them."""
    return _open_exceptions_with_notes(actor).filter(shipment_id__any=shipment_ids)


def exception_queue(
    actor: Actor,
    *,
    reasons: Collection[str] = (),
    tenant_id: int | None = None,
    carrier_scac: str = "",
    older_than: timedelta | None = None,
    now: datetime | None = None,
    account_number: str = "",
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
    if account_number:
        conditions &= Q(
            Exists(
                ShipmentAccount.objects.filter(
                    shipment_id=OuterRef("shipment_id"), customer_account__number=account_number
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


def tenant_served_get(actor: Actor, tenant_id: int) -> Tenant | None:
    """One tenant an operator serves (the console's view of its portal); None otherwise."""
    return tenants_served(actor).filter(id=tenant_id).first()


def accounts_served(actor: Actor) -> QuerySet[CustomerAccount]:
    """The customer accounts of the tenants a staff member serves, with their tenant."""
    if not is_operator(actor):
        return CustomerAccount.objects.none()
    return (
        CustomerAccount.objects.filter(id__in=visible_accounts(actor))
        .select_related("tenant")
        .order_by("tenant__name", "number")
    )


def queue_filter_choices(actor: Actor) -> tuple[list[dict], list[dict]]:
    """The exception queue's customer and account filters: the tenants served (`id`,
    `name`, by name) and their accounts (`number`, `tenant_name`, by tenant name and
    number), as rows of one query. Read as `tenants_served` and `accounts_served`, they
    were two more queries and ~700 model instances on every queue page (315 accounts, each
    with its tenant, and 50 tenants at the bench's size)."""
    accounts: list[dict[str, Any]] = [
        dict(account)
        for account in accounts_served(actor).values(
            "number", "tenant_id", tenant_name=F("tenant__name")
        )
    ]
    tenants: dict[int, dict] = {}
    for account in accounts:
        tenants.setdefault(
            account["tenant_id"], {"id": account["tenant_id"], "name": account["tenant_name"]}
        )
    return list(tenants.values()), accounts


def tenants_served_overview(actor: Actor) -> list[dict]:
    """Each served tenant with its accounts and counts of open exceptions and shipments
    in transit: the console's first screen (two grouped queries)."""
    accounts = list(accounts_served(actor))
    by_tenant: dict[int, dict] = {}
    for account in accounts:
        assert account.tenant_id is not None  # served accounts are owned
        row = by_tenant.setdefault(
            account.tenant_id,
            {"tenant": account.tenant, "accounts": [], "open_exceptions": 0, "in_transit": 0},
        )
        row["accounts"].append(account.number)
    account_ids = [account.id for account in accounts]
    exceptions = (
        open_exceptions(actor)
        .filter(shipment__customer_account_id__in=account_ids)
        .values("shipment__customer_account__tenant_id")
        .annotate(count=Count("id"))
    )
    for counted in exceptions:
        tenant_id = counted["shipment__customer_account__tenant_id"]
        by_tenant[tenant_id]["open_exceptions"] = counted["count"]
    moving = (
        Shipment.objects.filter(
            customer_account_id__in=account_ids,
            status__in=[ShipmentStatus.IN_TRANSIT, ShipmentStatus.OUT_FOR_DELIVERY],
        )
        .values("customer_account__tenant_id")
        .annotate(count=Count("id"))
    )
    for counted_moving in moving:
        by_tenant[counted_moving["customer_account__tenant_id"]]["in_transit"] = counted_moving[
            "count"
        ]
    return sorted(by_tenant.values(), key=lambda row: row["tenant"].name)


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


# --- many details at once (the change feed's pages: visibility/changes.py) -----------------
# The same scoping as the prefetches above, as querysets over many parents, for pages that
# read rows (values()) instead of model instances.


def order_links_of_shipments(actor: Actor, shipment_ids: list[int]) -> QuerySet[ShipmentOrder]:
    """The shipments' links to the orders the actor may see, by order number."""
    return _order_links_visible_to(actor).filter(shipment_id__any=shipment_ids)


def charges_of_shipments(actor: Actor, shipment_ids: list[int]) -> QuerySet[FreightCharge]:
    """The freight charges of the shipments the actor may see (`_charges_visible_to`)."""
    return FreightCharge.objects.filter(
        _charges_visible_to(actor), shipment_id__any=shipment_ids
    ).order_by("occurred_at", "id")


def shipment_links_of_orders(actor: Actor, order_ids: list[int]) -> QuerySet[ShipmentOrder]:
    """The orders' links to the shipments the actor may see, by shipment id: the links of
    these orders first, each checked for an account of the actor (Exists), never the
    set of every shipment the actor sees (a hash of ~190,000 ids for a large tenant)."""
    accounts = visible_accounts(actor)
    return (
        ShipmentOrder.objects.filter(order_id__any=order_ids)
        .filter(
            Exists(
                ShipmentAccount.objects.filter(
                    shipment_id=OuterRef("shipment_id"), customer_account_id__in=accounts
                )
            )
        )
        .order_by("shipment__shipment_id")
    )


def invoices_of_orders(actor: Actor, order_numbers: Collection[str]) -> QuerySet[InvoiceWithStatus]:
    """The invoices the actor sees naming any of the orders, newest issue first. The
    invoices naming them are found first, one GIN index probe per order number (ids
    only), then read through the actor's scope. Measured at 1,000,000 shipments for a
    page's 1,000 orders: 5 ms; `order_numbers && ARRAY[1,000 numbers]` was a sequential
    scan comparing every invoice with the whole array (7 s), and combined with the
    scope PostgreSQL probed the index once per account of the actor."""
    # Raw SQL bypasses the router: ask it, so a page served by a replica reads one copy.
    with connections[router.db_for_read(Invoice)].cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT invoice.id FROM unnest(%s::varchar[]) AS wanted(number)"
            " JOIN visibility_invoice invoice"
            " ON invoice.order_numbers @> ARRAY[wanted.number]::varchar(128)[]",
            [list(order_numbers)],
        )
        naming = [row[0] for row in cursor.fetchall()]
    return (
        with_invoice_status(invoices_for(actor))
        .filter(id__any=naming)
        .order_by("-issue_date", "-id")
    )


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
