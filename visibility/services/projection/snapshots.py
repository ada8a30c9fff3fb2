"""What the order and invoice snapshot projectors share: a snapshot owned by a customer
account and keyed by a number (`order_number`, `invoice_number`).

Events of accounts no tenant owns yet are held for the account; of the rest, only the
newest event per number is applied (docs/ARCHITECTURE.md, decision 3), and only when it
is newer than the stored snapshot. New rows are one insert, replaced ones one update.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from django.db import models

from core.db.bulk import bulk_insert_rows, bulk_update_rows
from visibility.holds import HoldKey
from visibility.services.projection.base import (
    Held,
    ProjectedEvent,
    is_newer,
    newest_by,
    owned_account_ids,
)

Snapshot = TypeVar("Snapshot", bound=models.Model)


@dataclass
class SnapshotsWritten(Generic[Snapshot]):
    """What `write_account_snapshots` did: the rows written with the event that won each,
    the existing rows whose stored snapshot was newer, and the events held."""

    winners: list[tuple[Snapshot, ProjectedEvent]] = field(default_factory=list)
    kept: list[Snapshot] = field(default_factory=list)
    held: Held = field(default_factory=dict)


def write_account_snapshots(
    events: list[ProjectedEvent],
    *,
    model: type[Snapshot],
    number_field: str,
    snapshot_fields: list[str],
    apply: Callable[[Snapshot, ProjectedEvent, int], None],
    refuse: Callable[[list[ProjectedEvent], dict[str, Snapshot]], set[str]] | None = None,
) -> SnapshotsWritten[Snapshot]:
    """Write the newest snapshot per `number_field` (also the key in the event's data);
    `apply(row, event, account_id)` copies an event onto its row. `refuse(events,
    existing)` may name the keys of events that must not apply at all (they take no part
    in choosing the newest)."""
    accounts = owned_account_ids({event.data["customer_account"] for event in events})
    written: SnapshotsWritten[Snapshot] = SnapshotsWritten(
        held={
            event.key: HoldKey.account(event.data["customer_account"])
            for event in events
            if event.data["customer_account"] not in accounts
        }
    )
    candidates = [event for event in events if event.key not in written.held]
    if not candidates:
        return written
    existing = {
        getattr(row, number_field): row
        for row in model._default_manager.select_for_update(no_key=True)
        .filter(**{f"{number_field}__in": {event.data[number_field] for event in candidates}})
        .order_by(number_field)
    }
    refused = refuse(candidates, existing) if refuse else set()
    newest = newest_by(
        (event for event in candidates if event.key not in refused),
        key=lambda event: event.data[number_field],
    )
    created: list[Snapshot] = []
    replaced: list[Snapshot] = []
    for number, event in newest.items():
        row = existing.get(number)
        if row is None:
            row = model(**{number_field: number})
            created.append(row)
        elif is_newer(event, row):
            replaced.append(row)
        else:
            written.kept.append(row)
            continue
        apply(row, event, accounts[event.data["customer_account"]])
        written.winners.append((row, event))
    bulk_insert_rows(created, set_ids_by=number_field)
    bulk_update_rows(replaced, snapshot_fields)
    return written
