"""The GraphQL schema at /graphql. Resolvers are thin: they read through
`visibility.selectors` with the request's actor, so another tenant's shipment is null."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, cast

import strawberry
import strawberry_django
from graphql import GraphQLError
from rest_framework.exceptions import ValidationError
from strawberry import auto
from strawberry.extensions import FieldExtension
from strawberry.scalars import JSON
from strawberry.types import Info
from strawberry_django.optimizer import DjangoOptimizerExtension

from accounts.authentication import actor_from_request
from accounts.scoping import Actor
from portal.graphql.audit import StaffReadEntryPoint
from portal.graphql.limits import LIMIT_EXTENSIONS
from visibility import changes as change_feed
from visibility import models, selectors
from visibility.access import visible_object
from visibility.api.changes import ChangesQuery, current_json
from visibility.api.filters import selector_arguments
from visibility.flags import FLAG_FIELDS


@strawberry_django.type(models.ShipmentEvent)
class MilestoneType:
    milestone: auto
    carrier_status_code: auto
    occurred_at: auto
    location: JSON | None
    remarks: auto
    received_by: auto


@strawberry_django.type(models.ShipmentEvent)
class EtaUpdateType:
    occurred_at: auto
    kind: str
    eta: datetime | None
    eta_window_start: datetime | None
    eta_window_end: datetime | None
    eta_basis: auto
    reason_code: auto
    reason_text: auto


@strawberry.type
class ShipmentOrderType:
    order_number: str
    customer_po: str
    line_numbers: list[int]


@strawberry.type
class DocumentType:
    document_id: str
    document_type: str
    filename: str
    size: int
    occurred_at: datetime


def _actor(info: Info) -> Actor:
    return actor_from_request(info.context.request)


@strawberry.type
class FreightChargeType:
    charge_id: str
    charge_type: str
    amount: str
    currency: str
    occurred_at: datetime


@strawberry_django.type(models.Shipment)
class ShipmentType:
    shipment_id: auto
    load_id: auto
    status: str
    carrier_scac: auto
    carrier_name: auto
    mode: str
    tracking_numbers: list[str]
    eta: datetime | None
    promised_date: date | None
    delayed: auto
    at_risk: auto
    overdue: auto
    late_by_hours: auto
    tracking_stale: auto
    pod_missing: auto
    not_invoiced: auto
    last_heard_at: auto
    last_heard_source: auto
    delivered_at: auto
    last_event_at: auto

    @strawberry_django.field(only=["late_by_hours"])
    def late_by(self, root: models.Shipment) -> str:
        """The slip past the promised date in words ("+1 day"); empty when on time."""
        return root.late_by

    @strawberry_django.field(only=list(FLAG_FIELDS))
    def flags(self, root: models.Shipment) -> list[str]:
        """Every flag the shipment carries, in words, most urgent first."""
        return root.flags

    @strawberry_django.field(prefetch_related=["history"])
    def milestones(self, root: models.Shipment) -> list[MilestoneType]:
        facts = root.history.all()
        milestones = [fact for fact in facts if fact.kind == models.ShipmentEvent.Kind.MILESTONE]
        return cast(list[MilestoneType], milestones)

    eta_window_start: datetime | None
    eta_window_end: datetime | None
    eta_basis: auto

    @strawberry_django.field(prefetch_related=["history"])
    def eta_history(self, root: models.Shipment) -> list[EtaUpdateType]:
        return cast(list[EtaUpdateType], selectors.eta_history(root))

    @strawberry_django.field(
        prefetch_related=[
            lambda info: selectors.visible_order_links_prefetch(_actor(info)),
        ]
    )
    def orders(self, root: models.Shipment, info: Info) -> list[ShipmentOrderType]:
        """Only the actor's orders: a consolidated shipment also carries others'."""
        return [
            ShipmentOrderType(
                order_number=link.order.order_number,
                customer_po=link.order.customer_po,
                line_numbers=list(link.line_numbers),
            )
            for link in selectors.order_links_of_shipment(_actor(info), root)
        ]

    @strawberry_django.field(
        prefetch_related=[lambda info: selectors.visible_documents_prefetch(_actor(info))]
    )
    def documents(self, root: models.Shipment, info: Info) -> list[DocumentType]:
        """The shipment's documents the actor may see (documents entitlement)."""
        return [
            DocumentType(
                document_id=document.document_id,
                document_type=document.document_type,
                filename=document.filename,
                size=document.size,
                occurred_at=document.occurred_at,
            )
            for document in selectors.documents_of_shipment(_actor(info), root)
        ]

    @strawberry_django.field(
        prefetch_related=[
            lambda info: selectors.visible_charges_prefetch(
                actor_from_request(info.context.request)
            )
        ]
    )
    def freight_charges(self, root: models.Shipment, info: Info) -> list[FreightChargeType]:
        """Empty without the finance grant for the shipment's account (prefetched)."""
        return [
            FreightChargeType(
                charge_id=charge.charge_id,
                charge_type=charge.charge_type,
                amount=str(charge.amount),
                currency=charge.currency,
                occurred_at=charge.occurred_at,
            )
            for charge in selectors.charges_of_shipment(
                actor_from_request(info.context.request), root
            )
        ]


@strawberry_django.type(models.OrderLine)
class OrderLineType:
    line_number: auto
    sku: auto
    description: auto
    quantity: str
    uom: auto


@strawberry_django.type(models.Order)
class OrderDetailType:
    order_number: auto
    customer_po: auto
    status: str
    at_risk: auto
    requested_delivery_date: date | None
    cancelled_at: auto
    lines: list[OrderLineType]

    @strawberry_django.field
    def shipments(self, root: models.Order, info: Info) -> list[ShipmentType]:
        """The shipments the actor sees, with their details prefetched, scoped, by the
        selector that read the order (`order_get` / `order_list`)."""
        return cast(
            list[ShipmentType],
            [link.shipment for link in selectors.shipment_links_of_order(_actor(info), root)],
        )


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
            lines=cast(list[InvoiceLineType], list(invoice.lines.all())),
        )


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


MAX_LIST_SIZE = 200


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
            if isinstance(value, str) and "\x00" in value:
                raise GraphQLError(f"{name}: Null characters are not allowed.")
        return next_(source, info, **kwargs)


@strawberry.type
class Query:
    @strawberry.field(extensions=[TextArguments()])
    def shipment(self, info: Info, shipment_id: str) -> ShipmentType | None:
        request = info.context.request
        shipment = visible_object(
            actor_from_request(request), "shipment", shipment_id, request=request
        )
        return cast(ShipmentType | None, shipment)

    @strawberry_django.field(extensions=[TextArguments()])
    def shipments(
        self, info: Info, status: str | None = None, delayed: bool | None = None, first: int = 50
    ) -> list[ShipmentType]:
        """Newest first; `first` is capped at 200."""
        shipments = selectors.shipment_list(
            actor_from_request(info.context.request),
            statuses=[status] if status is not None else (),
            delayed=delayed,
        )
        return cast(list[ShipmentType], shipments[: max(0, min(first, MAX_LIST_SIZE))])

    @strawberry.field(extensions=[TextArguments()])
    def order(self, info: Info, order_number: str) -> OrderDetailType | None:
        request = info.context.request
        order = visible_object(
            actor_from_request(request),
            "order",
            order_number,
            request=request,
            with_shipment_details=True,
        )
        return cast(OrderDetailType | None, order)

    @strawberry_django.field(extensions=[TextArguments()])
    def orders(
        self, info: Info, status: str | None = None, text: str | None = None, first: int = 50
    ) -> list[OrderDetailType]:
        """Newest activity first; `text` matches order number or PO; `first` ≤ 200."""
        orders = selectors.order_list(
            actor_from_request(info.context.request),
            statuses=[status] if status else (),
            text=text or "",
            with_shipment_details=True,
        )
        return cast(list[OrderDetailType], orders[: max(0, min(first, MAX_LIST_SIZE))])

    @strawberry.field(extensions=[TextArguments()])
    def invoice(self, info: Info, invoice_number: str) -> InvoiceType | None:
        request = info.context.request
        invoice = visible_object(
            actor_from_request(request), "invoice", invoice_number, request=request
        )
        return InvoiceType.of(invoice) if invoice else None

    @strawberry.field(extensions=[TextArguments()])
    def invoices(
        self,
        info: Info,
        status: str | None = None,
        due_from: date | None = None,
        due_to: date | None = None,
        first: int = 50,
    ) -> list[InvoiceType]:
        """Newest first; `first` is capped at 200. `status`: open, paid or overdue."""
        invoices = selectors.invoice_list(
            actor_from_request(info.context.request),
            status=status or "",
            due_from=due_from,
            due_to=due_to,
        )
        return [
            InvoiceType.of(invoice) for invoice in invoices[: max(0, min(first, MAX_LIST_SIZE))]
        ]

    @strawberry.field(extensions=[TextArguments()])
    def exceptions(
        self, info: Info, shipment_id: str | None = None, first: int = 50
    ) -> list[ShipmentExceptionType]:
        """Unresolved exceptions, oldest first (of one shipment if `shipment_id`); ≤ 200."""
        records = selectors.open_exceptions(
            actor_from_request(info.context.request), shipment_id=shipment_id or ""
        )
        return [
            ShipmentExceptionType.of(record)
            for record in records[: max(0, min(first, MAX_LIST_SIZE))]
        ]

    @strawberry.field(extensions=[TextArguments()])
    def changes(self, info: Info, after: str = "0", first: int = 100) -> ChangePageType:
        """The change feed, as `GET /api/v1/changes` (docs/API.md); `after` is a position or
        `now`, `first` 1-1000."""
        actor = actor_from_request(info.context.request)
        try:
            arguments = selector_arguments(ChangesQuery, {"after": after, "limit": first})
        except ValidationError as error:
            detail = cast(dict[str, list[str]], error.detail)
            name, messages = next(iter(detail.items()))
            raise GraphQLError(f"{'first' if name == 'limit' else name}: {messages[0]}") from None
        page = change_feed.change_page(actor, **arguments)
        return ChangePageType(
            changes=[
                ChangeType(
                    kind=entry.kind,
                    id=entry.key,
                    position=str(entry.position),
                    object=cast(JSON, current_json(actor, entry)),
                )
                for entry in page.entries
            ],
            next=str(page.next),
        )


schema = strawberry.Schema(
    query=Query, extensions=[*LIMIT_EXTENSIONS, StaffReadEntryPoint, DjangoOptimizerExtension]
)
