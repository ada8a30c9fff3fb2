"""Positions for the change feed, assigned after commit by one stamper at a time.

Triggers record changes without a position (`visibility/change_triggers.py`): a position
taken inside the writing transaction (a serial) becomes visible when that transaction
commits, so under concurrent writers a larger one can be seen before a smaller one and a
reader resuming "after the last position" would skip the smaller one for ever.

Instead, `stamp_positions` numbers rows that are already committed, in a transaction
holding an advisory lock: stampers run one after another, each draws its positions
after the previous one committed, so every position it assigns is greater than every
position any reader can already see. Readers therefore see positions only as a growing
prefix, and `position > cursor` never skips a row (docs/ARCHITECTURE.md, "The change
feed"). A row committed while a stamper runs is simply numbered by the next one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from visibility.models import ChangeFeedMarks

# pg_advisory_xact_lock key of the stamper ("vischg" in ASCII).
STAMPER_LOCK = 0x766973636867
STAMP_BATCH = 50_000


def stamp_positions(*, wait: bool = False) -> int:
    """Give committed change rows their positions; how many were stamped.

    Without `wait` a stamper already running is left to do it (a reader never queues
    behind another); its stamps are visible once it commits. Runs in its own
    transaction: it must commit before the caller reads, and never be rolled back
    with a caller's work after positions were shown.
    """
    if connection.in_atomic_block:
        # It could not commit before the caller reads; the next caller outside a
        # transaction, or the beat, stamps.
        return 0
    stamped = 0
    with transaction.atomic(), connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [STAMPER_LOCK])
        else:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [STAMPER_LOCK])
            if not cursor.fetchone()[0]:
                return 0
        # A new statement, hence (READ COMMITTED) a snapshot taken after the lock:
        # it sees every earlier stamper's positions and every row committed by now.
        cursor.execute(
            """
                UPDATE visibility_change change
                SET position = numbered.position
                FROM (
                    SELECT id, nextval('visibility_change_position_seq') AS position
                    FROM (
                        SELECT id FROM visibility_change
                        WHERE position IS NULL ORDER BY id LIMIT %s
                    ) unstamped
                ) numbered
                WHERE change.id = numbered.id
                """,
            [STAMP_BATCH],
        )
        stamped = cursor.rowcount
    return stamped


PRUNE_BATCH = 10_000


def changes_prune(now: datetime) -> int:
    """Delete the oldest change rows, in position order, while they are older than
    CHANGE_RETENTION_DAYS; raise `ChangeFeedMarks.pruned_through` to the last position
    deleted. Pruning a prefix of the positions (never a row above one kept) gives the
    one rule clients need: a cursor below `pruned_through` may have missed changes and is
    answered 410 Gone; at or above it, nothing it has not read was pruned. How many rows.
    """
    cutoff = now - timedelta(days=settings.CHANGE_RETENTION_DAYS)
    deleted = 0
    while True:
        with transaction.atomic():
            # Serialized with other pruners by the row lock on the marks.
            marks = ChangeFeedMarks.current(for_update=True)
            with connection.cursor() as cursor:
                cursor.execute(
                    """
                    WITH batch AS (
                        SELECT id, position, changed_at FROM visibility_change
                        WHERE position > %s ORDER BY position LIMIT %s
                    ),
                    stop AS (SELECT min(position) AS position FROM batch WHERE changed_at >= %s),
                    gone AS (
                        DELETE FROM visibility_change change
                        USING batch, stop
                        WHERE change.id = batch.id
                            AND (stop.position IS NULL OR batch.position < stop.position)
                        RETURNING change.position
                    )
                    SELECT count(*), max(position), (SELECT position FROM stop) FROM gone
                    """,
                    [marks.pruned_through, PRUNE_BATCH, cutoff],
                )
                count, last, stopped_at = cursor.fetchone()
            if count:
                marks.pruned_through = last
                marks.save(update_fields=["pruned_through"])
        deleted += count
        if count < PRUNE_BATCH or stopped_at is not None:
            return deleted
