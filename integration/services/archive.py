"""Archive and delete: processed inbox events and rejected events older than a configured
age leave the database for compressed files (core/archive_files.py), one per kind, day
of receipt and source, listed with their SHA-256 in `ArchiveFile`.

Why nothing is lost or copied twice whatever moment a run dies at, for each
(kind, day, source):

1. The new file holds the rows of the current file (read back only if its checksum
   matches) followed by the database rows not already in it, by key; it is written under
   a name carrying its own checksum and read back. The current file is untouched.
2. One transaction points `ArchiveFile` at the new file and deletes the rows it holds.
3. After the commit, the previous file is removed.

Dying before 2 leaves the old manifest and every row in place: the next run writes the
same file again (same rows, same bytes, same name) or a larger one. Dying after 2 leaves
an extra file nobody points at; the next run for that group removes it. The key merge in
1 means a row restored from an archive (a rebuild) and archived again is kept once.

A run holds a session advisory lock, so beat and an operator's command never interleave.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils.dateparse import parse_datetime

from core.archive_files import (
    archive_delete,
    archive_read,
    archive_siblings,
    archive_verify,
    archive_write,
)
from core.db.bulk import bulk_insert_rows
from core.db.readable import as_stored_text
from integration.models import ArchiveFile, ArchiveKind, InboxEvent, InboxState, RejectedEvent

logger = logging.getLogger(__name__)

Progress = Callable[[int], None]

# pg_advisory_lock key of an archive run (any constant no other lock uses).
ARCHIVE_LOCK_KEY = 0x41524348  # "ARCH"
DELETE_CHUNK = 5000
RESTORE_CHUNK = 2000

INBOX_FIELDS = (
    "source",
    "event_id",
    "event_type",
    "spec_version",
    "occurred_at",
    "sequence",
    "received_at",
    "processed_at",
)
INBOX_TIMES = ("occurred_at", "received_at", "processed_at")
REJECTED_FIELDS = ("id", "source", "event_id", "event_type", "errors", "received_at", "replayed_at")


class ArchiveBusyError(Exception):
    """Another archive run holds the lock."""


@dataclass
class ArchiveOutcome:
    # (kind, day, source) → rows archived (for a dry run: rows that would be).
    groups: dict[tuple[str, date, str], int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.groups.values())

    def by_kind(self) -> dict[str, int]:
        totals = dict.fromkeys(ArchiveKind.values, 0)
        for (kind, _, _), rows in self.groups.items():
            totals[kind] += rows
        return totals


def _archivable(kind: str, now: datetime) -> Any:
    if kind == ArchiveKind.INBOX:
        cutoff = now - timedelta(days=settings.INBOX_ARCHIVE_AFTER_DAYS)
        return InboxEvent.objects.filter(state=InboxState.PROCESSED, received_at__lt=cutoff)
    cutoff = now - timedelta(days=settings.REJECTED_ARCHIVE_AFTER_DAYS)
    return RejectedEvent.objects.filter(received_at__lt=cutoff)


def archive_plan(now: datetime) -> dict[tuple[str, date, str], int]:
    """What a run at `now` would archive: rows per (kind, day of receipt in UTC, source)."""
    plan: dict[tuple[str, date, str], int] = {}
    for kind in ArchiveKind.values:
        groups = (
            _archivable(kind, now)
            .annotate(day=TruncDate("received_at", tzinfo=UTC))
            .values("day", "source")
            .annotate(rows=Count("id"))
            .order_by("day", "source")
        )
        for group in groups:
            plan[(kind, group["day"], group["source"])] = group["rows"]
    return plan


def _prefix(kind: str, day: date, source: str) -> str:
    return f"{kind}/{day.isoformat()}/{source}"


def _key(kind: str, row: dict[str, Any]) -> tuple[str, str] | int:
    return (row["source"], row["event_id"]) if kind == ArchiveKind.INBOX else row["id"]


def _database_rows(kind: str, selection: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """(id, archived form) of the selected rows, oldest first. Bodies are read as stored
    text and parsed here, like every other reader of sender-controlled JSON."""
    if kind == ArchiveKind.INBOX:
        values = selection.order_by("id").values("id", *INBOX_FIELDS, text=as_stored_text("data"))
        body_field = "data"
    else:
        values = selection.order_by("id").values(*REJECTED_FIELDS, text=as_stored_text("body"))
        body_field = "body"
    for row in values.iterator(chunk_size=2000):
        text = row.pop("text")
        row[body_field] = json.loads(text) if text is not None else None
        yield (row.pop("id") if kind == ArchiveKind.INBOX else row["id"]), row


def _archive_group(kind: str, day: date, source: str, now: datetime) -> int:
    """Archive and delete one (kind, day, source) group; answer the rows it deleted."""
    current = ArchiveFile.objects.filter(kind=kind, day=day, source=source).first()
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    selection = _archivable(kind, now).filter(
        source=source, received_at__gte=start, received_at__lt=start + timedelta(days=1)
    )
    archived_keys: set[Any] = set()
    deleted_ids: list[int] = []

    def rows() -> Iterator[dict[str, Any]]:
        if current is not None:
            for row in archive_read(current.name, current.sha256):
                archived_keys.add(_key(kind, row))
                yield row
        for id, row in _database_rows(kind, selection):
            deleted_ids.append(id)
            if _key(kind, row) not in archived_keys:
                archived_keys.add(_key(kind, row))
                yield row

    prefix = _prefix(kind, day, source)
    written = archive_write(prefix, rows())
    with transaction.atomic():
        ArchiveFile.objects.update_or_create(
            kind=kind,
            day=day,
            source=source,
            defaults={
                "name": written.name,
                "sha256": written.sha256,
                "rows": written.rows,
                "written_at": now,
            },
        )
        deleted = 0
        for start_at in range(0, len(deleted_ids), DELETE_CHUNK):
            chunk = deleted_ids[start_at : start_at + DELETE_CHUNK]
            # Only rows still archivable: one an operator re-queued meanwhile stays (its
            # archived copy is merged away by key when it is archived again).
            deleted += selection.filter(id__in=chunk).delete()[0]
    # After the commit: files from before (this group's previous file, or one a run that
    # died before its commit wrote) are nobody's.
    for stale in archive_siblings(prefix):
        if stale != written.name:
            archive_delete(stale)
    return deleted


def archive_run(
    now: datetime, *, dry_run: bool = False, progress: Progress | None = None
) -> ArchiveOutcome:
    """Archive and delete every group due at `now` (a dry run only counts them)."""
    outcome = ArchiveOutcome()
    plan = archive_plan(now)
    if dry_run:
        outcome.groups = plan
        if progress:
            progress(outcome.rows)
        return outcome
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [ARCHIVE_LOCK_KEY])
        [locked] = cursor.fetchone()
    if not locked:
        raise ArchiveBusyError("another archive run is in progress")
    try:
        for (kind, day, source), expected in plan.items():
            outcome.groups[(kind, day, source)] = _archive_group(kind, day, source, now)
            if progress:
                progress(expected)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [ARCHIVE_LOCK_KEY])
    return outcome


# --- reading archives back ----------------------------------------------------------------


def archived_files(kind: str, *, source: str | None = None) -> list[ArchiveFile]:
    files = ArchiveFile.objects.filter(kind=kind).order_by("day", "source")
    if source:
        files = files.filter(source=source)
    return list(files)


def _inbox_row(row: dict[str, Any]) -> InboxEvent:
    times = {name: parse_datetime(row[name]) if row[name] else None for name in INBOX_TIMES}
    return InboxEvent(
        source=row["source"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        spec_version=row["spec_version"],
        sequence=row["sequence"],
        data=row["data"],
        state=InboxState.PENDING,
        **times,
    )


def archived_inbox_restore(
    *,
    source: str | None = None,
    event_type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    progress: Progress | None = None,
) -> int:
    """Put archived inbox events (those matching the filters) back in the inbox as
    pending, so projection sees them like any stored event; answer how many were added.
    Every file is verified before any row is inserted: a tampered file stops the restore
    with `ArchiveTamperedError` and nothing changed. Events already in the inbox stay as
    they are (the unique key), so restoring twice adds nothing."""
    files = archived_files(ArchiveKind.INBOX, source=source)
    for archived in files:
        archive_verify(archived.name, archived.sha256)

    def wanted(event: InboxEvent) -> bool:
        return (
            (not event_type or event.event_type == event_type)
            and (since is None or (event.occurred_at is not None and event.occurred_at >= since))
            and (until is None or (event.occurred_at is not None and event.occurred_at < until))
        )

    restored = 0
    for archived in files:
        batch: list[InboxEvent] = []
        for row in archive_read(archived.name, archived.sha256):
            event = _inbox_row(row)
            if wanted(event):
                batch.append(event)
            if len(batch) >= RESTORE_CHUNK:
                restored += _insert(batch)
                batch = []
        restored += _insert(batch)
        if progress:
            progress(archived.rows)
    return restored


def _insert(events: list[InboxEvent]) -> int:
    return bulk_insert_rows(events, ignore_conflicts=True)


def archived_inbox_count(*, source: str | None = None) -> int:
    return sum(
        archived.rows
        for archived in ArchiveFile.objects.filter(kind=ArchiveKind.INBOX).filter(
            Q(source=source) if source else Q()
        )
    )
