"""Clock-driven states: what is overdue, late, stale or awaiting a document *now*.

Derivation (visibility/services/derivation.py) calls `shipments_clock_refresh` for every
shipment it derives; beat calls `clock_sweep` every `CLOCK_SWEEP_SECONDS`. Each shipment's
`ShipmentClock` row stores `next_check_at`, the earliest future instant at which one of
the rules could flip (NULL when none can), so the sweep reads only the rows that are due,
through a partial index, never the open shipments as a whole; it rewrites those narrow
rows and writes a shipment only when a state readers see changed (docs/ARCHITECTURE.md,
"Time is an input"). `now` is always passed in, so tests fix the clock instead of
sleeping.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.functions import Now
from django.utils import timezone

from core.db.bulk import execute_with_arrays
from visibility.models import (
    ChangeFeedMarks,
    Document,
    Invoice,
    Shipment,
    ShipmentClock,
    ShipmentStatus,
)
from visibility.services.exceptions import exceptions_sync
from visibility.services.notifications import Occurrence, notifications_record

CLOCK_FIELDS = [
    "overdue",
    "late_by_hours",
    "tracking_stale",
    "pod_missing",
    "not_invoiced",
]
FRESHNESS_FIELDS = ["last_heard_at", "last_heard_source"]
# What a notification's payload reads besides CLOCK_INPUTS (notifications._payload):
# loaded with the flipped rows, else each was one deferred-field query.
NOTIFICATION_INPUTS = ["received_by"]

# What the rules read of a shipment, besides the fields they set.
CLOCK_INPUTS = [
    "shipment_id",
    "customer_account_id",
    "mode",
    "status",
    "eta",
    "eta_window_end",
    "promised_date",
    "delayed",
    "delivered_at",
    "last_event_at",
    "delay_notified_eta",
    "snapshot_event_key",
]

IN_TRANSIT = (ShipmentStatus.IN_TRANSIT, ShipmentStatus.OUT_FOR_DELIVERY)
CLOSED = (ShipmentStatus.DELIVERED, ShipmentStatus.CANCELLED)

# The rules, evaluated by PostgreSQL for a set of shipments (`target`, a query of ids) and
# written in the same statement: no shipment object is built to evaluate it. Per row,
# with `now` the sweep's instant:
# - overdue: open, and the ETA (or the end of its window) has passed;
# - late_by_hours: the hours (rounded up) by which the delivery, else the future ETA, else
#   now (not delivered, no future ETA: it arrives no earlier than now) is after the end of
#   the promised day (delivering at any moment of that day is on time); not cancelled;
# - tracking_stale: in transit, with no event for TRACKING_STALE_HOURS of its mode;
# - pod_missing / not_invoiced: delivered POD_MISSING_HOURS / NOT_INVOICED_DAYS ago
#   without a POD document / an invoice naming it;
# - next_check_at (stored in visibility_shipmentclock, `clocked`): the earliest future
#   instant at which one of them can flip, NULL when none can. A late open shipment
#   without a future ETA grows its slip while it waits (shown in days): it is read again
#   at the next whole day past the promised end, strictly after now (at an exact day
#   boundary rounding up would give now itself: due again at once, forever).
# The shipment row is written (`updated`) only when one of the states changed, the slip
# included, or with `write_all` (`heard`: derivation's freshness): a re-check that changes
# nothing a reader sees rewrites one narrow clock row, and records no change-feed entry.
# `flags_changed`: one of the states exceptions and notifications follow flipped (not the
# slip growing, not only the next check); `risk_changed`: the order's at-risk input did.
_CLOCK_SQL = """
WITH p AS (
    SELECT %s::timestamptz AS now, %s::jsonb AS stale_hours, %s::float8 AS stale_default,
        %s::float8 AS pod_hours, %s::float8 AS invoice_days
),
target AS MATERIALIZED ({target}),
base AS MATERIALIZED (
    SELECT s.id, p.now, s.status, s.overdue AS was_overdue, s.late_by_hours AS was_late_by,
        s.tracking_stale AS was_stale, s.pod_missing AS was_pod_missing,
        s.not_invoiced AS was_not_invoiced,
        s.status NOT IN ({closed}) AS is_open,
        s.status = {delivered} AS delivered,
        COALESCE(s.eta_window_end, s.eta) AS deadline,
        ((s.promised_date + 1)::timestamp AT TIME ZONE 'UTC') AS promised_end,
        CASE WHEN s.status = {delivered} THEN s.delivered_at
             WHEN s.eta > p.now THEN s.eta
             ELSE p.now END AS arrival,
        s.status <> {delivered} AND NOT COALESCE(s.eta > p.now, false) AS arrives_now,
        CASE WHEN s.status IN ({in_transit}) THEN s.last_event_at
            + COALESCE((p.stale_hours ->> s.mode)::float8, p.stale_default)
            * interval '1 hour' END AS stale_at,
        CASE WHEN s.status = {delivered} AND NOT EXISTS (
                SELECT 1 FROM visibility_document d
                WHERE d.shipment_id = s.id AND d.document_type = {pod})
            THEN s.delivered_at + p.pod_hours * interval '1 hour' END AS pod_due,
        CASE WHEN s.status = {delivered} AND NOT EXISTS (
                SELECT 1 FROM visibility_invoice i
                WHERE i.shipment_ids @> ARRAY[s.shipment_id]::varchar(128)[])
            THEN s.delivered_at + p.invoice_days * interval '1 day' END AS invoice_due
    FROM visibility_shipment s JOIN target t ON t.id = s.id CROSS JOIN p
),
evaluated AS MATERIALIZED (
    SELECT b.*,
        COALESCE(b.is_open AND b.deadline <= b.now, false) AS overdue,
        CASE WHEN b.status <> {cancelled} AND b.arrival > b.promised_end
            THEN ceil(extract(epoch FROM b.arrival - b.promised_end) / 3600)::int
        END AS late_by_hours,
        COALESCE(b.stale_at <= b.now, false) AS tracking_stale,
        COALESCE(b.pod_due <= b.now, false) AS pod_missing,
        COALESCE(b.invoice_due <= b.now, false) AS not_invoiced,
        LEAST(
            CASE WHEN b.is_open AND b.deadline > b.now THEN b.deadline END,
            CASE WHEN b.is_open AND b.arrival <= b.promised_end THEN b.promised_end
                 WHEN b.is_open AND b.arrival > b.promised_end AND b.arrives_now
                 THEN b.promised_end + (floor(
                     extract(epoch FROM b.now - b.promised_end) / 86400) + 1) * interval '1 day'
            END,
            CASE WHEN b.stale_at > b.now THEN b.stale_at END,
            CASE WHEN b.pod_due > b.now THEN b.pod_due END,
            CASE WHEN b.invoice_due > b.now THEN b.invoice_due END
        ) AS next_check_at
    FROM base b
),
clocked AS (
    INSERT INTO visibility_shipmentclock AS c (shipment_id, next_check_at)
    SELECT e.id, e.next_check_at FROM evaluated e
    ON CONFLICT (shipment_id) DO UPDATE SET next_check_at = EXCLUDED.next_check_at
    WHERE c.next_check_at IS DISTINCT FROM EXCLUDED.next_check_at
),
updated AS (
    UPDATE visibility_shipment s
    SET overdue = e.overdue, late_by_hours = e.late_by_hours,
        tracking_stale = e.tracking_stale, pod_missing = e.pod_missing,
        not_invoiced = e.not_invoiced{heard}
    FROM evaluated e
    WHERE s.id = e.id AND ({write_all} OR (e.was_overdue, e.was_late_by, e.was_stale,
        e.was_pod_missing, e.was_not_invoiced) IS DISTINCT FROM (e.overdue, e.late_by_hours,
        e.tracking_stale, e.pod_missing, e.not_invoiced))
    RETURNING s.id, s.last_heard_at, s.last_heard_source
)
SELECT {returning} FROM (
    SELECT e.id, e.overdue, e.late_by_hours, e.tracking_stale, e.pod_missing,
        e.not_invoiced, e.next_check_at, u.last_heard_at, u.last_heard_source,
        (e.was_overdue, e.was_late_by IS NULL, e.was_stale, e.was_pod_missing,
            e.was_not_invoiced)
        IS DISTINCT FROM (e.overdue, e.late_by_hours IS NULL, e.tracking_stale,
            e.pod_missing, e.not_invoiced) AS flags_changed,
        (e.was_overdue, e.was_late_by IS NULL)
        IS DISTINCT FROM (e.overdue, e.late_by_hours IS NULL) AS risk_changed
    FROM evaluated e LEFT JOIN updated u ON u.id = e.id
) written
"""

# Freshness, when an event touching them was just projected: heard now, from the source
# of the most recently projected history fact (facts are inserted in projection order, so
# the highest id is the last heard), else of the snapshot that wrote the shipment.
_HEARD_SQL = """,
        last_heard_at = e.now,
        last_heard_source = COALESCE(
            NULLIF(split_part((
                SELECT f.event_key FROM visibility_shipmentevent f
                WHERE f.shipment_id = s.id ORDER BY f.id DESC LIMIT 1), ':', 1), ''),
            split_part(COALESCE(s.snapshot_event_key, ''), ':', 1))"""


def _literals(values: Sequence[str]) -> str:
    return ", ".join("'" + str(value) + "'" for value in values)


# Enumeration values (fixed identifiers, no quotes in them) written into the statement.
_SQL_CONSTANTS = {
    "closed": _literals(CLOSED),
    "delivered": _literals([ShipmentStatus.DELIVERED]),
    "cancelled": _literals([ShipmentStatus.CANCELLED]),
    "in_transit": _literals(IN_TRANSIT),
    "pod": _literals([Document.DocumentType.POD]),
}


def _clock_write(
    target: tuple[str, Sequence[Any]], now: datetime, *, heard: bool, returning: Sequence[str]
) -> list[tuple[Any, ...]]:
    """Evaluate the rules for the shipments `target` selects and store them; the
    `returning` columns (`id`, CLOCK_FIELDS, `next_check_at`, FRESHNESS_FIELDS (with
    `heard`), `flags_changed`, `risk_changed`) of every row evaluated."""
    target_sql, target_params = target
    sql = _CLOCK_SQL.format(
        target=target_sql,
        heard=_HEARD_SQL if heard else "",
        write_all="true" if heard else "false",
        returning=", ".join(returning),
        **_SQL_CONSTANTS,
    )
    params = [
        now,
        json.dumps(settings.TRACKING_STALE_HOURS),
        settings.TRACKING_STALE_HOURS_DEFAULT,
        settings.POD_MISSING_HOURS,
        settings.NOT_INVOICED_DAYS,
        *target_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def shipments_clock_refresh(
    shipments: list[Shipment], now: datetime, *, heard: bool = False
) -> list[Occurrence]:
    """Evaluate the clock rules for these (just derived, written) shipments, store the
    states (copied onto the objects too), follow them with the orders' at-risk flag and
    the exception records, and return the notification occurrences they owe
    (visibility/services/exceptions.py).

    `heard`: an event touching them was just projected (freshness is updated).
    """
    if not shipments:
        return []
    ids = [shipment.id for shipment in shipments]
    fields = [*CLOCK_FIELDS, *(FRESHNESS_FIELDS if heard else [])]
    rows = _clock_write(
        ("SELECT unnest(%s::bigint[]) AS id", [ids]), now, heard=heard, returning=["id", *fields]
    )
    written = {row[0]: row[1:] for row in rows}
    for shipment in shipments:
        for name, value in zip(fields, written[shipment.id], strict=True):
            setattr(shipment, name, value)
    orders_at_risk_refresh(ids)
    return exceptions_sync(shipments, now)


# One statement with the shipment ids as an array: the ORM form (an update over an
# `Exists` subquery) cost more to compile than to run on every batch, and orders whose
# flag already holds are not rewritten.
_ORDERS_AT_RISK = """
WITH flag AS (
    SELECT touched.order_id, EXISTS (
        SELECT 1 FROM visibility_shipmentorder link
        JOIN visibility_shipment s ON s.id = link.shipment_id
        WHERE link.order_id = touched.order_id
        AND (s.overdue OR s.late_by_hours IS NOT NULL)
        AND NOT (s.status = ANY(%s::varchar[]))
    ) AS at_risk
    FROM (
        SELECT DISTINCT order_id FROM visibility_shipmentorder
        WHERE shipment_id = ANY(%s::bigint[])
    ) touched
), changed AS (
    SELECT o.id, flag.at_risk FROM visibility_order o JOIN flag ON flag.order_id = o.id
    WHERE o.at_risk IS DISTINCT FROM flag.at_risk
    ORDER BY o.id
    FOR NO KEY UPDATE OF o
)
UPDATE visibility_order o SET at_risk = changed.at_risk
FROM changed WHERE o.id = changed.id
"""


def orders_at_risk_refresh(shipment_ids: list[int]) -> int:
    """An order is at risk when any of its open shipments is late or overdue; returns how
    many orders' flag changed.

    The orders whose flag changes are locked in id order before they are written, as
    projection locks them (visibility/services/projection/locks.py): the sweep runs beside
    projection batches, and an UPDATE alone locks its rows in whatever order its plan
    reads them."""
    if not shipment_ids:
        return 0
    return execute_with_arrays(_ORDERS_AT_RISK, [[str(status) for status in CLOSED], shipment_ids])


def _due(now: datetime, limit: int) -> QuerySet[Shipment]:
    """The shipments whose next check has come, oldest first, at most `limit`, locked:
    their clock rows, then the shipment rows, each skipping rows another transaction
    holds. Derivation writes a shipment then its clock row; locking the shipment too,
    without waiting, means a sweep never waits for a shipment while holding a clock row
    that derivation waits for (a deadlock); a skipped row stays due for the next sweep."""
    due_clocks = (
        ShipmentClock.objects.filter(next_check_at__lte=now)
        .order_by("next_check_at")
        .select_for_update(skip_locked=True)
        .values("shipment_id")[:limit]
    )
    return Shipment.objects.filter(id__in=due_clocks).select_for_update(
        skip_locked=True, no_key=True, of=("self",)
    )


def due_shipments(now: datetime, limit: int) -> QuerySet[Shipment]:
    """The shipments whose next check has come (`_due`): reads the partial index
    `shipment_next_check` of the narrow clock table, never the whole table."""
    return _due(now, limit).only(*CLOCK_INPUTS, *CLOCK_FIELDS)


def clock_sweep(now: datetime, *, limit: int | None = None) -> int:
    """Re-evaluate the shipments that are due, in one batch of at most `limit`
    (CLOCK_SWEEP_BATCH); return how many.

    Set-based: one statement locks the due batch, evaluates the rules, rewrites every
    row's next check and writes the shipments whose states changed (`_CLOCK_SQL`); only
    the rows whose states flipped are read back, to refresh their orders' at-risk flag,
    open or resolve their exception records and record the notifications owed. A row
    whose states did not flip needs neither: its records already follow those states
    (each evaluation syncs them)."""
    limit = limit or settings.CLOCK_SWEEP_BATCH
    with transaction.atomic():
        # Compiled inside the transaction: Django refuses to compile a FOR UPDATE outside
        # one (the beat task runs in autocommit; a test's own transaction hid this).
        due_sql, due_params = _due(now, limit).values("id").query.sql_with_params()
        rows = _clock_write(
            (due_sql, due_params),
            now,
            heard=False,
            returning=["id", "flags_changed", "risk_changed"],
        )
        at_risk = [shipment_id for shipment_id, _, risk_changed in rows if risk_changed]
        if at_risk:
            orders_at_risk_refresh(at_risk)
        flipped = [shipment_id for shipment_id, flags_changed, _ in rows if flags_changed]
        if flipped:
            shipments = list(
                Shipment.objects.filter(id__in=flipped).only(
                    *CLOCK_INPUTS, *CLOCK_FIELDS, *NOTIFICATION_INPUTS
                )
            )
            notifications_record(exceptions_sync(shipments, now))
    return len(rows)


def invoices_overdue_record(now: datetime) -> int:
    """Record, for the change feed, the unpaid invoices that turned overdue since the last
    run: an invoice's status is derived when read (`selectors.with_invoice_status`:
    overdue once unpaid after its due date), so nothing would otherwise be written when
    the date passes. Touching them fires the invoice triggers,
    which record the invoice and the orders it names, and stamp `updated_at`. The first
    run records every unpaid invoice already overdue. How many invoices."""
    today = timezone.localdate(now)
    with transaction.atomic():
        marks = ChangeFeedMarks.current(for_update=True)
        since = marks.invoices_overdue_through
        if since is not None and since >= today:
            return 0
        due = Invoice.objects.filter(paid_at__isnull=True, due_date__lt=today)
        if since is not None:
            due = due.filter(due_date__gte=since)
        touched = due.update(updated_at=Now())
        marks.invoices_overdue_through = today
        marks.save(update_fields=["invoices_overdue_through"])
    return touched
