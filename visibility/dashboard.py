"""The customer dashboard's figures: tenant-scoped aggregate reads (selectors).

Every figure is one aggregate query over the shipments the actor sees (`shipments_for`,
read once): the tiles in one pass with filtered counts, the on-time rate by week, by
carrier and by lane, the weekly volumes. On time means delivered with a promised date and
not late against it (`late_by_hours` is empty: the clock's one definition of late,
visibility/services/clock.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import CharField, Count, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Concat, TruncWeek
from django.utils import timezone

from accounts.scoping import Actor
from visibility.models import ShipmentException, ShipmentStatus
from visibility.selectors import documents_for, open_exceptions, shipments_for

WEEKS = 12
RECENT_DAYS = 7
# Still on their way: what "late", "overdue" and "in transit" count.
OPEN_STATUSES = (
    ShipmentStatus.BOOKED,
    ShipmentStatus.PLANNED,
    ShipmentStatus.CARRIER_ASSIGNED,
    ShipmentStatus.IN_TRANSIT,
    ShipmentStatus.OUT_FOR_DELIVERY,
    ShipmentStatus.EXCEPTION,
)
MOVING_STATUSES = (ShipmentStatus.IN_TRANSIT, ShipmentStatus.OUT_FOR_DELIVERY)


@dataclass(frozen=True)
class Tiles:
    in_transit: int
    late: int
    overdue: int
    exceptions_open: int
    delivered_recently: int
    documents_new: int


@dataclass(frozen=True)
class OnTime:
    """Delivered shipments with a promised date in a group, and how many on time."""

    label: str
    delivered: int
    on_time: int

    @property
    def percent(self) -> int | None:
        return round(100 * self.on_time / self.delivered) if self.delivered else None


@dataclass(frozen=True)
class Volume:
    label: str
    shipments: int
    late: int


@dataclass(frozen=True)
class Dashboard:
    tiles: Tiles
    since: date  # the first day the tiles' "recent" counts cover
    weeks: list[OnTime]
    carriers: list[OnTime]
    lanes: list[OnTime]
    volumes: list[Volume]
    attention: list[ShipmentException]


def _open_exception_of_shipment() -> Exists:
    return Exists(
        ShipmentException.objects.filter(shipment_id=OuterRef("id")).exclude(
            status=ShipmentException.Status.RESOLVED
        )
    )


def _tiles(shipments: QuerySet, actor: Actor, recent_since: datetime) -> Tiles:
    counts = shipments.aggregate(
        in_transit=Count("id", filter=Q(status__in=MOVING_STATUSES)),
        late=Count("id", filter=Q(status__in=OPEN_STATUSES, late_by_hours__isnull=False)),
        overdue=Count("id", filter=Q(overdue=True)),
        exceptions_open=Count("id", filter=Q(_open_exception_of_shipment())),
        delivered_recently=Count(
            "id", filter=Q(status=ShipmentStatus.DELIVERED, delivered_at__gte=recent_since)
        ),
    )
    documents_new = documents_for(actor).filter(occurred_at__gte=recent_since).count()
    return Tiles(documents_new=documents_new, **counts)


def _on_time(rows: QuerySet, key: str) -> list[OnTime]:
    return [
        OnTime(label=str(row[key] or "—"), delivered=row["delivered"], on_time=row["on_time"])
        for row in rows
    ]


def _with_delivered_counts(rows: QuerySet) -> QuerySet:
    """Rows grouped by `values(...)`, each with its deliveries and how many on time."""
    return rows.annotate(
        delivered=Count("id"), on_time=Count("id", filter=Q(late_by_hours__isnull=True))
    )


def _by_week(rows: QuerySet) -> dict[date, dict[str, Any]]:
    """Rows annotated with `week` (TruncWeek: a datetime), by the week's first day."""
    return {
        (row["week"].date() if isinstance(row["week"], datetime) else row["week"]): row
        for row in rows
    }


def dashboard_for(actor: Actor, *, now: datetime | None = None, top: int = 8) -> Dashboard:
    """What the customer's first screen shows, in the active time zone's weeks."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    first_week = today - timedelta(days=today.weekday() + 7 * (WEEKS - 1))
    window_start = timezone.make_aware(datetime.combine(first_week, datetime.min.time()))
    recent_since = now - timedelta(days=RECENT_DAYS)

    shipments = shipments_for(actor)
    delivered = shipments.filter(
        status=ShipmentStatus.DELIVERED,
        promised_date__isnull=False,
        delivered_at__gte=window_start,
    )
    weekly = _by_week(
        _with_delivered_counts(
            delivered.annotate(week=TruncWeek("delivered_at")).values("week")
        ).order_by("week")
    )
    weeks = []
    for index in range(WEEKS):
        start = first_week + timedelta(days=7 * index)
        row = weekly.get(start, {"delivered": 0, "on_time": 0})
        weeks.append(
            OnTime(label=start.isoformat(), delivered=row["delivered"], on_time=row["on_time"])
        )

    carriers = _on_time(
        _with_delivered_counts(delivered.values("carrier_name")).order_by(
            "-delivered", "carrier_name"
        )[:top],
        "carrier_name",
    )
    lanes = _on_time(
        delivered.annotate(
            lane=Concat(
                KeyTextTransform("city", "origin"),
                Value(" → "),
                KeyTextTransform("city", "destination"),
                output_field=CharField(),
            )
        )
        .values("lane")
        .annotate(delivered=Count("id"), on_time=Count("id", filter=Q(late_by_hours__isnull=True)))
        .order_by("-delivered", "lane")[:top],
        "lane",
    )
    planned = _by_week(
        shipments.filter(planned_pickup_at__gte=window_start, planned_pickup_at__lte=now)
        .annotate(week=TruncWeek("planned_pickup_at"))
        .values("week")
        .annotate(shipments=Count("id"), late=Count("id", filter=Q(late_by_hours__isnull=False)))
        .order_by("week")
    )
    volumes = []
    for index in range(WEEKS):
        start = first_week + timedelta(days=7 * index)
        row = planned.get(start, {"shipments": 0, "late": 0})
        volumes.append(
            Volume(label=start.isoformat(), shipments=row["shipments"], late=row["late"])
        )

    return Dashboard(
        tiles=_tiles(shipments, actor, recent_since),
        since=timezone.localdate(recent_since),
        weeks=weeks,
        carriers=carriers,
        lanes=lanes,
        volumes=volumes,
        attention=list(open_exceptions(actor)[:top]),
    )
