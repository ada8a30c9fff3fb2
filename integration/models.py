"""The durable side of intake: the inbox and rejected events."""

from __future__ import annotations

from django.db import models
from django.db.models.fields.json import KeyTextTransform

from visibility.event_types import EventType


def event_key(source: str, event_id: str) -> str:
    """An event's key across sources, `source:event_id`: what history facts, snapshot
    versions and holds name an event by."""
    return f"{source}:{event_id}"


class InboxState(models.TextChoices):
    PENDING = "pending", "Waiting to be projected"
    PROCESSED = "processed", "Projected into the read models"
    HELD = "held", "Waiting for an order, shipment, invoice or account owner"
    DEAD = "dead", "Failed repeatedly (dead letter)"


# What a held event waits for (`HoldKey.format()`); a longer key fails the event instead.
WAITING_FOR_MAX_LENGTH = 200


class LaneRoute(models.Model):
    """The lane slot of a shipment or an invoice, decided by the first event that creates
    it (its first order's slot, `visibility.lanes.lane_anchor`) and kept for good, so that
    its events share its order's lane (integration/services/lane_routes.py)."""

    aggregate_key = models.TextField(primary_key=True)
    lane_slot = models.PositiveSmallIntegerField()


class InboxEvent(models.Model):
    """An accepted event, stored before intake answers. (source, event_id) is unique."""

    source = models.CharField(max_length=64)
    event_id = models.CharField(max_length=128)
    event_type = models.CharField(max_length=40, choices=EventType.choices)
    spec_version = models.CharField(max_length=16)
    occurred_at = models.DateTimeField()
    sequence = models.BigIntegerField(null=True, blank=True)
    data = models.JSONField()
    received_at = models.DateTimeField()
    state = models.CharField(max_length=12, choices=InboxState.choices, default=InboxState.PENDING)
    waiting_for = models.CharField(max_length=WAITING_FOR_MAX_LENGTH, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The slot of the event's shipment, order or invoice (`visibility.lanes`,
    # integration/services/lane_routes.py): a batch projects the events of one lane,
    # `lane_slot % INBOX_LANES`.
    lane_slot = models.PositiveSmallIntegerField(db_default=0)
    # When the batch that projected the event claimed it (it commits a little later).
    processed_at = models.DateTimeField(null=True, blank=True)
    # The correlation id of the intake request that stored it (`X-Request-ID`, core/logs.py)
    # and the id of the batch that last claimed it (the `batch projected` log line's
    # `batch_id`): what "what happened to event X" follows (integration/event_trace.py).
    request_id = models.CharField(max_length=64, blank=True, default="", db_default="")
    batch_id = models.CharField(max_length=16, blank=True, default="", db_default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="inbox_source_event_id")
        ]
        indexes = [
            models.Index(
                fields=["id"],
                name="inbox_pending",
                condition=models.Q(state=InboxState.PENDING),
            ),
            models.Index(
                fields=["waiting_for"],
                name="inbox_held_waiting_for",
                condition=models.Q(state=InboxState.HELD),
            ),
            # The events that overtook their shipment's or invoice's creation, moved into
            # its lane when the route is decided (integration/services/lane_routes.py).
            *(
                models.Index(
                    KeyTextTransform(field, "data"),
                    name=f"inbox_waiting_{kind}",
                    condition=models.Q(state__in=[InboxState.PENDING, InboxState.HELD]),
                )
                for kind, field in (("shipment", "shipment_id"), ("invoice", "invoice_number"))
            ),
            models.Index(fields=["received_at"], name="inbox_received_at"),
            # Dead letters are few: `/metrics` counts them at every scrape.
            models.Index(
                fields=["id"], name="inbox_dead", condition=models.Q(state=InboxState.DEAD)
            ),
            # "What happened to event X": by the event's id (from any source) or by the
            # intake request's correlation id.
            models.Index(fields=["event_id"], name="inbox_event_id"),
            models.Index(
                fields=["request_id"], name="inbox_request_id", condition=~models.Q(request_id="")
            ),
            # The throughput chart's "projected per minute" reads the last hour by it.
            models.Index(
                fields=["processed_at"],
                name="inbox_processed_at",
                condition=models.Q(processed_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.event_type}, {self.state})"

    @property
    def key(self) -> str:
        return event_key(self.source, self.event_id)


class RejectedEvent(models.Model):
    """An event the contract rejected, kept with its reasons so it can be fixed and replayed."""

    source = models.CharField(max_length=64)
    event_id = models.CharField(max_length=500, blank=True, default="")
    event_type = models.CharField(max_length=100, blank=True, default="")
    # NULL when the sent event was JSON null itself.
    body = models.JSONField(null=True)
    errors = models.JSONField()
    received_at = models.DateTimeField()
    replayed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["received_at"], name="rejected_received_at")]

    def __str__(self) -> str:
        return f"rejected {event_key(self.source, self.event_id)}"


class ArchiveKind(models.TextChoices):
    INBOX = "inbox", "Processed inbox events"
    REJECTED = "rejected", "Rejected events"


class ArchiveFile(models.Model):
    """The manifest of archived events: one file per kind, day of receipt and source,
    with the SHA-256 it was written with. A file is read back only if it still hashes
    to this; the row changes in the transaction that deletes the rows the file now holds
    (integration/services/archive.py)."""

    kind = models.CharField(max_length=12, choices=ArchiveKind.choices)
    day = models.DateField()
    source = models.CharField(max_length=64)
    name = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64)
    rows = models.PositiveIntegerField()
    written_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "day", "source"], name="archive_file_once")
        ]

    def __str__(self) -> str:
        return self.name
