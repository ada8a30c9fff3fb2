"""What every projector shares: the event as projection sees it, the batch's effects,
holds, and snapshot versions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from accounts.models import CustomerAccount
from core.timestamps import parse_timestamp
from visibility.holds import HoldKey
from visibility.services.notifications import Occurrence


class Hold(Exception):
    """The event cannot apply yet; `waiting_for` names what it waits for."""

    def __init__(self, waiting_for: HoldKey) -> None:
        super().__init__(waiting_for.format())
        self.waiting_for = waiting_for


@dataclass(frozen=True)
class ProjectedEvent:
    """What projection needs of an inbox row."""

    key: str
    event_type: str
    occurred_at: datetime
    sequence: int | None
    data: dict[str, Any]

    @property
    def source(self) -> str:
        """The key of the source that sent the event (keys are slugs, without ":")."""
        return self.key.partition(":")[0]


@dataclass
class ProjectionEffects:
    """What a batch touched: rows to re-derive, and keys that may release held events."""

    shipment_ids: set[int] = field(default_factory=set)
    order_ids: set[int] = field(default_factory=set)
    released_keys: set[HoldKey] = field(default_factory=set)
    # Events that may never apply (another source owns their order), by key, with the
    # reason: processing makes them dead letters at once, without retries.
    rejected: dict[str, str] = field(default_factory=dict)
    # What projectors saw happen that subscribers may be told of (a new milestone,
    # document, invoice, payment): recorded with the derivation's transitions.
    occurrences: list[Occurrence] = field(default_factory=list)

    def add(self, other: ProjectionEffects) -> None:
        self.shipment_ids |= other.shipment_ids
        self.order_ids |= other.order_ids
        self.released_keys |= other.released_keys
        self.rejected |= other.rejected
        self.occurrences += other.occurrences


# A batch projector applies all of a batch's events of one type and returns the keys of
# the events it held, with what each waits for.
Held = dict[str, HoldKey]
BatchProjector = Callable[[list[ProjectedEvent], ProjectionEffects], Held]


def event_version(event: ProjectedEvent) -> tuple:
    return _version(event.sequence, event.occurred_at, event.key)


def _version(sequence: int | None, occurred_at: datetime | None, key: str) -> tuple:
    return (-1 if sequence is None else sequence, occurred_at or datetime.min, key)


def is_newer(event: ProjectedEvent, row: Any) -> bool:
    """Whether `event` is a newer snapshot than the one stored on `row`."""
    return event_version(event) > _version(
        row.snapshot_sequence, row.snapshot_occurred_at, row.snapshot_event_key
    )


def set_snapshot_version(row: Any, event: ProjectedEvent) -> None:
    row.snapshot_sequence = event.sequence
    row.snapshot_occurred_at = event.occurred_at
    row.snapshot_event_key = event.key


SNAPSHOT_VERSION_FIELDS = ["snapshot_sequence", "snapshot_occurred_at", "snapshot_event_key"]


def newest_by(
    events: Iterable[ProjectedEvent], key: Callable[[ProjectedEvent], str]
) -> dict[str, ProjectedEvent]:
    """The newest snapshot event per `key`: applying only it gives what applying all of
    them in any order gives, since an older snapshot never overwrites a newer one."""
    newest: dict[str, ProjectedEvent] = {}
    for event in events:
        current = newest.get(key(event))
        if current is None or event_version(event) > event_version(current):
            newest[key(event)] = event
    return newest


def timestamp(value: str | None) -> datetime | None:
    return parse_timestamp(value) if value else None


def owned_account_ids(numbers: set[str]) -> dict[str, int]:
    """Ids of the accounts among `numbers` that a tenant owns.

    An account first named by an event is recorded without a tenant, so a platform admin
    can assign it; until then its events are held.
    """
    known = {
        number: (account_id, tenant_id)
        for number, account_id, tenant_id in CustomerAccount.objects.filter(
            number__in=numbers
        ).values_list("number", "id", "tenant_id")
    }
    unknown = sorted(numbers - known.keys())
    if unknown:
        CustomerAccount.objects.bulk_create(
            [CustomerAccount(number=number) for number in unknown], ignore_conflicts=True
        )
    return {
        number: account_id
        for number, (account_id, tenant_id) in known.items()
        if tenant_id is not None
    }
