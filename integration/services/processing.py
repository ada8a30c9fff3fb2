"""Processing: claim inbox rows in batches and project them into the read models.

A batch takes the events of one or more lanes (`visibility.lanes`: events are partitioned
by their order's story): it holds each lane's transaction-level advisory lock, taken
without waiting, so each lane is projected by one batch at a time and batches of
different lanes run at once. It claims with `FOR UPDATE SKIP LOCKED`, and claim,
projection and the state change commit in one transaction: a worker killed mid-batch
leaves its rows pending, and the sweep hands them to another worker. Nothing is projected
twice because nothing half-done commits. Where lanes meet (a shipment linking orders,
derivation, invoices touching orders), rows are locked in one global order
(`visibility.services.projection.locks`), so concurrent batches cannot deadlock.

One event's data must never stop the others (docs/ARCHITECTURE.md, "How an event flows"):
what is bisected is projection *and* the derivation and notifications it causes, so a
failure anywhere in them fails only the events that cause it; a failure of the database
itself rolls the whole batch back instead (core/db/failures.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Substr
from django.utils import timezone

from accounts.models import CustomerAccount
from core import metrics
from core.db.bulk import server_bound_cursor, update_rows
from core.db.failures import is_infrastructure_failure
from core.db.readable import READABLE_TIMESTAMP_MAX, READABLE_TIMESTAMP_MIN
from core.logs import new_batch_id, projection_batch
from integration.enqueue import enqueue_process_inbox
from integration.models import WAITING_FOR_MAX_LENGTH, InboxEvent, InboxState, event_key
from visibility.holds import HoldKey, HoldKind
from visibility.lanes import named_aggregates
from visibility.models import Invoice, Order, Shipment
from visibility.services.derivation import derive_orders, derive_shipments
from visibility.services.notifications import notifications_record
from visibility.services.projection import (
    PROJECTION_ORDER,
    Hold,
    ProjectedEvent,
    ProjectionEffects,
    project_batch,
    project_event,
)
from visibility.services.projection.locks import aggregates_lock, derivation_lock

logger = logging.getLogger(__name__)


@dataclass
class BatchOutcome:
    claimed: int = 0
    processed: int = 0
    held: int = 0
    failed: int = 0
    released: int = 0
    # Stored on the rows it claimed (`InboxEvent.batch_id`) and the notifications it
    # recorded, and logged: "what happened to event X" follows it.
    batch_id: str = ""


@dataclass(slots=True)
class ClaimedRow:
    """An inbox row claimed by a batch: what projection reads, and the state it leaves.
    Read as a tuple, not a model instance: a batch claims a thousand of them."""

    id: int
    source: str
    event_id: str
    event_type: str
    occurred_at: datetime | None
    sequence: int | None
    data: Any
    attempts: int
    state: str = InboxState.PENDING
    waiting_for: str = ""
    last_error: str = ""
    next_attempt_at: datetime | None = None
    # Why the row cannot even be read into an event (see `from_claim`); it fails at once.
    unreadable: str = ""

    @property
    def key(self) -> str:
        return event_key(self.source, self.event_id)

    @classmethod
    def from_claim(cls, row: tuple) -> ClaimedRow:
        """A row as `_CLAIM` returns it (its RETURNING list, in that order).

        A row stored with what Python cannot read (a timestamp outside its years, JSON too
        deep or a number too long for `json.loads`, a type no projector knows) is returned
        marked `unreadable` rather than failing the claim of its whole batch."""
        id, source, event_id, event_type, occurred_at, sequence, text, attempts = row
        unreadable = ""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as error:
            data, unreadable = None, f"data: {type(error).__name__}: {error}"
        if occurred_at is None:
            unreadable = "occurred_at is outside what Python reads (years 1 to 9999)"
        if event_type not in PROJECTION_ORDER:
            unreadable = f"no projection for event type {event_type!r}"
        return cls(
            id=id,
            source=source,
            event_id=event_id,
            event_type=event_type,
            occurred_at=occurred_at,
            sequence=sequence,
            # Django has jsonb arrive as text (JSONField decodes it).
            data=data,
            attempts=attempts,
            unreadable=unreadable,
        )


# Claiming marks the rows processed in the same statement (one write per row instead of a
# row lock and a later update). Rows held or failed by projection are written again
# (`_save_states`); if the transaction rolls back they are pending again. `occurred_at`
# comes back NULL when Python cannot hold it (core/db/readable.py), so one such row cannot
# fail the claim.
_CLAIM = """
WITH claimed AS (
    SELECT id FROM integration_inboxevent
    WHERE state = %b AND (next_attempt_at IS NULL OR next_attempt_at <= %b)
    AND lane_slot %% %b = ANY(%b::int[])
    ORDER BY id LIMIT %b
    FOR UPDATE SKIP LOCKED
)
UPDATE integration_inboxevent AS inbox
SET state = %b, waiting_for = '', last_error = '', next_attempt_at = NULL,
    processed_at = %b, batch_id = %b
FROM claimed WHERE inbox.id = claimed.id
RETURNING inbox.id, inbox.source, inbox.event_id, inbox.event_type,
    CASE WHEN inbox.occurred_at BETWEEN %b AND %b THEN inbox.occurred_at END,
    inbox.sequence, inbox.data, inbox.attempts
"""


def _claim(batch_size: int, now: datetime, lanes: list[int], batch_id: str) -> list[ClaimedRow]:
    with server_bound_cursor() as cursor:
        cursor.execute(
            _CLAIM,
            [
                InboxState.PENDING.value,
                now,
                settings.INBOX_LANES,
                lanes,
                batch_size,
                InboxState.PROCESSED.value,
                now,
                batch_id,
                READABLE_TIMESTAMP_MIN,
                READABLE_TIMESTAMP_MAX,
            ],
        )
        return [ClaimedRow.from_claim(row) for row in cursor.fetchall()]


def _as_projected(row: ClaimedRow) -> ProjectedEvent:
    if row.occurred_at is None:  # unreadable: failed before projection, never here
        raise ValueError(row.unreadable)
    return ProjectedEvent(
        key=row.key,
        event_type=row.event_type,
        occurred_at=row.occurred_at,
        sequence=row.sequence,
        data=row.data,
    )


def process_inbox_batch(*, batch_size: int | None = None) -> BatchOutcome:
    """Claim and project one batch of pending inbox rows; return what happened.

    A batch that claimed rows is measured (`portal_projection_batch_*`) and logged once
    committed, with an id of its own and the event keys it left in each state."""
    started = time.perf_counter()
    outcome, rows = _process_batch_retrying(batch_size or settings.INBOX_BATCH_SIZE)
    if rows:
        elapsed = time.perf_counter() - started
        metrics.projection_batch_size.observe(outcome.claimed)
        metrics.projection_batch_duration.observe(elapsed)
        _log_batch(rows, outcome, elapsed)
    return outcome


def _log_batch(rows: list[ClaimedRow], outcome: BatchOutcome, elapsed: float) -> None:
    keys_by_state: dict[str, list[str]] = {state: [] for state in InboxState.values}
    for row in rows:
        keys_by_state[row.state].append(row.key)
    for state, count in (
        ("processed", outcome.processed),
        ("held", outcome.held),
        ("failed", outcome.failed),
    ):
        if count:
            metrics.projection_events.labels(state).inc(count)
    logger.info(
        "batch projected",
        extra={
            "batch_id": outcome.batch_id,
            "claimed": outcome.claimed,
            "duration_seconds": round(elapsed, 3),
            "processed": keys_by_state[InboxState.PROCESSED],
            "held": keys_by_state[InboxState.HELD],
            # Failed: retried later (pending) or given up (dead).
            "failed": keys_by_state[InboxState.PENDING] + keys_by_state[InboxState.DEAD],
            "released": outcome.released,
        },
    )


# The lanes with due events among the oldest pending rows (twice a batch's worth) are the
# candidates, with how many of those rows each holds.
_CANDIDATE_LANES = """
SELECT lane, count(*) FROM (
    SELECT lane_slot %% %s AS lane, id FROM integration_inboxevent
    WHERE state = %s AND (next_attempt_at IS NULL OR next_attempt_at <= %s)
    ORDER BY id LIMIT %s
) AS oldest
GROUP BY lane ORDER BY min(id)
"""

# The first key of the lanes' transaction-level advisory locks (the second is the lane),
# guarded only by this module.
LANE_LOCK_CLASS = 7_214


def _claim_in_lanes(batch_size: int, now: datetime, batch_id: str) -> list[ClaimedRow]:
    """Take the lanes of the oldest due events that no other batch holds, as many as fill
    a batch, and claim their events. A lane's lock is tried, never waited for: a busy lane
    is left to the batch projecting it. Held until the transaction ends.

    Several lanes per batch, not one: each batch has fixed costs (some seventy statements),
    so a backlog spread over sixteen lanes projected one lane a batch cost its fixed costs
    sixteen times over. A batch stops taking lanes once they hold a batch's worth of the
    candidate rows, which leaves the next lanes to a second worker."""
    with connection.cursor() as cursor:
        cursor.execute(
            _CANDIDATE_LANES,
            [settings.INBOX_LANES, InboxState.PENDING.value, now, 2 * batch_size],
        )
        candidates = cursor.fetchall()
        lanes: list[int] = []
        expected = 0
        for lane, count in candidates:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LANE_LOCK_CLASS, lane])
            [(locked,)] = cursor.fetchall()
            if locked:
                lanes.append(lane)
                expected += count
                if expected >= batch_size:
                    break
    return _claim(batch_size, now, lanes, batch_id) if lanes else []


# How often a batch that met a row lock it may not wait for is retried, and the pause
# before each retry (seconds, times the attempt): the holder commits within a batch.
BATCH_ATTEMPTS = 5
BATCH_RETRY_PAUSE = 0.05


def _process_batch_retrying(batch_size: int) -> tuple[BatchOutcome, list[ClaimedRow]]:
    """`_process_batch`, retried when it rolled back for a lock: a row derivation found
    only after the batch locked its rows, which another batch holds (`derivation_lock`
    takes it with NOWAIT rather than wait out of order). A deadlock is retried the same
    way but logged as an error: lock ordering should make it impossible, so one is a bug
    (`make bench-pipeline` counts them). The rows of a batch given up stay pending, and a
    worker is woken for them."""
    for attempt in range(1, BATCH_ATTEMPTS + 1):
        try:
            return _process_batch(batch_size)
        except OperationalError as error:
            deadlock = isinstance(error.__cause__, psycopg.errors.DeadlockDetected)
            if not (deadlock or isinstance(error.__cause__, psycopg.errors.LockNotAvailable)):
                raise
            log = logger.error if deadlock else logger.info
            log("batch rolled back (%s), attempt %s of %s", error, attempt, BATCH_ATTEMPTS)
            time.sleep(BATCH_RETRY_PAUSE * attempt)
    wake_inbox_worker()
    return BatchOutcome(), []


def _process_batch(batch_size: int) -> tuple[BatchOutcome, list[ClaimedRow]]:
    outcome = BatchOutcome(batch_id=new_batch_id())
    now = timezone.now()
    with transaction.atomic(), projection_batch(outcome.batch_id):
        rows = _claim_in_lanes(batch_size, now, outcome.batch_id)
        if not rows:
            return outcome, rows
        outcome.claimed = len(rows)
        for row in rows:
            if row.unreadable:
                _fail(row, outcome, now, row.unreadable)
        readable = [row for row in rows if not row.unreadable]
        aggregates_lock(named_aggregates([(row.event_type, row.data) for row in readable]))
        readable.sort(key=lambda row: (PROJECTION_ORDER[row.event_type], row.occurred_at, row.id))
        effects = ProjectionEffects()
        _project_rows(readable, effects, outcome, now)
        _fail_unstorable_holds(rows, outcome, now)
        _save_states(rows)
    outcome.released = _release_after_commit(effects.released_keys, rows)
    return outcome, rows


def _derive_and_notify(effects: ProjectionEffects) -> None:
    """Re-derive what a projection touched and record the notifications it owes: part of
    the unit `_project_rows` bisects, so a shipment whose derivation fails (an ETA that
    overflows, a stored value Python cannot read) fails the events that touched it."""
    derivation_lock(effects.shipment_ids, effects.order_ids)
    derivation = derive_shipments(effects.shipment_ids)
    derive_orders(effects.order_ids | derivation.order_ids)
    notifications_record([*derivation.transitions, *effects.occurrences])


def _project_rows(
    rows: list[ClaimedRow], effects: ProjectionEffects, outcome: BatchOutcome, now
) -> None:
    """Project `rows` in bulk, derive and notify, inside one savepoint. If anything in it
    fails, the savepoint is rolled back and each half is projected the same way, down to
    single events: the failing event is retried later and the rest of its batch goes on,
    at the cost of about two bulk passes per halving rather than one pass per event.
    Without a failure this is one pass, as projecting then deriving the batch would be."""
    if not rows:
        return
    if len(rows) == 1:
        _project_row(rows[0], effects, outcome, now)
        return
    attempt = ProjectionEffects()
    try:
        with transaction.atomic():
            held = project_batch([_as_projected(row) for row in rows], attempt)
            _derive_and_notify(attempt)
    except Exception as error:
        if is_infrastructure_failure(error):
            raise
        middle = len(rows) // 2
        _project_rows(rows[:middle], effects, outcome, now)
        _project_rows(rows[middle:], effects, outcome, now)
        return
    effects.add(attempt)
    for row in rows:
        _mark(row, outcome, waiting_for=held.get(row.key), rejected=attempt.rejected.get(row.key))


def _release_after_commit(released_keys: set[HoldKey], rows: list[ClaimedRow]) -> int:
    """Release what the batch's new rows let apply, and what its own holds wait for if
    that arrived meanwhile (a hold can cross its release in a concurrent batch).

    After commit, so the workers that claim the released events see what they waited
    for. If this fails, whatever the reason, the batch stands and the periodic sweep
    releases them (`release_satisfied_holds`).
    """
    try:
        held_for = {HoldKey.parse(row.waiting_for) for row in rows if row.state == InboxState.HELD}
        released = release_held_events(released_keys) if released_keys else 0
        return released + (release_satisfied_holds(held_for) if held_for else 0)
    except Exception:
        logger.warning("releasing held events failed; the sweep will", exc_info=True)
        return 0


def _mark(
    row: ClaimedRow,
    outcome: BatchOutcome,
    *,
    waiting_for: HoldKey | None,
    rejected: str | None = None,
) -> None:
    if rejected:
        # It can never apply (another source owns its order): retrying cannot help.
        row.state, row.last_error = InboxState.DEAD, rejected
        logger.warning("event %s is a dead letter: %s", row.key, rejected)
        outcome.failed += 1
    elif waiting_for:
        row.state, row.waiting_for = InboxState.HELD, waiting_for.format()
        outcome.held += 1
    else:
        row.state, row.waiting_for, row.last_error = InboxState.PROCESSED, "", ""
        row.next_attempt_at = None
        outcome.processed += 1


def _save_states(rows: list[ClaimedRow]) -> None:
    """Write the states of the rows projection did not process (claiming marked them
    processed), in one statement."""
    update_rows(
        InboxEvent,
        [
            {
                "id": row.id,
                "state": row.state,
                "waiting_for": row.waiting_for,
                "attempts": row.attempts,
                "last_error": row.last_error,
                "next_attempt_at": row.next_attempt_at,
                "processed_at": None,
            }
            for row in rows
            if row.state != InboxState.PROCESSED
        ],
    )


def _project_row(row: ClaimedRow, effects: ProjectionEffects, outcome: BatchOutcome, now) -> None:
    """Project one row, derive and notify inside a savepoint, so one failing event does
    not undo its batch. What it touched counts only if its savepoint stays."""
    attempt = ProjectionEffects()
    try:
        with transaction.atomic():
            project_event(_as_projected(row), attempt)
            _derive_and_notify(attempt)
    except Hold as hold:
        _mark(row, outcome, waiting_for=hold.waiting_for)
        return
    except Exception as error:
        # Any exception, expected (ValueError, KeyError, DataError, ...) or not
        # (OverflowError, RecursionError, AttributeError, ...): what one event's data
        # makes fail must fail that event alone. Only the database failing is not its fault.
        if is_infrastructure_failure(error):
            raise
        logger.warning("event %s failed", row.key, exc_info=True)
        _fail(row, outcome, now, f"{type(error).__name__}: {error}")
        return
    effects.add(attempt)
    _mark(row, outcome, waiting_for=None, rejected=attempt.rejected.get(row.key))


def _fail_unstorable_holds(rows: list[ClaimedRow], outcome: BatchOutcome, now: datetime) -> None:
    """A hold whose key is longer than the inbox stores would be cut short and never
    released (nothing has such a key): the event fails instead of waiting forever."""
    for row in rows:
        if row.state == InboxState.HELD and len(row.waiting_for) > WAITING_FOR_MAX_LENGTH:
            row.waiting_for = ""
            outcome.held -= 1
            _fail(row, outcome, now, "held for a key longer than the inbox stores")


def _fail(row: ClaimedRow, outcome: BatchOutcome, now: datetime, error: str) -> None:
    """One more failed attempt: retried after a backoff, a dead letter after
    `INBOX_MAX_ATTEMPTS`."""
    row.attempts += 1
    row.last_error = _storable(error)[:2000]
    if row.attempts >= settings.INBOX_MAX_ATTEMPTS:
        row.state = InboxState.DEAD
        logger.error(
            "event %s is a dead letter after %s attempts: %s",
            row.key,
            row.attempts,
            row.last_error,
        )
    else:
        row.state = InboxState.PENDING
        row.next_attempt_at = now + timedelta(seconds=2**row.attempts)
    outcome.failed += 1


def _storable(text: str) -> str:
    """`text` as a PostgreSQL text column accepts it: no NUL, no lone surrogate (an error
    message can quote an event's data, and a refused UPDATE would fail the batch)."""
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def release_held_events(keys: Iterable[HoldKey]) -> int:
    """Make held events waiting for any of `keys` pending again."""
    waited_for = [key.format() for key in keys]
    return _release(InboxEvent.objects.filter(state=InboxState.HELD, waiting_for__in=waited_for))


def _release(held: QuerySet[InboxEvent]) -> int:
    """Make `held` pending again. Batches of several lanes release at once and their sets
    overlap: each locks its rows in id order and skips rows another holds (that batch
    releases them, or re-checks them after it commits), so two releases never deadlock."""
    with transaction.atomic():
        locked = held.order_by("id").select_for_update(skip_locked=True).values("id")
        return InboxEvent.objects.filter(id__in=locked).update(
            state=InboxState.PENDING, waiting_for="", next_attempt_at=None
        )


def _existing(model_rows: QuerySet, field: str, kind: HoldKind) -> Q:
    """Held rows waiting for a `kind` key whose value now exists in `model_rows`."""
    prefix = HoldKey.prefix(kind)
    waited_for = Substr(OuterRef("waiting_for"), len(prefix) + 1)
    return Q(waiting_for__startswith=prefix) & Q(Exists(model_rows.filter(**{field: waited_for})))


def release_satisfied_holds(keys: set[HoldKey] | None = None) -> int:
    """Release held events whose missing piece exists by now.

    A hold and the release meant for it can cross: worker A holds a milestone while
    worker B, in a concurrent transaction, creates its shipment and releases what is
    held for it, and neither sees the other's uncommitted rows. Called after a batch
    that held events (for its `keys`) and by the periodic sweep (for all), this frees
    such events.
    """
    satisfied = (
        _existing(Shipment.objects.all(), "shipment_id", HoldKind.SHIPMENT)
        | _existing(Order.objects.all(), "order_number", HoldKind.ORDER)
        | _existing(Invoice.objects.all(), "invoice_number", HoldKind.INVOICE)
        | _existing(
            CustomerAccount.objects.filter(tenant__isnull=False), "number", HoldKind.ACCOUNT
        )
    )
    held = InboxEvent.objects.filter(state=InboxState.HELD)
    if keys is not None:
        held = held.filter(waiting_for__in=[key.format() for key in keys])
    return _release(held.filter(satisfied))


# How long a worker that finds no free lane keeps looking while due events are pending,
# and how often it looks (seconds).
LANE_WAIT_SECONDS = 10.0
LANE_WAIT_PAUSE = 0.05


def process_inbox_until_empty(*, batch_size: int | None = None, max_batches: int = 10_000) -> int:
    """Drain the inbox (used by the Celery task, demo loading and tests).

    A batch that claims nothing does not end the drain while due events are pending: their
    lanes are held by other workers' batches. Each holder loops after its commit, but a
    holder can look for work while another worker's empty probe still holds a lane's lock
    (`_claim_in_lanes` keeps the locks it tried until its transaction ends) just as
    held events are released into that lane; if both then stopped, the events would wait
    for the sweep. So it keeps looking for up to `LANE_WAIT_SECONDS`."""
    projected = 0
    idle_since: float | None = None
    for _ in range(max_batches):
        outcome = process_inbox_batch(batch_size=batch_size)
        projected += outcome.processed
        if outcome.claimed:
            idle_since = None
            continue
        if not pending_inbox_exists():
            break
        idle_since = idle_since or time.monotonic()
        if time.monotonic() - idle_since > LANE_WAIT_SECONDS:
            break
        time.sleep(LANE_WAIT_PAUSE)
    return projected


def pending_inbox_exists() -> bool:
    now = timezone.now()
    return (
        InboxEvent.objects.filter(state=InboxState.PENDING)
        .exclude(next_attempt_at__gt=now)
        .exists()
    )


def wake_inbox_worker() -> None:
    """Ask a worker to drain the inbox. Redis carries only this wake-up, never the data:
    if Redis is down the call is skipped and the periodic sweep catches up."""
    try:
        enqueue_process_inbox()
    except Exception:
        logger.warning(
            "could not wake the inbox worker; the periodic sweep will catch up", exc_info=True
        )
