"""The portal's own read models, built only from events (docs/ARCHITECTURE.md, decision 1).

Every row carries (directly or through its shipment/order) the customer account that
decides which tenant sees it. Snapshot fields keep the version that wrote them so that
an older snapshot arriving late never overwrites a newer one.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Collate
from django.utils import timezone

from accounts.models import CustomerAccount
from visibility.flags import shipment_flags, slip_in_words


class Milestone(models.TextChoices):
    PICKED_UP = "picked_up", "Picked up"
    DEPARTED_ORIGIN = "departed_origin", "Departed origin"
    ARRIVED_HUB = "arrived_hub", "Arrived at hub"
    DEPARTED_HUB = "departed_hub", "Departed hub"
    IN_TRANSIT = "in_transit", "In transit"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    DELIVERY_ATTEMPTED = "delivery_attempted", "Delivery attempted"
    DELIVERED = "delivered", "Delivered"
    EXCEPTION = "exception", "Exception"


class StatusCodeAction(models.TextChoices):
    MILESTONE = "milestone", "Records a milestone"
    STORED = "stored", "Stored on the history, no status change"
    ETA = "eta", "An ETA update"
    DELAY = "delay", "A delay"


class StatusCodeMapping(models.Model):
    """How an X12 214 shipment status code (AT7-01) maps to the portal's milestones.

    Projection knowledge, so it lives here; the table keeps the name it had when intake
    owned it. Seeded with the contract's default table by a data migration
    (`visibility.status_codes`); platform admins edit it. `milestone` takes only the
    milestones derivation knows, so a typo is refused by the form instead of breaking
    derivation later.
    """

    code = models.CharField(max_length=8, unique=True)
    description = models.CharField(max_length=200)
    action = models.CharField(max_length=12, choices=StatusCodeAction.choices)
    milestone = models.CharField(max_length=32, choices=Milestone.choices, blank=True, default="")

    class Meta:
        db_table = "integration_statuscodemapping"

    def __str__(self) -> str:
        return f"{self.code}: {self.description}"

    def clean(self) -> None:
        if self.action == StatusCodeAction.MILESTONE and not self.milestone:
            raise ValidationError({"milestone": "A code that records a milestone must name one."})
        if self.action != StatusCodeAction.MILESTONE and self.milestone:
            raise ValidationError({"milestone": "Only a code that records a milestone names one."})


class ShipmentStatus(models.TextChoices):
    """Customer-facing status; the wording customers read lives here and nowhere else."""

    BOOKED = "booked", "Booked"
    PLANNED = "planned", "Planned"
    CARRIER_ASSIGNED = "carrier_assigned", "Carrier assigned"
    IN_TRANSIT = "in_transit", "In transit"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    DELIVERED = "delivered", "Delivered"
    EXCEPTION = "exception", "Exception"
    CANCELLED = "cancelled", "Cancelled"


class TransportMode(models.TextChoices):
    PARCEL = "parcel", "Parcel"
    LTL = "ltl", "LTL"
    FTL = "ftl", "FTL"
    OCEAN = "ocean", "Ocean"
    AIR = "air", "Air"
    RAIL = "rail", "Rail"


class SnapshotVersion(models.Model):
    """Which event wrote a snapshot: compared as (sequence, occurred_at, event key)."""

    snapshot_sequence = models.BigIntegerField(null=True, blank=True)
    snapshot_occurred_at = models.DateTimeField(null=True, blank=True)
    snapshot_event_key = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        abstract = True


class Order(SnapshotVersion):
    order_number = models.CharField(max_length=128, unique=True)
    customer_account = models.ForeignKey(
        CustomerAccount, on_delete=models.PROTECT, related_name="orders"
    )
    customer_po = models.CharField(max_length=128, blank=True, default="")
    order_date = models.DateField(null=True, blank=True)
    requested_delivery_date = models.DateField(null=True, blank=True)
    ship_from = models.JSONField(null=True, blank=True)
    ship_to = models.JSONField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=ShipmentStatus.choices, default=ShipmentStatus.BOOKED
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=1000, blank=True, default="")
    last_event_at = models.DateTimeField(null=True, blank=True)
    # Any of its shipments is late or overdue (visibility/services/clock.py).
    at_risk = models.BooleanField(default=False, db_default=False)
    # The key of the source that first released the order: only it may change the
    # order's account or cancel it (contract 1.1, "Sources").
    released_by = models.CharField(max_length=64, blank=True, default="")
    # Server time of the last change a reader can see (set by the database, visibility_change
    # triggers): what `updated_since` filters on, never business time.
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["customer_account", "-last_event_at"]),
            models.Index(fields=["customer_account", "updated_at", "id"], name="order_updated"),
            # Business SLA "order to shipment" (visibility/service_levels.py): orders still
            # waiting for a shipment, oldest first, covering what the figure groups by.
            models.Index(
                fields=["snapshot_occurred_at"],
                include=["customer_account", "released_by"],
                name="order_awaiting_shipment",
                condition=models.Q(status="booked"),
            ),
        ]

    def __str__(self) -> str:
        return self.order_number


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    line_number = models.IntegerField()
    sku = models.CharField(max_length=128)
    description = models.CharField(max_length=1000, blank=True, default="")
    quantity = models.DecimalField(max_digits=24, decimal_places=6)
    uom = models.CharField(max_length=128, blank=True, default="")
    weight_kg = models.DecimalField(max_digits=24, decimal_places=6, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "line_number"], name="order_line_number")
        ]
        ordering = ["line_number"]


class Shipment(SnapshotVersion):
    shipment_id = models.CharField(max_length=128, unique=True)
    # The primary account (its first order's, by order number), kept for the
    # newest-first list indexes below. Who may see the shipment is decided by the set of
    # accounts in `ShipmentAccount`, never by this field alone.
    customer_account = models.ForeignKey(
        CustomerAccount, on_delete=models.PROTECT, related_name="shipments"
    )
    load_id = models.CharField(max_length=128, blank=True, default="")
    carrier_scac = models.CharField(max_length=128, blank=True, default="")
    carrier_name = models.CharField(max_length=1000, blank=True, default="")
    mode = models.CharField(max_length=10, choices=TransportMode.choices, blank=True, default="")
    service_level = models.CharField(max_length=1000, blank=True, default="")
    tracking_numbers = ArrayField(models.CharField(max_length=128), default=list, blank=True)
    origin = models.JSONField(null=True, blank=True)
    destination = models.JSONField(null=True, blank=True)
    planned_pickup_at = models.DateTimeField(null=True, blank=True)
    planned_delivery_at = models.DateTimeField(null=True, blank=True)
    tender_accepted_at = models.DateTimeField(null=True, blank=True)
    # Which event last set the carrier (the snapshot or a tender acceptance): occurred_at, key.
    carrier_occurred_at = models.DateTimeField(null=True, blank=True)
    carrier_event_key = models.CharField(max_length=200, blank=True, default="")
    # Derived from milestones, ETAs and delays by visibility.projection.derive.
    status = models.CharField(
        max_length=20, choices=ShipmentStatus.choices, default=ShipmentStatus.BOOKED
    )
    status_at = models.DateTimeField(null=True, blank=True)
    eta = models.DateTimeField(null=True, blank=True)
    eta_window_start = models.DateTimeField(null=True, blank=True)
    eta_window_end = models.DateTimeField(null=True, blank=True)
    eta_basis = models.CharField(max_length=16, blank=True, default="")
    promised_date = models.DateField(null=True, blank=True)
    delayed = models.BooleanField(default=False)
    at_risk = models.BooleanField(default=False)
    delivered_at = models.DateTimeField(null=True, blank=True)
    received_by = models.CharField(max_length=1000, blank=True, default="")
    last_event_at = models.DateTimeField(null=True, blank=True)
    # Clock-driven states (visibility/services/clock.py): true between events too,
    # kept so by the sweep, which reads only the rows of `ShipmentClock` whose next check
    # has come and writes a shipment only when one of these changes.
    overdue = models.BooleanField(default=False, db_default=False)
    late_by_hours = models.IntegerField(null=True, blank=True)
    tracking_stale = models.BooleanField(default=False, db_default=False)
    pod_missing = models.BooleanField(default=False, db_default=False)
    not_invoiced = models.BooleanField(default=False, db_default=False)
    # The latest ETA a delay notification announced: only a later one notifies again.
    delay_notified_eta = models.DateTimeField(null=True, blank=True)
    # Freshness: server time of the last projected event touching the shipment, and its source.
    last_heard_at = models.DateTimeField(null=True, blank=True)
    last_heard_source = models.CharField(max_length=64, blank=True, default="", db_default="")

    # Server time of the last change a reader can see (set by the database, visibility_change
    # triggers): what `updated_since` filters on, never business time.
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["customer_account", "updated_at", "id"], name="shipment_updated"),
            models.Index(fields=["customer_account", "-last_event_at"]),
            models.Index(fields=["load_id"]),
            # Lists are newest first: across many accounts (staff, large tenants) the
            # newest shipments are read in index order, filtered by account, not sorted.
            models.Index(fields=["-last_event_at", "-id"], name="shipment_newest"),
            models.Index(fields=["status", "-last_event_at", "-id"], name="shipment_status_newest"),
            models.Index(
                fields=["customer_account", "status", "-last_event_at", "-id"],
                name="shipment_account_status_newest",
            ),
            # Business SLAs (visibility/service_levels.py): moving shipments by their last
            # milestone, and delivered ones not invoiced by delivery, each covering what
            # the figure groups by (account, source), so a figure reads only this index.
            models.Index(
                fields=["last_event_at"],
                include=["customer_account", "last_heard_source"],
                name="shipment_moving_last_event",
                condition=models.Q(status__in=["in_transit", "out_for_delivery"]),
            ),
            models.Index(
                fields=["delivered_at"],
                include=["customer_account", "last_heard_source"],
                name="shipment_not_invoiced",
                condition=models.Q(not_invoiced=True),
            ),
        ]

    def __str__(self) -> str:
        return self.shipment_id

    @property
    def flags(self) -> list[str]:
        return shipment_flags(self)

    @property
    def late_by(self) -> str:
        return slip_in_words(self.late_by_hours)


class ShipmentClock(models.Model):
    """When a shipment next needs a look by the clock (visibility/services/clock.py).

    Kept apart from the shipment: a sweep rewrites `next_check_at` of every due row, and a
    row of the wide shipment table (a dozen indexes, a change-feed trigger) costs ten
    times a row of this one. The shipment is written only when a state the readers see
    flips (docs/ARCHITECTURE.md, "Time is an input"). No row, or NULL: nothing to check.
    """

    shipment = models.OneToOneField(
        Shipment, on_delete=models.CASCADE, primary_key=True, related_name="clock"
    )
    next_check_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_check_at"],
                name="shipment_next_check",
                condition=models.Q(next_check_at__isnull=False),
            )
        ]


class ShipmentOrder(models.Model):
    """Which order (and which of its lines) a shipment carries."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="order_links")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipment_links")
    line_numbers = ArrayField(models.IntegerField(), default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shipment", "order"], name="shipment_order_unique")
        ]


class ShipmentAccount(models.Model):
    """Each customer account whose orders a shipment carries: the set that decides who
    sees the shipment (docs/ARCHITECTURE.md, decision 9). Derived from the shipment's
    order links by `visibility.services.derivation`, never written elsewhere."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="account_links")
    customer_account = models.ForeignKey(
        CustomerAccount, on_delete=models.CASCADE, related_name="+"
    )
    # The shipment's, copied by derivation in the same batch: an account's list reads its
    # shipments newest first from this table's index, rather than walking every tenant's
    # shipments newest first and keeping those of the account (docs/BENCHMARKS.md).
    last_event_at = models.DateTimeField(null=True, blank=True)
    # The shipment's carrier, copied the same way: the list's carrier filter offers the
    # carriers of the actor's accounts, read by skipping through an index instead of a
    # DISTINCT over every shipment they see (visibility.selectors.carriers_of_accounts).
    carrier_scac = models.CharField(max_length=128, blank=True, default="", db_default="")
    carrier_name = models.CharField(max_length=1000, blank=True, default="", db_default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "customer_account"], name="shipment_account_unique"
            )
        ]
        # Visibility reads the set by account: which shipments may this actor see; the
        # list reads an account's shipments newest first.
        indexes = [
            models.Index(
                fields=["customer_account", "shipment"], name="shipment_account_by_account"
            ),
            models.Index(
                fields=["customer_account", "-last_event_at", "-shipment"],
                name="shipment_account_newest",
            ),
            models.Index(
                fields=["customer_account", "carrier_scac"], name="shipment_account_carrier"
            ),
        ]


class ShipmentStop(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="stops")
    sequence = models.IntegerField()
    stop_type = models.CharField(max_length=10)
    location = models.JSONField(null=True, blank=True)
    planned_arrival = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["sequence"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "sequence"], name="shipment_stop_sequence")
        ]


class ShipmentEvent(models.Model):
    """A fact on a shipment's history, keyed by the event that reported it.

    Milestones, carrier status codes (mapped or not), ETA updates and delays are all
    kept as a set: applying the same event twice, or in any order, gives the same set.
    """

    class Kind(models.TextChoices):
        MILESTONE = "milestone", "Milestone"
        STATUS_CODE = "status_code", "Carrier status (no status change)"
        UNMAPPED_CODE = "unmapped_code", "Unknown carrier status code"
        ETA = "eta", "ETA update"
        DELAY = "delay", "Delay"

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="history")
    event_key = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    occurred_at = models.DateTimeField()
    milestone = models.CharField(max_length=32, choices=Milestone.choices, blank=True, default="")
    carrier_status_code = models.CharField(max_length=8, blank=True, default="")
    location = models.JSONField(null=True, blank=True)
    stop_sequence = models.IntegerField(null=True, blank=True)
    remarks = models.CharField(max_length=1000, blank=True, default="")
    received_by = models.CharField(max_length=1000, blank=True, default="")
    eta = models.DateTimeField(null=True, blank=True)
    eta_window_start = models.DateTimeField(null=True, blank=True)
    eta_window_end = models.DateTimeField(null=True, blank=True)
    eta_basis = models.CharField(max_length=16, blank=True, default="")
    reason_code = models.CharField(max_length=8, blank=True, default="")
    reason_text = models.CharField(max_length=1000, blank=True, default="")

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "event_key", "kind"], name="shipment_event_unique"
            )
        ]
        indexes = [
            models.Index(fields=["shipment", "occurred_at"]),
            # Unknown carrier codes are rare: the health page counts them from this small
            # index instead of reading the whole history (docs/BENCHMARKS.md, "Operations").
            models.Index(
                fields=["carrier_status_code"],
                name="history_unmapped_code",
                condition=models.Q(kind="unmapped_code"),
            ),
        ]


class Invoice(SnapshotVersion):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PAID = "paid", "Paid"
        OVERDUE = "overdue", "Overdue"

    invoice_number = models.CharField(max_length=128, unique=True)
    customer_account = models.ForeignKey(
        CustomerAccount, on_delete=models.PROTECT, related_name="invoices"
    )
    order_numbers = ArrayField(models.CharField(max_length=128), default=list, blank=True)
    shipment_ids = ArrayField(models.CharField(max_length=128), default=list, blank=True)
    issue_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    total_amount = models.DecimalField(max_digits=20, decimal_places=2)
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_amount = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    payment_event_key = models.CharField(max_length=200, blank=True, default="")
    # Server time of the last change a reader can see (set by the database, visibility_change
    # triggers): what `updated_since` filters on, never business time.
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["customer_account", "updated_at", "id"], name="invoice_updated"),
            # Which invoices name a shipment (the clock's "delivered, not invoiced") or an
            # order (an order's detail lists its invoices; the change feed reads a page's).
            GinIndex(fields=["shipment_ids"], name="invoice_shipment_ids"),
            GinIndex(fields=["order_numbers"], name="invoice_order_numbers"),
            # The unpaid invoices whose due date passes (visibility/services/clock.py,
            # invoices_overdue_record).
            models.Index(
                fields=["due_date"],
                name="invoice_unpaid_due",
                condition=models.Q(paid_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.invoice_number


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.IntegerField()
    description = models.CharField(max_length=1000, blank=True, default="")
    amount = models.DecimalField(max_digits=20, decimal_places=2)

    class Meta:
        ordering = ["position"]


class FreightCharge(models.Model):
    charge_id = models.CharField(max_length=128, unique=True)
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="charges")
    charge_type = models.CharField(max_length=16)
    amount = models.DecimalField(max_digits=20, decimal_places=2)
    currency = models.CharField(max_length=3)
    occurred_at = models.DateTimeField()
    event_key = models.CharField(max_length=200)
    # Whose charge it is on a consolidated shipment (`freight.charge_posted`
    # customer_account, contract 1.1); null when the event names none.
    customer_account = models.ForeignKey(
        CustomerAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )


class Document(models.Model):
    class DocumentType(models.TextChoices):
        POD = "pod", "Proof of delivery"
        BOL = "bol", "Bill of lading"
        COMMERCIAL_INVOICE = "commercial_invoice", "Commercial invoice"
        PACKING_LIST = "packing_list", "Packing list"
        CUSTOMS = "customs", "Customs"

    document_id = models.CharField(max_length=128, unique=True)
    document_type = models.CharField(max_length=24, choices=DocumentType.choices)
    customer_account = models.ForeignKey(
        CustomerAccount, on_delete=models.PROTECT, related_name="documents"
    )
    shipment = models.ForeignKey(
        Shipment, null=True, blank=True, on_delete=models.CASCADE, related_name="documents"
    )
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.CASCADE, related_name="documents"
    )
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.CASCADE, related_name="documents"
    )
    filename = models.CharField(max_length=1000)
    content_type = models.CharField(max_length=1000)
    file = models.FileField(upload_to="documents/%Y/%m/")
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    event_key = models.CharField(max_length=200)
    # Server time of the last change a reader can see (set by the database, visibility_change
    # triggers): what `updated_since` filters on, never business time.
    updated_at = models.DateTimeField(default=timezone.now)


class Reference(models.Model):
    """One way to find an order, shipment or invoice: the search-by-any-reference index.

    `normalized` is the value upper-cased without spaces or dashes; a B-tree index (C
    collation) serves exact and prefix matches, a trigram GIN index partial ones.
    """

    class Kind(models.TextChoices):
        ORDER = "order", "Order"
        SHIPMENT = "shipment", "Shipment"
        INVOICE = "invoice", "Invoice"

    class ReferenceType(models.TextChoices):
        ORDER_NUMBER = "order_number", "Order number"
        CUSTOMER_PO = "customer_po", "Customer PO"
        SHIPMENT_ID = "shipment_id", "Shipment id"
        LOAD_ID = "load_id", "Load id"
        TRACKING_NUMBER = "tracking_number", "Tracking number"
        INVOICE_NUMBER = "invoice_number", "Invoice number"
        DOCUMENT_ID = "document_id", "Document id"

    customer_account = models.ForeignKey(
        CustomerAccount, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    object_key = models.CharField(max_length=128)
    reference_type = models.CharField(max_length=20, choices=ReferenceType.choices)
    value = models.CharField(max_length=128)
    normalized = models.CharField(max_length=128)
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.CASCADE, related_name="references"
    )
    shipment = models.ForeignKey(
        Shipment, null=True, blank=True, on_delete=models.CASCADE, related_name="references"
    )
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.CASCADE, related_name="references"
    )

    class Meta:
        indexes = [
            # C collation: byte order, so `LIKE 'prefix%'` is a range scan of this index
            # and matches come out in order, whatever the database's collation.
            models.Index(Collate("normalized", "C"), name="reference_normalized_c"),
            GinIndex(
                fields=["normalized"], name="reference_normalized_trgm", opclasses=["gin_trgm_ops"]
            ),
        ]


# --- notifications -------------------------------------------------------------------------


class NotificationTrigger(models.TextChoices):
    """What happened, as projection and the clock find it: one occurrence of a trigger is
    notified once per subscriber. Users choose among EMAIL_TRIGGERS; webhooks subscribe
    to the public event types (WebhookEventType) these map to."""

    DELAY = "delay", "Delay"
    DELIVERY = "delivery", "Delivery"
    EXCEPTION = "exception", "Exception"
    MILESTONE = "milestone", "Milestone"
    ETA_CHANGE = "eta_change", "ETA change"
    EXCEPTION_RESOLVED = "exception_resolved", "Exception resolved"
    DOCUMENT = "document", "Document available"
    INVOICE_POSTED = "invoice_posted", "Invoice posted"
    INVOICE_PAID = "invoice_paid", "Invoice paid"
    PING = "ping", "Test ping"


# What users may choose to be emailed about (the settings page lists these).
EMAIL_TRIGGERS = (
    NotificationTrigger.DELAY,
    NotificationTrigger.DELIVERY,
    NotificationTrigger.EXCEPTION,
)


class WebhookEventType(models.TextChoices):
    """The event types integrators subscribe to: the one list (docs/API.md, "Webhooks")."""

    SHIPMENT_MILESTONE = "shipment.milestone", "Milestone reached"
    SHIPMENT_ETA_CHANGED = "shipment.eta_changed", "ETA changed"
    SHIPMENT_DELAYED = "shipment.delayed", "Shipment delayed"
    SHIPMENT_EXCEPTION_OPENED = "shipment.exception_opened", "Exception opened"
    SHIPMENT_EXCEPTION_RESOLVED = "shipment.exception_resolved", "Exception resolved"
    SHIPMENT_DELIVERED = "shipment.delivered", "Shipment delivered"
    DOCUMENT_AVAILABLE = "document.available", "Document available"
    INVOICE_POSTED = "invoice.posted", "Invoice posted"
    INVOICE_PAID = "invoice.paid", "Invoice paid"


# Sent only by the ping endpoint, to one webhook; not subscribable.
WEBHOOK_PING_EVENT_TYPE = "webhook.ping"

# Each trigger's public event type, and the kind of object its envelope carries.
WEBHOOK_EVENT_OF_TRIGGER: dict[str, tuple[str, str]] = {
    NotificationTrigger.MILESTONE: (WebhookEventType.SHIPMENT_MILESTONE, "shipment"),
    NotificationTrigger.ETA_CHANGE: (WebhookEventType.SHIPMENT_ETA_CHANGED, "shipment"),
    NotificationTrigger.DELAY: (WebhookEventType.SHIPMENT_DELAYED, "shipment"),
    NotificationTrigger.EXCEPTION: (WebhookEventType.SHIPMENT_EXCEPTION_OPENED, "shipment"),
    NotificationTrigger.EXCEPTION_RESOLVED: (
        WebhookEventType.SHIPMENT_EXCEPTION_RESOLVED,
        "shipment",
    ),
    NotificationTrigger.DELIVERY: (WebhookEventType.SHIPMENT_DELIVERED, "shipment"),
    NotificationTrigger.DOCUMENT: (WebhookEventType.DOCUMENT_AVAILABLE, "document"),
    NotificationTrigger.INVOICE_POSTED: (WebhookEventType.INVOICE_POSTED, "invoice"),
    NotificationTrigger.INVOICE_PAID: (WebhookEventType.INVOICE_PAID, "invoice"),
    NotificationTrigger.PING: (WEBHOOK_PING_EVENT_TYPE, "webhook"),
}


class NotificationSubscription(models.Model):
    """A user's wish to hear of one trigger for the shipments they may see."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_subscriptions",
    )
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+")
    trigger = models.CharField(max_length=24, choices=NotificationTrigger.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "tenant", "trigger"], name="subscription_unique"
            )
        ]


class Webhook(models.Model):
    """A tenant's endpoint for signed event callbacks.

    Secrets are kept in clear because every delivery is signed with them; during a
    rotation the previous secret signs too, until `previous_secret_expires_at`."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True, default="", db_default="")
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True, default="", db_default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    event_types = ArrayField(models.CharField(max_length=40, choices=WebhookEventType.choices))
    active = models.BooleanField(default=True)
    # Set when a delivery gave up after every retry; cleared by the next success.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)


class Notification(models.Model):
    """The outbox: one row per (shipment, trigger, occurrence, subscriber), drained by a worker.

    Keyed by the shipment's id string, not a foreign key, so rebuilding the read models
    never deletes the record of what was already sent (and never sends it again).
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    # The public key of the object the trigger happened to: a shipment id, or for the
    # document and invoice triggers a document id or invoice number.
    shipment_ref = models.CharField(max_length=128)
    trigger = models.CharField(max_length=24, choices=NotificationTrigger.choices)
    # Which occurrence of the trigger: an exception's reason and id, a delay's ETA;
    # empty for the one delivery.
    occurrence = models.CharField(max_length=64, blank=True, default="", db_default="")
    subscriber = models.CharField(max_length=40, help_text="user:<id> or webhook:<id>")
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+")
    payload = models.JSONField()
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Webhooks: the event's id (`evt_…`, the same for every webhook of the tenant).
    event_id = models.CharField(max_length=40, blank=True, default="", db_default="")
    # The projection batch that recorded it (`InboxEvent.batch_id`; empty when recorded
    # outside a batch, e.g. by the clock sweep).
    batch_id = models.CharField(max_length=16, blank=True, default="", db_default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shipment_ref", "trigger", "occurrence", "subscriber"],
                name="notification_once",
            )
        ]
        indexes = [
            models.Index(
                fields=["id"], name="notification_pending", condition=models.Q(state="pending")
            ),
            # A webhook's delivery log, newest first (the API pages through it).
            models.Index(fields=["subscriber", "-id"], name="notification_by_subscriber"),
        ]


class WebhookDelivery(models.Model):
    """One attempt to deliver a notification to a webhook: the log tenant admins read."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    attempted_at = models.DateTimeField(default=timezone.now)
    # 1 for the first attempt of a delivery; counts on across retries and redeliveries.
    attempt = models.PositiveIntegerField(default=1, db_default=1)
    status_code = models.IntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")
    duration_ms = models.IntegerField(default=0)
    # When the next retry is due after this failed attempt; null when none will follow.
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-attempted_at"]


# --- exceptions as work --------------------------------------------------------------------


class ExceptionReason(models.TextChoices):
    """Why a shipment needs attention: the canonical taxonomy customers and staff read."""

    WEATHER = "weather", "Weather"
    MECHANICAL = "mechanical", "Mechanical breakdown"
    RECIPIENT_UNAVAILABLE = "recipient_unavailable", "Recipient unavailable"
    REFUSED = "refused", "Refused by consignee"
    DAMAGED = "damaged", "Damaged"
    ADDRESS = "address", "Address problem"
    CUSTOMS = "customs", "Customs"
    CAPACITY = "capacity", "Capacity"
    OVERDUE = "overdue", "Overdue"
    LATE = "late", "Late against the promised date"
    TRACKING_STALE = "tracking_stale", "Tracking stale"
    MISSING_POD = "missing_pod", "Missing proof of delivery"
    NOT_INVOICED = "not_invoiced", "Delivered, not invoiced"
    OTHER = "other", "Other"


class ShipmentException(models.Model):
    """A problem on a shipment as a piece of work: a reason, an age, an owner, notes.

    At most one open (or acknowledged) record per (shipment, reason); opened and
    auto-resolved by visibility/services/exceptions.py, worked by customer service.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    class OpenedBy(models.TextChoices):
        DELAY = "delay", "A delay"
        MILESTONE = "milestone", "An exception reported by the carrier"
        CLOCK = "clock", "The clock"

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="exceptions")
    reason = models.CharField(max_length=24, choices=ExceptionReason.choices)
    opened_by = models.CharField(max_length=10, choices=OpenedBy.choices)
    # What occurrence of the problem opened it (the delay's event, the ETA that passed,
    # ...): the same occurrence never opens a second record, even after one is resolved.
    occurrence_key = models.CharField(max_length=200, blank=True, default="")
    # The raw code that opened it (X12 1651 or 214), kept for staff; never shown as the reason.
    source_code = models.CharField(max_length=8, blank=True, default="")
    detail = models.CharField(max_length=1000, blank=True, default="")
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_automatically = models.BooleanField(default=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_exceptions",
    )
    # The shipment's account and the source last heard from about it when the exception
    # opened (no foreign key, like VisibilityChange's): the business SLA "exception aging"
    # groups unresolved exceptions by them without joining a million shipments
    # (visibility/service_levels.py). A shipment that later moves to another account
    # keeps its open exceptions counted where they opened until they resolve.
    customer_account_id = models.BigIntegerField(null=True, blank=True)
    source = models.CharField(max_length=64, blank=True, default="", db_default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "reason"],
                condition=~models.Q(status="resolved"),
                name="exception_one_open_per_reason",
            )
        ]
        indexes = [
            models.Index(
                fields=["opened_at", "id"],
                name="exception_unresolved_oldest",
                condition=~models.Q(status="resolved"),
            ),
            models.Index(
                fields=["opened_at"],
                include=["customer_account_id", "source"],
                name="exception_open_by_account",
                condition=~models.Q(status="resolved"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.shipment_id}: {self.get_reason_display()}"


class ExceptionNote(models.Model):
    """A note on an exception: internal to the operator's staff, or visible to the customer."""

    exception = models.ForeignKey(ShipmentException, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    visible_to_customer = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]


class VisibilityChange(models.Model):
    """One change a reader can see: the change feed (docs/ARCHITECTURE.md, "The change feed").

    Written only by the database triggers of migrations 0011 and 0012 (never by Python), in the
    transaction that made the change, without a position; `stamp_positions` gives
    committed rows their position, one stamping transaction at a time, so positions
    become visible in increasing order (the proof: docs/ARCHITECTURE.md).
    """

    class Kind(models.TextChoices):
        SHIPMENT = "shipment", "Shipment"
        ORDER = "order", "Order"
        INVOICE = "invoice", "Invoice"
        DOCUMENT = "document", "Document"

    id = models.BigAutoField(primary_key=True)
    # Assigned after commit, in stamping order (NULL until then); never reused.
    position = models.BigIntegerField(null=True, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    object_key = models.CharField(max_length=128)
    # The account whose view changed (no foreign key: one check less per recorded row).
    customer_account_id = models.BigIntegerField()
    # The object left this account's view (moved to another account, or deleted).
    left_view = models.BooleanField(default=False)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "visibility_change"
        indexes = [
            models.Index(
                fields=["id"], name="change_unstamped", condition=models.Q(position__isnull=True)
            )
        ]


class ChangeFeedMarks(models.Model):
    """The change feed's watermarks, one row (`ChangeFeedMarks.current()`).

    - `pruned_through`: change rows at or below this position were pruned
      (`visibility.services.changes.changes_prune`): a cursor below it may have missed
      changes, and is answered 410 Gone (resync).
    - `invoices_overdue_through`: every unpaid invoice due before this date was recorded as
      changed when it turned overdue (`visibility.services.clock.invoices_overdue_record`);
      NULL before the first run.
    """

    pruned_through = models.BigIntegerField(default=0)
    invoices_overdue_through = models.DateField(null=True, blank=True)

    class Meta:
        db_table = "visibility_changefeedmarks"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="change_feed_marks_one_row")
        ]

    @classmethod
    def current(cls, *, for_update: bool = False) -> ChangeFeedMarks:
        manager = cls.objects.select_for_update() if for_update else cls.objects
        marks, _ = manager.get_or_create(id=1)
        return marks


class SavedView(models.Model):
    """A named shipment-list filter: the list's query string, its owner's, shared with the
    owner's tenant if `shared`, and the owner's default list when `is_default`."""

    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    name = models.CharField(max_length=100)
    query_string = models.CharField(max_length=2000, blank=True, default="")
    shared = models.BooleanField(default=False)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="saved_view_name_per_owner"),
            models.UniqueConstraint(
                fields=["owner"],
                condition=models.Q(is_default=True),
                name="saved_view_one_default_per_owner",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "shared"], name="saved_view_shared")]

    def __str__(self) -> str:
        return self.name
