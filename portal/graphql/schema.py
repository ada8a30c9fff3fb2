"""The GraphQL schema at /graphql. Resolvers are thin: they read through
`visibility.selectors` with the request's actor, so another tenant's object is null and
lists leave it out.

Lists are relay-style connections (`portal/graphql/pagination.py`) filtered like REST,
by the same selectors with the same names (choices checked against the models').
Nested lists are prefetched for a whole page from what the query selects
(`portal/graphql/selection.py`, `selectors.shipment_part_prefetches`): one query per
nested list, whatever the page size."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, cast

import strawberry
import strawberry_django
from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from strawberry import auto
from strawberry.extensions import FieldExtension
from strawberry.scalars import JSON
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from accounts.authentication import actor_from_request
from accounts.scoping import Actor
from portal.graphql import nodes
from portal.graphql.audit import StaffReadEntryPoint
from portal.graphql.errors import bad_user_input, cursor_expired
from portal.graphql.filters import connection_ordering, filterset_of
from portal.graphql.limits import LIMIT_EXTENSIONS
from portal.graphql.nodes import ShipmentNode
from portal.graphql.pagination import DEFAULT_PAGE_SIZE, PageInfo, edges_of, page_of
from portal.graphql.selection import nodes_of, selected, shipment_parts
from visibility import changes as change_feed
from visibility import models, selectors
from visibility.access import visible_object
from visibility.api.changes import ChangesQuery, current_json, read_page
from visibility.api.filters import (
    DocumentFilterSet,
    ExceptionFilterSet,
    InvoiceFilterSet,
    OrderFilterSet,
    SelectorFilterSet,
    ShipmentFilterSet,
    selector_arguments,
)

# GraphQL argument -> FilterSet parameter, where a field kept its older name.
ORDER_RENAMES = {"text": "q"}
DOCUMENT_RENAMES = {
    "shipment_id": "shipment",
    "order_number": "order",
    "invoice_number": "invoice",
    "document_type": "kind",
}

# What the nested shipments of an order are read through (selectors.order_get/order_list).
ORDER_SHIPMENTS_PATH = f"{selectors.VISIBLE_SHIPMENT_LINKS}__shipment__"


def field_value(source: Any, name: str) -> Any:
    """A plain field's value: a row's key (portal/graphql/nodes.py) or an object's
    attribute, as graphql-core's default resolver reads either."""
    if type(source) is dict:
        return source[name]
    return getattr(source, name)


def _actor(info: Info) -> Actor:
    return actor_from_request(info.context.request)


def _listed(
    list_selector: Callable[..., QuerySet[Any]], actor: Actor, filters: SelectorFilterSet
) -> QuerySet[Any]:
    """The list selector's rows for the validated filters; an account the caller does not
    see is a `BAD_USER_INPUT` naming `account`, as REST's 400."""
    try:
        return list_selector(actor, **filters.selector_arguments())
    except selectors.InvisibleAccounts as error:
        raise bad_user_input(f"account: {error}", argument="account") from None


# The types a shipment node carries read their fields from rows (dicts: portal/graphql/
# nodes.py) through `field_value`, as plain fields: no resolver, no Info per value.
@strawberry.type
class MilestoneType:
    milestone: str
    carrier_status_code: str
    occurred_at: datetime
    location: JSON | None
    stop_sequence: int | None
    remarks: str
    received_by: str


@strawberry.type
class EtaUpdateType:
    occurred_at: datetime
    kind: str
    eta: datetime | None
    eta_window_start: datetime | None
    eta_window_end: datetime | None
    eta_basis: str
    reason_code: str
    reason_text: str


@strawberry.type
class StopType:
    sequence: int
    stop_type: str
    location: JSON | None
    planned_arrival: datetime | None


@strawberry.type
class ShipmentOrderType:
    order_number: str
    customer_po: str
    line_numbers: list[int]


@strawberry.type
class DocumentType:
    """A document's metadata, as the change feed's document objects; the file is at
    `/api/v1/documents/{documentId}` (documents grant)."""

    document_id: str
    document_type: str
    customer_account: str
    shipment_id: str | None
    order_number: str | None
    invoice_number: str | None
    filename: str
    content_type: str
    size: int
    sha256: str
    occurred_at: datetime

    @classmethod
    def of(cls, document: models.Document) -> DocumentType:
        return cls(
            document_id=document.document_id,
            document_type=document.document_type,
            customer_account=document.customer_account.number,
            shipment_id=document.shipment.shipment_id if document.shipment else None,
            order_number=document.order.order_number if document.order else None,
            invoice_number=document.invoice.invoice_number if document.invoice else None,
            filename=document.filename,
            content_type=document.content_type,
            size=document.size,
            sha256=document.sha256,
            occurred_at=document.occurred_at,
        )


@strawberry.type
class FreightChargeType:
    charge_id: str
    charge_type: str
    amount: str
    currency: str
    occurred_at: datetime


@strawberry.type
class ExceptionNoteType:
    text: str
    visible_to_customer: bool
    created_at: datetime


@strawberry.type
class ShipmentExceptionType:
    """An exception on a shipment: the reason in words, and the notes the actor may read."""

    id: int
    shipment_id: str
    reason: str
    reason_label: str
    status: str
    status_label: str
    opened_at: datetime
    notes: list[ExceptionNoteType]

    @classmethod
    def of(cls, record: models.ShipmentException) -> ShipmentExceptionType:
        return cls(
            id=record.id,
            shipment_id=record.shipment.shipment_id,
            reason=record.reason,
            reason_label=record.get_reason_display(),
            status=record.status,
            status_label=record.get_status_display(),
            opened_at=record.opened_at,
            notes=[
                ExceptionNoteType(
                    text=note.text,
                    visible_to_customer=note.visible_to_customer,
                    created_at=note.created_at,
                )
                for note in selectors.shown_notes(record)
            ],
        )


@strawberry.type
class ShipmentType:
    """Resolved from a shipment node (portal/graphql/nodes.py): a row with the nested
    lists the query selects, read for a whole page at once and scoped by the selectors."""

    shipment_id: str
    load_id: str
    status: str
    status_at: datetime | None
    carrier_scac: str
    carrier_name: str
    mode: str
    service_level: str
    tracking_numbers: list[str]
    origin: JSON | None
    destination: JSON | None
    planned_pickup_at: datetime | None
    planned_delivery_at: datetime | None
    eta: datetime | None
    eta_window_start: datetime | None
    eta_window_end: datetime | None
    eta_basis: str
    promised_date: date | None
    delayed: bool
    at_risk: bool
    overdue: bool
    late_by_hours: int | None
    tracking_stale: bool
    pod_missing: bool
    not_invoiced: bool
    last_heard_at: datetime | None
    last_heard_source: str
    delivered_at: datetime | None
    received_by: str
    last_event_at: datetime | None

    # Computed by portal/graphql/nodes.py (`shaped`), plain fields here: the first (by
    # number) of the shipment's accounts the caller sees; the status and the slip past the
    # promised date in words ("+1 day", empty when on time); every flag, most urgent
    # first; the nested lists, only the caller's orders (a consolidated shipment also
    # carries others') and charges (none without the finance grant).
    customer_account: str
    status_label: str
    late_by: str
    flags: list[str]
    milestones: list[MilestoneType]
    eta_history: list[EtaUpdateType]
    stops: list[StopType]
    orders: list[ShipmentOrderType]

    @strawberry.field
    def documents(self, root: ShipmentNode) -> list[DocumentType]:
        """The shipment's documents the caller may see (documents grant)."""
        return [DocumentType.of(document) for document in root[nodes.DOCUMENTS]]

    # A resolver, not a plain field, only to keep the schema's field order (strawberry
    # lists plain fields first).
    @strawberry.field
    def freight_charges(self, root: ShipmentNode) -> list[FreightChargeType]:
        return cast(list[FreightChargeType], root["freight_charges"])

    @strawberry.field
    def exceptions(self, root: ShipmentNode) -> list[ShipmentExceptionType]:
        """The open exceptions, oldest first, with the notes the caller may read."""
        return [ShipmentExceptionType.of(record) for record in root[nodes.EXCEPTIONS]]


@strawberry_django.type(models.OrderLine)
class OrderLineType:
    line_number: auto
    sku: auto
    description: auto
    quantity: str
    uom: auto
    weight_kg: str | None


@strawberry_django.type(models.InvoiceLine)
class InvoiceLineType:
    position: auto
    description: auto
    amount: str


@strawberry.type
class InvoiceType:
    """Built from a selector row that carries `derived_status` (open / paid / overdue)."""

    invoice_number: str
    customer_account: str
    status: str
    order_numbers: list[str]
    shipment_ids: list[str]
    issue_date: date | None
    due_date: date | None
    currency: str
    total_amount: str
    paid_at: datetime | None
    paid_amount: str | None
    lines: list[InvoiceLineType]

    @classmethod
    def of(cls, invoice: selectors.InvoiceWithStatus) -> InvoiceType:
        return cls(
            invoice_number=invoice.invoice_number,
            customer_account=invoice.customer_account.number,
            status=invoice.derived_status,
            order_numbers=list(invoice.order_numbers),
            shipment_ids=list(invoice.shipment_ids),
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            currency=invoice.currency,
            total_amount=str(invoice.total_amount),
            paid_at=invoice.paid_at,
            paid_amount=None if invoice.paid_amount is None else str(invoice.paid_amount),
            lines=cast(list[InvoiceLineType], list(invoice.lines.all())),
        )


@strawberry_django.type(models.Order)
class OrderDetailType:
    order_number: auto
    customer_po: auto
    order_date: date | None
    requested_delivery_date: date | None
    ship_from: JSON | None
    ship_to: JSON | None
    status: str
    at_risk: auto
    cancelled_at: auto
    cancel_reason: auto
    last_event_at: auto
    lines: list[OrderLineType]

    @strawberry.field
    def customer_account(self, root: models.Order) -> str:
        return root.customer_account.number

    @strawberry.field
    def shipments(self, root: models.Order, info: Info) -> list[ShipmentType]:
        """The shipments the caller sees, with what the query asks of them prefetched,
        scoped, for all the orders of the page at once."""
        actor = _actor(info)
        parts = shipment_parts(selected(info), annotated_account=False)
        return cast(
            list[ShipmentType],
            [
                nodes.shipment_node(actor, link.shipment, parts)
                for link in selectors.shipment_links_of_order(actor, root)
            ],
        )

    @strawberry.field
    def invoices(self, root: models.Order) -> list[InvoiceType]:
        """The order's invoices; empty without the finance grant."""
        return [InvoiceType.of(invoice) for invoice in selectors.invoices_of_order_prefetched(root)]


@strawberry.type
class ShipmentEdge:
    cursor: str
    node: ShipmentType


@strawberry.type
class ShipmentConnection:
    edges: list[ShipmentEdge]
    page_info: PageInfo


@strawberry.type
class OrderEdge:
    cursor: str
    node: OrderDetailType


@strawberry.type
class OrderConnection:
    edges: list[OrderEdge]
    page_info: PageInfo


@strawberry.type
class InvoiceEdge:
    cursor: str
    node: InvoiceType


@strawberry.type
class InvoiceConnection:
    edges: list[InvoiceEdge]
    page_info: PageInfo


@strawberry.type
class ShipmentExceptionEdge:
    cursor: str
    node: ShipmentExceptionType


@strawberry.type
class ShipmentExceptionConnection:
    edges: list[ShipmentExceptionEdge]
    page_info: PageInfo


@strawberry.type
class DocumentEdge:
    cursor: str
    node: DocumentType


@strawberry.type
class DocumentConnection:
    edges: list[DocumentEdge]
    page_info: PageInfo


@strawberry.type
class ChangeType:
    kind: str
    id: str
    # Positions are 64-bit: strings here (GraphQL's Int has 32 bits), integers in REST.
    position: str
    object: JSON


@strawberry.type
class ChangePageType:
    changes: list[ChangeType]
    next: str


class TextArguments(FieldExtension):
    """A string argument holding a NUL character is an error naming the argument, before
    any selector runs: PostgreSQL refuses NUL in text, and its message (and a failed
    query) is not an answer. Like REST, which answers 400 for the same value."""

    def resolve(self, next_: Callable[..., Any], source: Any, info: Info, **kwargs: Any) -> Any:
        for name, value in kwargs.items():
            values = value if isinstance(value, list) else [value]
            if any(isinstance(item, str) and "\x00" in item for item in values):
                raise bad_user_input(f"{name}: Null characters are not allowed.", argument=name)
        return next_(source, info, **kwargs)


def _order_nested_prefetches(actor: Actor, orders: list[models.Order], order: dict) -> None:
    """What the query asks of the orders' shipments and invoices, for all of them."""
    shipment = order.get("shipments")
    if shipment is not None:
        parts = shipment_parts(shipment, annotated_account=False)
        selectors.prefetch_shipment_parts(actor, orders, parts, ORDER_SHIPMENTS_PATH)
    if "invoices" in order:
        selectors.prefetch_order_invoices(actor, orders)


@strawberry.type
class Query:
    @strawberry.field(extensions=[TextArguments()])
    def shipment(self, info: Info, shipment_id: str) -> ShipmentType | None:
        """Null when the caller does not see it."""
        actor = _actor(info)
        shipment = visible_object(actor, "shipment", shipment_id, request=info.context.request)
        if shipment is None:
            return None
        # The detail selector prefetched its history, the caller's orders and charges.
        parts = shipment_parts(selected(info), annotated_account=True)
        selectors.prefetch_shipment_parts(
            actor, [shipment], parts - {"history", "orders", "charges"}
        )
        return cast(ShipmentType, nodes.shipment_node(actor, shipment, parts))

    @strawberry.field(extensions=[TextArguments()])
    def shipments(
        self,
        info: Info,
        q: str | None = None,
        status: list[str] | None = None,
        delayed: bool | None = None,
        late: bool | None = None,
        overdue: bool | None = None,
        at_risk: bool | None = None,
        exception_reason: list[str] | None = None,
        open_exception: bool | None = None,
        account: list[str] | None = None,
        carrier: str | None = None,
        carrier_scac: str | None = None,
        mode: str | None = None,
        load_id: str | None = None,
        origin_country: str | None = None,
        origin_city: str | None = None,
        destination_country: str | None = None,
        destination_city: str | None = None,
        origin: str | None = None,
        destination: str | None = None,
        reference: str | None = None,
        tracking_number: str | None = None,
        order_number: str | None = None,
        eta_after: datetime | None = None,
        eta_before: datetime | None = None,
        promised_after: date | None = None,
        promised_before: date | None = None,
        delivered_after: datetime | None = None,
        delivered_before: datetime | None = None,
        updated_after: datetime | None = None,
        updated_before: datetime | None = None,
        updated_since: datetime | None = None,
        documents_after: datetime | None = None,
        ordering: str | None = None,
        first: int = DEFAULT_PAGE_SIZE,
        after: str | None = None,
    ) -> ShipmentConnection:
        """Newest shipment first (by id, a key that never changes), or by `ordering`
        (`created`, `-created`, `shipment_id`, `-shipment_id`); `first` ≤ 200. The filters
        are REST's (`GET /api/v1/shipments`), validated by the same FilterSet; each left
        out does not filter; a list (`status`) is any of those given."""
        filters = filterset_of(ShipmentFilterSet, locals())
        actor = _actor(info)
        shipments = _listed(selectors.shipment_list, actor, filters)
        ordering_of_page = connection_ordering("shipments", filters)
        page = page_of(
            selectors.as_rows(shipments, nodes.SHIPMENT_NODE_COLUMNS),
            ordering_of_page,
            first=first,
            after=after,
        )
        nodes.listed_shipment_nodes(actor, page.rows, nodes_of(selected(info)))
        return ShipmentConnection(
            edges=edges_of(page, lambda row: row, ShipmentEdge), page_info=page.page_info
        )

    @strawberry.field(extensions=[TextArguments()])
    def order(self, info: Info, order_number: str) -> OrderDetailType | None:
        """Null when the caller does not see it."""
        actor = _actor(info)
        order = visible_object(actor, "order", order_number, request=info.context.request)
        if order is not None:
            _order_nested_prefetches(actor, [order], selected(info))
        return cast(OrderDetailType | None, order)

    @strawberry.field(extensions=[TextArguments()])
    def orders(
        self,
        info: Info,
        status: list[str] | None = None,
        at_risk: bool | None = None,
        account: list[str] | None = None,
        order_number: str | None = None,
        text: str | None = None,
        reference: str | None = None,
        shipment_id: str | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        requested_after: date | None = None,
        requested_before: date | None = None,
        updated_after: datetime | None = None,
        updated_before: datetime | None = None,
        updated_since: datetime | None = None,
        ordering: str | None = None,
        first: int = DEFAULT_PAGE_SIZE,
        after: str | None = None,
    ) -> OrderConnection:
        """Newest order first (by id), or by `ordering` (`created`, `-created`,
        `order_number`, `-order_number`); `text` is a part of the order number or customer
        PO (REST's `q`), the dates bound the order date; `first` ≤ 200. Validated by
        REST's FilterSet (`GET /api/v1/orders`)."""
        filters = filterset_of(OrderFilterSet, locals(), renames=ORDER_RENAMES)
        actor = _actor(info)
        node = nodes_of(selected(info))
        orders = _listed(selectors.order_list, actor, filters)
        if "lines" in node:
            orders = selectors.with_order_lines(orders)
        page = page_of(orders, connection_ordering("orders", filters), first=first, after=after)
        _order_nested_prefetches(actor, page.rows, node)
        return OrderConnection(
            edges=edges_of(page, lambda row: row, OrderEdge), page_info=page.page_info
        )

    @strawberry.field(extensions=[TextArguments()])
    def invoice(self, info: Info, invoice_number: str) -> InvoiceType | None:
        """Null without the invoices grant on its account."""
        invoice = visible_object(
            _actor(info), "invoice", invoice_number, request=info.context.request
        )
        return InvoiceType.of(invoice) if invoice else None

    @strawberry.field(extensions=[TextArguments()])
    def invoices(
        self,
        info: Info,
        status: str | None = None,
        account: list[str] | None = None,
        order_number: str | None = None,
        shipment_id: str | None = None,
        due_from: date | None = None,
        due_to: date | None = None,
        issued_after: date | None = None,
        issued_before: date | None = None,
        updated_after: datetime | None = None,
        updated_before: datetime | None = None,
        updated_since: datetime | None = None,
        ordering: str | None = None,
        first: int = DEFAULT_PAGE_SIZE,
        after: str | None = None,
    ) -> InvoiceConnection:
        """Newest invoice first (by id), or by `ordering` (`created`, `-created`,
        `invoice_number`, `-invoice_number`); `status`: open, paid or overdue; `first` ≤
        200. Validated by REST's FilterSet (`GET /api/v1/invoices`)."""
        filters = filterset_of(InvoiceFilterSet, locals())
        invoices = _listed(selectors.invoice_list, _actor(info), filters)
        ordering_of_page = connection_ordering("invoices", filters)
        page = page_of(invoices, ordering_of_page, first=first, after=after)
        return InvoiceConnection(
            edges=edges_of(page, InvoiceType.of, InvoiceEdge), page_info=page.page_info
        )

    @strawberry.field(extensions=[TextArguments()])
    def exceptions(
        self,
        info: Info,
        reason: list[str] | None = None,
        status: list[str] | None = None,
        shipment_id: str | None = None,
        opened_after: datetime | None = None,
        opened_before: datetime | None = None,
        first: int = DEFAULT_PAGE_SIZE,
        after: str | None = None,
    ) -> ShipmentExceptionConnection:
        """Unresolved exceptions, oldest first (by the time opened, then id). Validated by
        REST's FilterSet (`GET /api/v1/exceptions`)."""
        filters = filterset_of(ExceptionFilterSet, locals())
        records = _listed(selectors.open_exceptions, _actor(info), filters)
        ordering_of_page = connection_ordering("exceptions", filters)
        page = page_of(records, ordering_of_page, first=first, after=after)
        return ShipmentExceptionConnection(
            edges=edges_of(page, ShipmentExceptionType.of, ShipmentExceptionEdge),
            page_info=page.page_info,
        )

    @strawberry.field(extensions=[TextArguments()])
    def document(self, info: Info, document_id: str) -> DocumentType | None:
        """Null without the documents grant."""
        document = visible_object(
            _actor(info), "document", document_id, request=info.context.request
        )
        return DocumentType.of(document) if document else None

    @strawberry.field(extensions=[TextArguments()])
    def documents(
        self,
        info: Info,
        shipment_id: str | None = None,
        order_number: str | None = None,
        invoice_number: str | None = None,
        document_type: list[str] | None = None,
        updated_since: datetime | None = None,
        first: int = DEFAULT_PAGE_SIZE,
        after: str | None = None,
    ) -> DocumentConnection:
        """Newest document first (by id), filed under a shipment, order or invoice; the
        documents grant. Validated by REST's FilterSet (`GET /api/v1/documents`)."""
        filters = filterset_of(DocumentFilterSet, locals(), renames=DOCUMENT_RENAMES)
        documents = _listed(selectors.document_list, _actor(info), filters)
        ordering_of_page = connection_ordering("documents", filters)
        page = page_of(documents, ordering_of_page, first=first, after=after)
        return DocumentConnection(
            edges=edges_of(page, DocumentType.of, DocumentEdge), page_info=page.page_info
        )

    @strawberry.field(extensions=[TextArguments()])
    def changes(self, info: Info, after: str = "0", first: int = 100) -> ChangePageType:
        """The change feed, as `GET /api/v1/changes` (docs/API.md); `after` is a position or
        `now`, `first` 1-1000."""
        actor = _actor(info)
        try:
            arguments = selector_arguments(ChangesQuery, {"after": after, "limit": first})
        except ValidationError as error:
            detail = cast(dict[str, list[str]], error.detail)
            name, messages = next(iter(detail.items()))
            argument = "first" if name == "limit" else name
            raise bad_user_input(f"{argument}: {messages[0]}", argument=argument) from None
        try:
            page = read_page(actor, **arguments)
        except change_feed.CursorExpired as expired:
            raise cursor_expired(expired.pruned_through) from None
        return ChangePageType(
            changes=[
                ChangeType(
                    kind=entry.kind,
                    id=entry.key,
                    position=str(entry.position),
                    object=cast(JSON, current_json(entry)),
                )
                for entry in page.entries
            ],
            next=str(page.next),
        )


schema = strawberry.Schema(
    query=Query,
    extensions=[*LIMIT_EXTENSIONS, StaffReadEntryPoint],
    config=StrawberryConfig(default_resolver=field_value),
)
