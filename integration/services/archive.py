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
    archive_line,
    archive_read_lines,
    archive_siblings,
    archive_verify,
    archive_write,
    raw_field,
)
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


def _database_lines(kind: str, selection: Any) -> Iterator[tuple[int, Any, bytes]]:
    """(id, key, archived line) of the selected rows, oldest first. The body is written
    as PostgreSQL prints it (`archive_line(raw=...)`): never through Python's floats,
    and a body Python could not even parse (too deep) is archived all the same."""
    body_field = "data" if kind == ArchiveKind.INBOX else "body"
    fields = ("id", *INBOX_FIELDS) if kind == ArchiveKind.INBOX else REJECTED_FIELDS
    values = selection.order_by("id").values(*fields, text=as_stored_text(body_field))
    for row in values.iterator(chunk_size=2000):
        text = row.pop("text")
        id = row.pop("id") if kind == ArchiveKind.INBOX else row["id"]
        yield id, _key(kind, row), archive_line(row, raw=(body_field, text))


def _archive_group(kind: str, day: date, source: str, now: datetime) -> int:
    """Archive and delete one (kind, day, source) group; answer the rows it deleted."""
    current = ArchiveFile.objects.filter(kind=kind, day=day, source=source).first()
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    selection = _archivable(kind, now).filter(
        source=source, received_at__gte=start, received_at__lt=start + timedelta(days=1)
    )
    archived_keys: set[Any] = set()
    deleted_ids: list[int] = []

    def lines() -> Iterator[bytes]:
        if current is not None:
            # Copied as they are: what was archived stays byte for byte.
            for line in archive_read_lines(current.name, current.sha256):
                archived_keys.add(_key(kind, json.loads(line)))
                yield line
        for id, key, line in _database_lines(kind, selection):
            deleted_ids.append(id)
            if key not in archived_keys:
                archived_keys.add(key)
                yield line

    prefix = _prefix(kind, day, source)
    written = archive_write(prefix, lines())
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


# Restored rows are inserted with their body as archived text cast to jsonb, so every
# number keeps its digits; `(source, event_id)` already in the inbox is left alone.
RESTORE_SQL = """
INSERT INTO integration_inboxevent (
    source, event_id, event_type, spec_version, occurred_at, sequence, data, received_at,
    processed_at, state, waiting_for, attempts, last_error, next_attempt_at
)
SELECT source, event_id, event_type, spec_version, occurred_at::timestamptz, sequence,
    data::jsonb, received_at::timestamptz, processed_at::timestamptz, %s, '', 0, '', NULL
FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[],
            %s::text[], %s::text[], %s::text[])
    AS restored(source, event_id, event_type, spec_version, occurred_at, sequence, data,
                received_at, processed_at)
ON CONFLICT (source, event_id) DO NOTHING
"""


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

    def wanted(row: dict[str, Any]) -> bool:
        occurred_at = parse_datetime(row["occurred_at"])
        return (
            (not event_type or row["event_type"] == event_type)
            and (since is None or (occurred_at is not None and occurred_at >= since))
            and (until is None or (occurred_at is not None and occurred_at < until))
        )

    restored = 0
    for archived in files:
        batch: list[tuple[dict[str, Any], str]] = []
        for line in archive_read_lines(archived.name, archived.sha256):
            row = json.loads(line)
            if wanted(row):
                batch.append((row, raw_field(line, "data")))
            if len(batch) >= RESTORE_CHUNK:
                restored += _insert(batch)
                batch = []
        restored += _insert(batch)
        if progress:
            progress(archived.rows)
    return restored


def _insert(batch: list[tuple[dict[str, Any], str]]) -> int:
    if not batch:
        return 0
    columns = [[row[name] for row, _ in batch] for name in INBOX_FIELDS]
    by_name = dict(zip(INBOX_FIELDS, columns, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            RESTORE_SQL,
            [
                InboxState.PENDING,
                by_name["source"],
                by_name["event_id"],
                by_name["event_type"],
                by_name["spec_version"],
                by_name["occurred_at"],
                by_name["sequence"],
                [data for _, data in batch],
                by_name["received_at"],
                by_name["processed_at"],
            ],
        )
        return cursor.rowcount


def archived_inbox_count(*, source: str | None = None) -> int:
    return sum(
        archived.rows
        for archived in ArchiveFile.objects.filter(kind=ArchiveKind.INBOX).filter(
            Q(source=source) if source else Q()
        )
    )
