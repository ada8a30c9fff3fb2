"""The GraphQL schema at /graphql. Resolvers are thin: they read through
`visibility.selectors` with the request's actor, so another tenant's shipment is null."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import strawberry
import strawberry_django
from django.db.models import Prefetch
from graphql import GraphQLError
from rest_framework.exceptions import ValidationError
from strawberry import auto
from strawberry.extensions import FieldExtension
from strawberry.scalars import JSON
from strawberry.types import Info
from strawberry_django.optimizer import DjangoOptimizerExtension

from accounts.authentication import actor_from_request
from portal.graphql.limits import LIMIT_EXTENSIONS
from visibility import changes as change_feed
from visibility import models, selectors
from visibility.access import visible_object
from visibility.api.changes import ChangesQuery, current_json
from visibility.api.filters import selector_arguments


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
    delivered_at: auto
    last_event_at: auto

    @strawberry_django.field(prefetch_related=["history"])
    def milestones(self, root: models.Shipment) -> list[MilestoneType]:
        return [
            fact for fact in root.history.all() if fact.kind == models.ShipmentEvent.Kind.MILESTONE
        ]

    eta_window_start: datetime | None
    eta_window_end: datetime | None
    eta_basis: auto

    @strawberry_django.field(prefetch_related=["history"])
    def eta_history(self, root: models.Shipment) -> list[EtaUpdateType]:
        return selectors.eta_history(root)

    @strawberry_django.field(prefetch_related=["order_links__order"])
    def orders(self, root: models.Shipment) -> list[ShipmentOrderType]:
        return [
            ShipmentOrderType(
                order_number=link.order.order_number,
                customer_po=link.order.customer_po,
                line_numbers=list(link.line_numbers),
            )
            for link in root.order_links.all()
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


def _nested_shipment_detail(index: int) -> Callable[[Info], Prefetch]:
    """The optimizer does not see through `OrderDetailType.shipments` (a resolver), so the
    nested shipments' details are prefetched by hints, for all orders of a list at once."""
    return lambda info: selectors.shipment_detail_prefetches(
        actor_from_request(info.context.request), "shipment_links__shipment__"
    )[index]


_NESTED_SHIPMENT_DETAILS = [_nested_shipment_detail(index) for index in range(3)]


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
    requested_delivery_date: date | None
    cancelled_at: auto
    lines: list[OrderLineType]

    @strawberry_django.field(
        prefetch_related=["shipment_links__shipment", *_NESTED_SHIPMENT_DETAILS]
    )
    def shipments(self, root: models.Order) -> list[ShipmentType]:
        return [link.shipment for link in root.shipment_links.all()]


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
    def of(cls, invoice: models.Invoice) -> InvoiceType:
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
            lines=list(invoice.lines.all()),
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
        return visible_object(actor_from_request(request), "shipment", shipment_id, request=request)

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
        return shipments[: max(0, min(first, MAX_LIST_SIZE))]

    @strawberry.field(extensions=[TextArguments()])
    def order(self, info: Info, order_number: str) -> OrderDetailType | None:
        request = info.context.request
        return visible_object(
            actor_from_request(request),
            "order",
            order_number,
            request=request,
            with_shipment_details=True,
        )

    @strawberry_django.field(extensions=[TextArguments()])
    def orders(
        self, info: Info, status: str | None = None, text: str | None = None, first: int = 50
    ) -> list[OrderDetailType]:
        """Newest activity first; `text` matches order number or PO; `first` ≤ 200."""
        orders = selectors.order_list(
            actor_from_request(info.context.request),
            statuses=[status] if status else (),
            text=text or "",
        )
        return orders[: max(0, min(first, MAX_LIST_SIZE))]

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
    def changes(self, info: Info, after: str = "0", first: int = 100) -> ChangePageType:
        """The change feed, as `GET /api/v1/changes` (docs/API.md); `after` is a position or
        `now`, `first` 1-1000."""
        actor = actor_from_request(info.context.request)
        try:
            arguments = selector_arguments(ChangesQuery, {"after": after, "limit": first})
        except ValidationError as error:
            name, messages = next(iter(error.detail.items()))
            raise GraphQLError(f"{'first' if name == 'limit' else name}: {messages[0]}") from None
        page = change_feed.change_page(actor, **arguments)
        return ChangePageType(
            changes=[
                ChangeType(
                    kind=entry.kind,
                    id=entry.key,
                    position=str(entry.position),
                    object=current_json(actor, entry),
                )
                for entry in page.entries
            ],
            next=str(page.next),
        )


schema = strawberry.Schema(query=Query, extensions=[*LIMIT_EXTENSIONS, DjangoOptimizerExtension])
