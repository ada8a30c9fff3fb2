"""Test data: personas, read models and contract events, built the way the portal builds them.

Personas go through `accounts.services` (so memberships, guardian grants and staff
profiles hold together). Read models are rows the projection would have written:
snapshots get their search references through `visibility.services.references`, and
shipments and orders are re-derived (status, ETA, delayed...) after every fact added.
Events are contract v1 dicts, to send through intake when a test is about projection.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from factory.django import DjangoModelFactory

from accounts.models import ApiToken, CustomerAccount, Role, SourceSystem, Tenant
from accounts.services import api_token_create, source_create, tenant_create_or_update, user_create
from visibility.models import (
    Document,
    FreightCharge,
    Invoice,
    InvoiceLine,
    Milestone,
    Order,
    OrderLine,
    Reference,
    Shipment,
    ShipmentEvent,
    ShipmentOrder,
    ShipmentStop,
    TransportMode,
)
from visibility.services.derivation import derive_orders, derive_shipments
from visibility.services.references import (
    normalize_reference,
    references_add,
    references_replace,
    shipment_references,
)

PASSWORD = "correct-horse-battery-staple-42"
EPOCH = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)


# --- personas ----------------------------------------------------------------------------------


class TenantFactory(factory.Factory):
    """A tenant owning `account_numbers` (`tenant_create_or_update`)."""

    class Meta:
        model = Tenant

    slug = factory.Sequence(lambda n: f"tenant-{n}")
    name = factory.LazyAttribute(lambda tenant: tenant.slug.replace("-", " ").title())
    account_numbers = factory.Sequence(lambda n: [f"T-{n:04d}"])

    @classmethod
    def _create(cls, model_class: type[Tenant], **kwargs: Any) -> Tenant:
        return tenant_create_or_update(**kwargs)


class CustomerAccountFactory(factory.Factory):
    """An ERP account assigned to a tenant (a new one unless given)."""

    class Meta:
        model = CustomerAccount

    number = factory.Sequence(lambda n: f"A-{n:05d}")
    tenant = factory.SubFactory(TenantFactory, account_numbers=[])

    @classmethod
    def _create(cls, model_class: type[CustomerAccount], **kwargs: Any) -> CustomerAccount:
        tenant = kwargs["tenant"]
        tenant_create_or_update(
            slug=tenant.slug, name=tenant.name, account_numbers=[kwargs["number"]]
        )
        return CustomerAccount.objects.get(number=kwargs["number"])


def account(number: str) -> CustomerAccount:
    """An account some tenant fixture already assigned (`brenner` owns C-1001 and C-1002)."""
    return CustomerAccount.objects.get(number=number)


class UserFactory(factory.Factory):
    """A user through `user_create`: pass `tenant` (and `role`, `account_numbers`, `finance`)
    for a member, `staff_tenants`/`staff_all_tenants` for staff, `platform_admin=True`."""

    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user-{n}")
    password = PASSWORD
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")

    @classmethod
    def _create(cls, model_class: type[User], **kwargs: Any) -> User:
        return user_create(**kwargs)


class MemberFactory(UserFactory):
    tenant = factory.SubFactory(TenantFactory)
    role = Role.MEMBER


class TenantAdminFactory(MemberFactory):
    role = Role.TENANT_ADMIN


class StaffFactory(UserFactory):
    """Customer-service staff serving every tenant unless `staff_tenants` is given."""

    staff_all_tenants = factory.LazyAttribute(lambda staff: not staff.staff_tenants)
    staff_tenants = None


class ApiTokenFactory(factory.Factory):
    """A partner token (`api_token_create`); its secret, shown once, is `token.secret`."""

    class Meta:
        model = ApiToken

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"token {n}")

    @classmethod
    def _create(cls, model_class: type[ApiToken], **kwargs: Any) -> ApiToken:
        token, secret = api_token_create(**kwargs)
        token.secret = secret  # type: ignore[attr-defined]
        return token


class SourceFactory(factory.Factory):
    """A source system (`source_create`); its intake token is `source.secret`."""

    class Meta:
        model = SourceSystem

    key = factory.Sequence(lambda n: f"source-{n}")
    role = "tms"

    @classmethod
    def _create(cls, model_class: type[SourceSystem], **kwargs: Any) -> SourceSystem:
        source, secret = source_create(**kwargs)
        source.secret = secret  # type: ignore[attr-defined]
        return source


# --- read models -------------------------------------------------------------------------------


def derive(*, shipments: Sequence[Shipment] = (), orders: Sequence[Order] = ()) -> None:
    """Re-derive as projection does after a batch: shipments, then the orders they touch."""
    derivation = derive_shipments([shipment.pk for shipment in shipments])
    derive_orders(derivation.order_ids | {order.pk for order in orders})
    for row in [*shipments, *orders]:
        row.refresh_from_db()


class OrderFactory(DjangoModelFactory):
    """An order with one line; its references are indexed and its status derived."""

    class Meta:
        model = Order
        skip_postgeneration_save = True

    order_number = factory.Sequence(lambda n: f"SO-F{n:05d}")
    customer_account = factory.SubFactory(CustomerAccountFactory)
    customer_po = factory.Sequence(lambda n: f"PO-F{n:05d}")
    order_date = factory.LazyFunction(lambda: EPOCH.date())
    requested_delivery_date = factory.LazyAttribute(
        lambda order: order.order_date + timedelta(days=4)
    )
    ship_to = factory.LazyFunction(lambda: {"city": "Munich", "country": "DE"})
    snapshot_sequence = 1
    snapshot_occurred_at = EPOCH
    snapshot_event_key = factory.LazyAttribute(lambda order: f"erp:{order.order_number}")

    @factory.post_generation
    def lines(order: Order, create: bool, extracted: int | None, **kwargs: Any) -> None:
        """`lines=N` order lines (one by default)."""
        if create:
            for number in range(1, (1 if extracted is None else extracted) + 1):
                OrderLineFactory(order=order, line_number=number * 10)

    @factory.post_generation
    def indexed(order: Order, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            references_replace(
                [
                    (
                        order,
                        [
                            (Reference.ReferenceType.ORDER_NUMBER, order.order_number),
                            (Reference.ReferenceType.CUSTOMER_PO, order.customer_po),
                        ],
                    )
                ]
            )
            derive(orders=[order])


class OrderLineFactory(DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory, lines=0)
    line_number = factory.Sequence(lambda n: (n + 1) * 10)
    sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    description = "Cordless drill 18V"
    quantity = Decimal("4.000")
    uom = "EA"


class ShipmentFactory(DjangoModelFactory):
    """A shipment carrying `orders` (one new order of its account by default), with a
    pick-up and a delivery stop; `milestones=[...]` and `delayed_by=timedelta` add facts.
    Its references are indexed and it is derived as projection derives it."""

    class Meta:
        model = Shipment
        skip_postgeneration_save = True

    shipment_id = factory.Sequence(lambda n: f"SHP-F{n:05d}")
    customer_account = factory.SubFactory(CustomerAccountFactory)
    load_id = factory.Sequence(lambda n: f"LD-F{n:05d}")
    carrier_scac = "DHLF"
    carrier_name = "DHL Freight"
    mode = TransportMode.LTL
    tracking_numbers = factory.Sequence(lambda n: [f"JJD{n:010d}"])
    origin = factory.LazyFunction(lambda: {"city": "Rotterdam", "country": "NL"})
    destination = factory.LazyFunction(lambda: {"city": "Munich", "country": "DE"})
    planned_pickup_at = factory.LazyFunction(lambda: EPOCH + timedelta(days=1))
    planned_delivery_at = factory.LazyFunction(lambda: EPOCH + timedelta(days=3))
    snapshot_sequence = 1
    snapshot_occurred_at = factory.LazyFunction(lambda: EPOCH + timedelta(hours=6))
    snapshot_event_key = factory.LazyAttribute(lambda shipment: f"tms:{shipment.shipment_id}")
    carrier_occurred_at = factory.SelfAttribute("snapshot_occurred_at")
    carrier_event_key = factory.SelfAttribute("snapshot_event_key")

    @factory.post_generation
    def orders(shipment: Shipment, create: bool, extracted: list[Order] | None, **kwargs: Any):
        if not create:
            return
        orders = (
            extracted
            if extracted is not None
            else [OrderFactory(customer_account=shipment.customer_account)]
        )
        for order in orders:
            ShipmentOrderFactory(shipment=shipment, order=order)

    @factory.post_generation
    def stops(shipment: Shipment, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted is not False:
            ShipmentStopFactory(
                shipment=shipment, sequence=1, stop_type="pickup", location=shipment.origin
            )
            ShipmentStopFactory(
                shipment=shipment, sequence=2, stop_type="delivery", location=shipment.destination
            )

    @factory.post_generation
    def milestones(shipment: Shipment, create: bool, extracted: list[str] | None, **kwargs: Any):
        """Milestones eight hours apart from the planned pick-up on."""
        if not create:
            return
        for step, milestone in enumerate(extracted or []):
            ShipmentEvent.objects.create(
                shipment=shipment,
                event_key=f"tms:{shipment.shipment_id}-m{step}",
                kind=ShipmentEvent.Kind.MILESTONE,
                occurred_at=shipment.planned_pickup_at + timedelta(hours=8 * step),
                milestone=milestone,
            )

    @factory.post_generation
    def delayed_by(shipment: Shipment, create: bool, extracted: timedelta | None, **kwargs: Any):
        """A reported delay pushing the ETA this far past the planned delivery."""
        if create and extracted:
            ShipmentEvent.objects.create(
                shipment=shipment,
                event_key=f"tms:{shipment.shipment_id}-delay",
                kind=ShipmentEvent.Kind.DELAY,
                occurred_at=shipment.planned_pickup_at + timedelta(hours=3),
                reason_code="AO",
                reason_text="Weather",
                eta=shipment.planned_delivery_at + extracted,
            )

    @factory.post_generation
    def indexed(shipment: Shipment, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            references_replace([(shipment, shipment_references(shipment))])
            derive(shipments=[shipment])


class ShipmentOrderFactory(DjangoModelFactory):
    class Meta:
        model = ShipmentOrder

    shipment = factory.SubFactory(ShipmentFactory, orders=[])
    order = factory.SubFactory(
        OrderFactory, customer_account=factory.SelfAttribute("..shipment.customer_account")
    )
    line_numbers = factory.LazyAttribute(
        lambda link: list(link.order.lines.values_list("line_number", flat=True))
    )


class ShipmentStopFactory(DjangoModelFactory):
    class Meta:
        model = ShipmentStop

    shipment = factory.SubFactory(ShipmentFactory, stops=False)
    sequence = factory.Sequence(lambda n: n + 1)
    stop_type = "pickup"
    location = factory.LazyFunction(lambda: {"city": "Rotterdam", "country": "NL"})


class HistoryFactFactory(DjangoModelFactory):
    """A fact on a shipment's history (a milestone by default); the shipment is re-derived."""

    class Meta:
        model = ShipmentEvent
        skip_postgeneration_save = True

    shipment = factory.SubFactory(ShipmentFactory)
    event_key = factory.Sequence(lambda n: f"tms:fact-{n}")
    kind = ShipmentEvent.Kind.MILESTONE
    occurred_at = factory.LazyAttribute(lambda fact: fact.shipment.planned_pickup_at)
    milestone = Milestone.PICKED_UP

    @factory.post_generation
    def derived(fact: ShipmentEvent, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            derive(shipments=[fact.shipment])


MilestoneFactory = HistoryFactFactory


class InvoiceFactory(DjangoModelFactory):
    """An open invoice with one line, indexed by its number."""

    class Meta:
        model = Invoice
        skip_postgeneration_save = True

    invoice_number = factory.Sequence(lambda n: f"INV-F{n:06d}")
    customer_account = factory.SubFactory(CustomerAccountFactory)
    issue_date = factory.LazyFunction(lambda: EPOCH.date())
    due_date = factory.LazyAttribute(lambda invoice: invoice.issue_date + timedelta(days=30))
    currency = "EUR"
    total_amount = Decimal("350.00")
    snapshot_sequence = 1
    snapshot_occurred_at = EPOCH
    snapshot_event_key = factory.LazyAttribute(lambda invoice: f"erp:{invoice.invoice_number}")

    @factory.post_generation
    def lines(invoice: Invoice, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted is not False:
            InvoiceLineFactory(invoice=invoice, position=1, amount=invoice.total_amount)

    @factory.post_generation
    def indexed(invoice: Invoice, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            references_replace(
                [(invoice, [(Reference.ReferenceType.INVOICE_NUMBER, invoice.invoice_number)])]
            )


class InvoiceLineFactory(DjangoModelFactory):
    class Meta:
        model = InvoiceLine

    invoice = factory.SubFactory(InvoiceFactory, lines=False)
    position = factory.Sequence(lambda n: n + 1)
    description = "Freight"
    amount = Decimal("350.00")


class FreightChargeFactory(DjangoModelFactory):
    class Meta:
        model = FreightCharge

    charge_id = factory.Sequence(lambda n: f"CHG-F{n:06d}")
    shipment = factory.SubFactory(ShipmentFactory)
    charge_type = "linehaul"
    amount = Decimal("612.40")
    currency = "EUR"
    occurred_at = factory.LazyAttribute(lambda charge: charge.shipment.planned_delivery_at)
    event_key = factory.LazyAttribute(lambda charge: f"tms:{charge.charge_id}")
    customer_account = None  # untagged: the account of a single-account shipment


class DocumentFactory(DjangoModelFactory):
    """A proof of delivery of a shipment, stored in Django's storage and indexed by its id."""

    class Meta:
        model = Document
        skip_postgeneration_save = True

    class Params:
        content = b"%PDF-1.4\n% proof of delivery\n"

    document_id = factory.Sequence(lambda n: f"DOC-F{n:06d}")
    document_type = Document.DocumentType.POD
    shipment = factory.SubFactory(ShipmentFactory)
    customer_account = factory.LazyAttribute(
        lambda document: (document.shipment or document.order or document.invoice).customer_account
    )
    order = None
    invoice = None
    filename = factory.LazyAttribute(lambda document: f"{document.document_id}.pdf")
    content_type = "application/pdf"
    file = factory.LazyAttribute(
        lambda document: ContentFile(document.content, name=document.filename)
    )
    size = factory.LazyAttribute(lambda document: len(document.content))
    sha256 = factory.LazyAttribute(lambda document: hashlib.sha256(document.content).hexdigest())
    occurred_at = factory.LazyFunction(lambda: EPOCH + timedelta(days=4))
    event_key = factory.LazyAttribute(lambda document: f"tms:{document.document_id}")

    @factory.post_generation
    def indexed(document: Document, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            owner = document.shipment or document.order or document.invoice
            references_add([(owner, [(Reference.ReferenceType.DOCUMENT_ID, document.document_id)])])
            if document.shipment is not None:
                derive(shipments=[document.shipment])  # its id, for each account of the shipment


class ReferenceFactory(DjangoModelFactory):
    """An extra search reference of a shipment (snapshots index their own)."""

    class Meta:
        model = Reference

    shipment = factory.SubFactory(ShipmentFactory)
    customer_account = factory.SelfAttribute("shipment.customer_account")
    kind = Reference.Kind.SHIPMENT
    object_key = factory.SelfAttribute("shipment.shipment_id")
    reference_type = Reference.ReferenceType.TRACKING_NUMBER
    value = factory.Sequence(lambda n: f"1Z{n:010d}")
    normalized = factory.LazyAttribute(lambda reference: normalize_reference(reference.value))


# --- contract events ---------------------------------------------------------------------------


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class EventFactory(factory.DictFactory):
    """A contract v1 event; subclasses fill `event_type`, `source` and `data`."""

    spec_version = "1.0"
    event_id = factory.Sequence(lambda n: f"evt-{n:07d}")
    occurred_at = stamp(EPOCH)


class OrderReleasedEventFactory(EventFactory):
    class Params:
        order_number = factory.Sequence(lambda n: f"SO-E{n:05d}")
        account = "C-1001"
        requested = factory.LazyFunction(lambda: (EPOCH + timedelta(days=4)).date().isoformat())

    event_type = "order.released"
    source = "erp"
    sequence = 1
    data = factory.LazyAttribute(
        lambda event: {
            "order_number": event.order_number,
            "customer_account": event.account,
            "customer_po": f"PO-{event.order_number}",
            "order_date": event.occurred_at[:10],
            "requested_delivery_date": event.requested,
            "ship_to": {"city": "Munich", "country": "DE"},
            "lines": [{"line_number": 10, "sku": "DRL-18V", "quantity": 4, "uom": "EA"}],
        }
    )


class ShipmentCreatedEventFactory(EventFactory):
    class Params:
        shipment_id = factory.Sequence(lambda n: f"SHP-E{n:05d}")
        order_numbers = ("SO-100045",)
        planned_delivery_at = factory.LazyFunction(lambda: stamp(EPOCH + timedelta(days=3)))

    event_type = "shipment.created"
    source = "tms"
    sequence = 1
    data = factory.LazyAttribute(
        lambda event: {
            "shipment_id": event.shipment_id,
            "load_id": f"LD-{event.shipment_id}",
            "orders": [
                {"order_number": number, "line_numbers": [10]} for number in event.order_numbers
            ],
            "carrier": {"scac": "DHLF", "name": "DHL Freight"},
            "mode": "ltl",
            "tracking_numbers": [f"TRK-{event.shipment_id}"],
            "origin": {"city": "Rotterdam", "country": "NL"},
            "destination": {"city": "Munich", "country": "DE"},
            "planned_delivery_at": event.planned_delivery_at,
        }
    )


class MilestoneEventFactory(EventFactory):
    class Params:
        shipment_id = "SHP-778120"
        milestone = "picked_up"

    event_type = "shipment.milestone"
    source = "tms"
    data = factory.LazyAttribute(
        lambda event: {
            "shipment_id": event.shipment_id,
            "milestone": event.milestone,
            "location": {"city": "Rotterdam", "country": "NL"},
        }
    )


class DelayEventFactory(EventFactory):
    class Params:
        shipment_id = "SHP-778120"
        new_eta = factory.LazyFunction(lambda: stamp(EPOCH + timedelta(days=5)))

    event_type = "shipment.delayed"
    source = "tms"
    data = factory.LazyAttribute(
        lambda event: {
            "shipment_id": event.shipment_id,
            "reason_code": "AO",
            "reason_text": "Weather",
            "new_eta": event.new_eta,
        }
    )


class FreightChargeEventFactory(EventFactory):
    class Params:
        shipment_id = "SHP-778120"
        charge_id = factory.Sequence(lambda n: f"CHG-E{n:06d}")

    event_type = "freight.charge_posted"
    source = "tms"
    data = factory.LazyAttribute(
        lambda event: {
            "shipment_id": event.shipment_id,
            "charge_id": event.charge_id,
            "charge_type": "linehaul",
            "amount": "612.40",
            "currency": "EUR",
        }
    )


class DocumentEventFactory(EventFactory):
    class Params:
        shipment_id = "SHP-778120"
        document_id = factory.Sequence(lambda n: f"DOC-E{n:06d}")

    event_type = "document.available"
    source = "tms"
    data = factory.LazyAttribute(
        lambda event: {
            "document_id": event.document_id,
            "document_type": "pod",
            "shipment_id": event.shipment_id,
            "filename": f"{event.document_id}.pdf",
            "content_type": "application/pdf",
            "content_base64": base64.b64encode(f"%PDF-1.4 {event.document_id}".encode()).decode(),
        }
    )


class InvoicePostedEventFactory(EventFactory):
    class Params:
        invoice_number = factory.Sequence(lambda n: f"INV-E{n:06d}")
        account = "C-1001"
        order_numbers = ("SO-100045",)
        shipment_ids = ("SHP-778120",)

    event_type = "invoice.posted"
    source = "erp"
    sequence = 1
    data = factory.LazyAttribute(
        lambda event: {
            "invoice_number": event.invoice_number,
            "customer_account": event.account,
            "order_numbers": list(event.order_numbers),
            "shipment_ids": list(event.shipment_ids),
            "issue_date": event.occurred_at[:10],
            "due_date": "2026-12-21",
            "currency": "EUR",
            "total_amount": "350.00",
            "lines": [{"description": "Freight", "amount": "350.00"}],
        }
    )


class InvoicePaidEventFactory(EventFactory):
    class Params:
        invoice_number = "INV-2026-004512"

    event_type = "invoice.paid"
    source = "erp"
    sequence = 2
    data = factory.LazyAttribute(
        lambda event: {
            "invoice_number": event.invoice_number,
            "paid_at": event.occurred_at,
            "amount": "350.00",
        }
    )


PROGRESS = ["picked_up", "departed_origin", "arrived_hub", "out_for_delivery", "delivered"]


def order_to_cash_events(
    *, account: str, number: str, start: datetime, milestones: int, delayed: bool = False
) -> list[dict[str, Any]]:
    """One order's story: released, shipped, `milestones` steps of PROGRESS, maybe a delay,
    then (once delivered) a proof of delivery, a charge and an invoice that gets paid."""
    order_number, shipment_id = f"SO-{number}", f"SHP-{number}"
    at = lambda hours: stamp(start + timedelta(hours=hours))  # noqa: E731
    events = [
        OrderReleasedEventFactory(
            event_id=f"erp-{number}-o",
            occurred_at=at(0),
            order_number=order_number,
            account=account,
        ),
        ShipmentCreatedEventFactory(
            event_id=f"tms-{number}-s",
            occurred_at=at(2),
            shipment_id=shipment_id,
            order_numbers=[order_number],
            planned_delivery_at=at(72),
        ),
    ]
    events += [
        MilestoneEventFactory(
            event_id=f"tms-{number}-m{step}",
            occurred_at=at(24 + 8 * step),
            shipment_id=shipment_id,
            milestone=milestone,
        )
        for step, milestone in enumerate(PROGRESS[:milestones])
    ]
    if delayed:
        events.append(
            DelayEventFactory(
                event_id=f"tms-{number}-d",
                occurred_at=at(27),
                shipment_id=shipment_id,
                new_eta=at(120),
            )
        )
    if milestones >= len(PROGRESS):
        invoice_number = f"INV-{number}"
        events += [
            DocumentEventFactory(
                event_id=f"tms-{number}-pod",
                occurred_at=at(60),
                shipment_id=shipment_id,
                document_id=f"DOC-POD-{number}",
            ),
            FreightChargeEventFactory(
                event_id=f"tms-{number}-chg",
                occurred_at=at(61),
                shipment_id=shipment_id,
                charge_id=f"CHG-{number}",
            ),
            InvoicePostedEventFactory(
                event_id=f"erp-{number}-inv",
                occurred_at=at(62),
                invoice_number=invoice_number,
                account=account,
                order_numbers=[order_number],
                shipment_ids=[shipment_id],
            ),
            InvoicePaidEventFactory(
                event_id=f"erp-{number}-paid", occurred_at=at(90), invoice_number=invoice_number
            ),
        ]
    return events


def order_to_cash_stories(
    accounts: list[str], *, per_account: int, start: datetime = EPOCH
) -> list[dict[str, Any]]:
    """`per_account` stories per account at every stage (every fourth delayed), the whole
    stream sorted by `occurred_at` as sources would send it."""
    events: list[dict[str, Any]] = []
    for account_number in accounts:
        for index in range(per_account):
            events += order_to_cash_events(
                account=account_number,
                number=f"{account_number[2:]}{index:03d}",
                start=start + timedelta(hours=5 * index),
                milestones=index % (len(PROGRESS) + 1),
                delayed=index % 4 == 3,
            )
    return sorted(events, key=lambda event: event["occurred_at"])
