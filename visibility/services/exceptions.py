"""Exceptions as work: opened and auto-resolved from a shipment's state, worked by staff.

`exceptions_sync` runs wherever a shipment's state is evaluated (derivation and the
clock sweep, through visibility/services/clock.py): it opens one record per (shipment,
reason) for each problem the shipment has — a reported delay, an `exception` milestone
(X12 A7 refused, A9 damaged), or a clock rule — and resolves automatically the ones
whose problem is gone (delivered, ETA moved ahead, tracking resumed, POD arrived).
Staff acknowledge, assign, annotate and resolve (audited).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from accounts.audit import audit_record
from accounts.models import AuditAction
from core.db.bulk import bulk_update_rows, execute_with_arrays, server_bound_cursor
from visibility.exception_reasons import reason_for_delay, reason_for_exception_milestone
from visibility.models import (
    ExceptionNote,
    ExceptionReason,
    Milestone,
    Notification,
    NotificationTrigger,
    Shipment,
    ShipmentEvent,
    ShipmentException,
    ShipmentStatus,
)
from visibility.services.notifications import Occurrence, notifications_record

OpenedBy = ShipmentException.OpenedBy
Status = ShipmentException.Status

# (reason, opened by, occurrence key, raw code, detail, since): `since` is the business
# moment the problem began (see `_problems`).
Problem = tuple[str, str, str, str, str, datetime | None]
# The newest matching history fact of a shipment: (event key, code, text, occurred at).
Fact = tuple[str, str, str, datetime]


def _stamp(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


# The newest delay and the newest `exception` milestone of each shipment, in one
# statement with the ids as an array (run on every batch: the ORM's two DISTINCT ON
# queries cost more to compile than to run).
_LATEST_FACTS = """
SELECT DISTINCT ON (shipment_id, kind)
    shipment_id, kind, event_key, reason_code, carrier_status_code, remarks, occurred_at
FROM visibility_shipmentevent
WHERE shipment_id = ANY(%s::bigint[])
AND (kind = %s OR (kind = %s AND milestone = %s))
ORDER BY shipment_id, kind, occurred_at DESC, event_key DESC
"""

# (event key, code, text, when) of a fact, by shipment.
LatestFacts = dict[int, Fact]


def _latest_facts(shipment_ids: list[int]) -> tuple[LatestFacts, LatestFacts]:
    """The newest delay and the newest `exception` milestone per shipment."""
    delays: LatestFacts = {}
    raised: LatestFacts = {}
    if not shipment_ids:
        return delays, raised
    with server_bound_cursor() as cursor:
        cursor.execute(
            _LATEST_FACTS,
            [
                shipment_ids,
                str(ShipmentEvent.Kind.DELAY),
                str(ShipmentEvent.Kind.MILESTONE),
                str(Milestone.EXCEPTION),
            ],
        )
        for (
            shipment_id,
            kind,
            key,
            reason_code,
            status_code,
            remarks,
            occurred_at,
        ) in cursor.fetchall():
            found = delays if kind == ShipmentEvent.Kind.DELAY else raised
            found[shipment_id] = (key, reason_code or status_code, remarks, occurred_at)
    return delays, raised


def _after(moment: datetime | None, hours: float) -> datetime | None:
    return moment + timedelta(hours=hours) if moment else None


def _promised_end(shipment: Shipment) -> datetime | None:
    """The end of the promised day (UTC), as the clock rule reads it (services/clock.py)."""
    if shipment.promised_date is None:
        return None
    return datetime.combine(shipment.promised_date + timedelta(days=1), time(), tzinfo=UTC)


def _problems(
    shipment: Shipment, delay: Fact | None, exception: Fact | None, now: datetime
) -> list[Problem]:
    """The shipment's problems now, each with the business moment it began: the event's
    own time for a reported delay or carrier exception, the instant its clock rule
    flipped for the others (services/clock.py). The projection may run long after (a
    backlog, a replay, the demo loading twelve weeks at once): "open since" is the
    problem's age, not the projection's."""
    problems: list[Problem] = []
    if shipment.delayed and delay is not None:
        key, code, _, occurred_at = delay
        problems.append((reason_for_delay(code), OpenedBy.DELAY, key, code, "", occurred_at))
    if shipment.status == ShipmentStatus.EXCEPTION and exception is not None:
        key, code, remarks, occurred_at = exception
        reason = reason_for_exception_milestone(code)
        problems.append((reason, OpenedBy.MILESTONE, key, code, remarks[:1000], occurred_at))
    clock = OpenedBy.CLOCK
    if shipment.overdue:
        deadline = shipment.eta_window_end or shipment.eta
        problems.append((ExceptionReason.OVERDUE, clock, _stamp(deadline), "", "", deadline))
    if shipment.late_by_hours is not None:
        key = str(shipment.promised_date or "")
        # Late once the promised day ended undelivered; before that only an ETA past the
        # promise foretells it, since the newest event (the one that moved the ETA).
        promised_end = _promised_end(shipment)
        since = promised_end if promised_end and promised_end <= now else shipment.last_event_at
        problems.append((ExceptionReason.LATE, clock, key, "", "", since))
    if shipment.tracking_stale:
        key = _stamp(shipment.last_event_at)
        stale_hours = settings.TRACKING_STALE_HOURS.get(
            shipment.mode, settings.TRACKING_STALE_HOURS_DEFAULT
        )
        since = _after(shipment.last_event_at, stale_hours)
        problems.append((ExceptionReason.TRACKING_STALE, clock, key, "", "", since))
    if shipment.pod_missing:
        since = _after(shipment.delivered_at, settings.POD_MISSING_HOURS)
        problems.append((ExceptionReason.MISSING_POD, clock, "", "", "", since))
    if shipment.not_invoiced:
        since = _after(shipment.delivered_at, settings.NOT_INVOICED_DAYS * 24)
        problems.append((ExceptionReason.NOT_INVOICED, clock, "", "", "", since))
    # A delay and a carrier exception can name the same reason: one record per reason.
    unique: dict[str, Problem] = {}
    for problem in problems:
        unique.setdefault(problem[0], problem)
    return list(unique.values())


# Paperwork and tracking gaps are work for the operator's staff, not news for customers:
# they are shown, but not sent.
WORK_FOR_STAFF_ONLY = {
    ExceptionReason.TRACKING_STALE,
    ExceptionReason.MISSING_POD,
    ExceptionReason.NOT_INVOICED,
}


def _occurrence(record: ShipmentException) -> str:
    """Stable across rebuilds (made of the facts that opened it, not of its id), so a
    rebuilt record never notifies twice; at most 64 characters."""
    text = f"{record.reason}:{record.occurrence_key}"
    if len(text) <= 64:
        return text
    return f"{record.reason}:" + hashlib.sha256(record.occurrence_key.encode()).hexdigest()[:40]


def _delays_notified(shipment_refs: list[str]) -> dict[str, datetime]:
    """The latest ETA a delay notification announced per shipment, from the outbox, which
    a rebuild of the read models keeps (the shipment's own record of it is rebuilt)."""
    latest: dict[str, datetime] = {}
    for ref, occurrence in Notification.objects.filter(
        shipment_ref__in=shipment_refs, trigger=NotificationTrigger.DELAY
    ).values_list("shipment_ref", "occurrence"):
        try:
            eta = datetime.fromisoformat(occurrence)
        except ValueError:
            continue  # recorded before occurrences existed
        if ref not in latest or eta > latest[ref]:
            latest[ref] = eta
    return latest


def exceptions_sync(shipments: list[Shipment], now: datetime) -> list[Occurrence]:
    """Open and auto-resolve the exception records of these shipments as of `now`;
    return the notifications owed: each new exception, and each delay whose ETA is later
    than the last delay notified (delay-opened records notify as delays)."""
    ids = [shipment.id for shipment in shipments]
    delays, raised = _latest_facts(ids)
    known: dict[int, list[ShipmentException]] = {}
    for record in ShipmentException.objects.filter(shipment_id__in=ids).only(
        "shipment_id", "reason", "status", "occurrence_key", "resolved_automatically", "opened_by"
    ):
        known.setdefault(record.shipment_id, []).append(record)

    notified = _delays_notified([shipment.shipment_id for shipment in shipments])
    to_open: list[ShipmentException] = []
    to_resolve: list[int] = []
    occurrences: list[Occurrence] = []
    resolved: list[Occurrence] = []
    announced: list[Shipment] = []
    for shipment in shipments:
        problems = _problems(shipment, delays.get(shipment.id), raised.get(shipment.id), now)
        records = known.get(shipment.id, [])
        unresolved = {r.reason: r for r in records if r.status != Status.RESOLVED}
        # What a person resolved stays resolved for that occurrence; what resolved itself
        # opens again when the problem comes back.
        settled = {
            (r.reason, r.occurrence_key)
            for r in records
            if r.status == Status.RESOLVED and not r.resolved_automatically
        }
        wanted = {problem[0] for problem in problems}
        gone = [r for reason, r in unresolved.items() if reason not in wanted]
        to_resolve += [r.id for r in gone]
        resolved += [
            Occurrence(shipment, NotificationTrigger.EXCEPTION_RESOLVED, _occurrence(r))
            for r in gone
            if _is_customer_news(r)
        ]
        for reason, opened_by, key, code, detail, since in problems:
            if reason in unresolved or (reason, key) in settled:
                continue
            to_open.append(
                ShipmentException(
                    shipment=shipment,
                    reason=reason,
                    opened_by=opened_by,
                    occurrence_key=key[:200],
                    source_code=code[:8],
                    detail=detail,
                    # Never in the future: an event may carry a time ahead of ours.
                    opened_at=min(since, now) if since else now,
                )
            )
        last_notified = max(
            (
                moment
                for moment in (shipment.delay_notified_eta, notified.get(shipment.shipment_id))
                if moment
            ),
            default=None,
        )
        if (
            shipment.delayed
            and shipment.eta
            and (last_notified is None or shipment.eta > last_notified)
        ):
            shipment.delay_notified_eta = shipment.eta
            announced.append(shipment)
            occurrences.append(
                Occurrence(shipment, NotificationTrigger.DELAY, shipment.eta.isoformat())
            )
    if to_resolve:
        ShipmentException.objects.filter(id__in=to_resolve).update(
            status=Status.RESOLVED, resolved_at=now, resolved_automatically=True
        )
    _insert_opened(to_open)
    if announced:
        bulk_update_rows(announced, ["delay_notified_eta"])
    occurrences += [
        Occurrence(record.shipment, NotificationTrigger.EXCEPTION, _occurrence(record))
        for record in to_open
        if _is_customer_news(record)
    ]
    return occurrences + resolved


# New records carry their shipment's account and the source last heard from about it
# (what the SLA "exception aging" groups by: visibility/service_levels.py), copied in the
# same statement: Django's `bulk_create` and a second UPDATE for the copy cost more worker
# CPU than the rest of the sync on a batch that opens thousands.
_INSERT_OPENED = """
INSERT INTO visibility_shipmentexception
    (shipment_id, reason, opened_by, occurrence_key, source_code, detail, opened_at,
     status, resolved_automatically, customer_account_id, source)
SELECT new.shipment_id, new.reason, new.opened_by, new.occurrence_key, new.source_code,
    new.detail, new.opened_at, %s, false, s.customer_account_id, s.last_heard_source
FROM unnest(%s::bigint[], %s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[],
    %s::varchar[], %s::timestamptz[])
    AS new(shipment_id, reason, opened_by, occurrence_key, source_code, detail, opened_at)
JOIN visibility_shipment s ON s.id = new.shipment_id
"""


def _insert_opened(records: list[ShipmentException]) -> None:
    if not records:
        return
    execute_with_arrays(
        _INSERT_OPENED,
        [
            str(Status.OPEN),
            [record.shipment_id for record in records],
            *(
                [getattr(record, name) for record in records]
                for name in ("reason", "opened_by", "occurrence_key", "source_code", "detail")
            ),
            [record.opened_at for record in records],
        ],
    )


def _is_customer_news(record: ShipmentException) -> bool:
    """Whether its opening and resolving are sent (delay-opened ones go out as delays)."""
    return record.opened_by != OpenedBy.DELAY and record.reason not in WORK_FOR_STAFF_ONLY


# --- customer service ------------------------------------------------------------------------


def _audited(actor: User, action: str, record: ShipmentException, **details: Any) -> None:
    audit_record(
        action=AuditAction.EXCEPTION_WORKED,
        actor=actor,
        tenant=record.shipment.customer_account.tenant_id,
        target=f"exception:{record.id}",
        details={
            "change": action,
            "shipment": record.shipment.shipment_id,
            "reason": record.reason,
            **details,
        },
    )


@transaction.atomic
def exception_acknowledge(
    actor: User, record: ShipmentException, *, now: datetime
) -> ShipmentException:
    if record.status == Status.OPEN:
        record.status = Status.ACKNOWLEDGED
        record.acknowledged_at = now
        record.save(update_fields=["status", "acknowledged_at"])
        _audited(actor, "acknowledge", record)
    return record


@transaction.atomic
def exception_assign(
    actor: User, record: ShipmentException, owner: User | None
) -> ShipmentException:
    record.owner = owner
    record.save(update_fields=["owner"])
    _audited(actor, "assign", record, owner=owner.pk if owner else None)
    return record


@transaction.atomic
def exception_add_note(
    actor: User,
    record: ShipmentException,
    text: str,
    *,
    visible_to_customer: bool,
    now: datetime,
) -> ExceptionNote:
    note = ExceptionNote.objects.create(
        exception=record,
        author=actor,
        text=text,
        visible_to_customer=visible_to_customer,
        created_at=now,
    )
    _audited(actor, "note", record, visible_to_customer=visible_to_customer)
    return note


@transaction.atomic
def exception_resolve(
    actor: User, record: ShipmentException, *, now: datetime
) -> ShipmentException:
    if record.status != Status.RESOLVED:
        record.status = Status.RESOLVED
        record.resolved_at = now
        record.resolved_automatically = False
        record.save(update_fields=["status", "resolved_at", "resolved_automatically"])
        _audited(actor, "resolve", record)
        if _is_customer_news(record):
            notifications_record(
                [
                    Occurrence(
                        record.shipment, NotificationTrigger.EXCEPTION_RESOLVED, _occurrence(record)
                    )
                ]
            )
    return record


def exception_reasons_in_words(reasons: Iterable[str]) -> list[str]:
    return [ExceptionReason(reason).label for reason in reasons]
