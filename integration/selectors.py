"""Integration health: the figures operations teams watch, each one indexed query.

Pending and held rows have partial indexes, per-minute rates read the `received_at`
index over a short window, and freshness is one GROUP BY over the last day, so the
page stays cheap however large the inbox grows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from core.db.readable import as_stored_text, readable_timestamp_sql
from integration.models import InboxEvent, InboxState
from visibility.holds import HoldKey
from visibility.models import ShipmentEvent

RATE_WINDOW_MINUTES = 15


def _rows(sql: str, params: list[Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _age_seconds(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else round((now - moment).total_seconds(), 1)


def _pending_and_oldest() -> tuple[int, datetime | None]:
    """Pending rows and the oldest one's receipt (the partial index `inbox_pending`)."""
    [(pending, oldest_pending)] = _rows(
        "SELECT count(*), min(received_at) FROM integration_inboxevent WHERE state = %s",
        [InboxState.PENDING.value],
    )
    return pending, oldest_pending


def inbox_gauges(*, now: datetime | None = None) -> dict[str, float]:
    """What `/metrics` reports of the inbox at each scrape: pending rows, the oldest one's
    age in seconds (0 when none), held and dead rows. Each count reads its partial index
    (`inbox_pending`, `inbox_held_waiting_for`, `inbox_dead`): cheap however large the
    inbox has grown, since only unfinished rows are in them."""
    now = now or timezone.now()
    pending, oldest_pending = _pending_and_oldest()
    [(held, dead)] = _rows(
        """SELECT (SELECT count(*) FROM integration_inboxevent WHERE state = %s),
                  (SELECT count(*) FROM integration_inboxevent WHERE state = %s)""",
        [InboxState.HELD.value, InboxState.DEAD.value],
    )
    return {
        "pending": pending,
        "lag_seconds": _age_seconds(oldest_pending, now) or 0.0,
        "held": held,
        "dead": dead,
    }


def _events_per_minute(now: datetime) -> list[dict[str, Any]]:
    rates = _rows(
        """SELECT source, event_type, count(*) FROM integration_inboxevent
           WHERE received_at >= %s GROUP BY source, event_type ORDER BY source, event_type""",
        [now - timedelta(minutes=RATE_WINDOW_MINUTES)],
    )
    return [
        {
            "source": source,
            "event_type": event_type,
            "per_minute": round(count / RATE_WINDOW_MINUTES, 2),
        }
        for source, event_type, count in rates
    ]


def _held(now: datetime) -> list[dict[str, Any]]:
    held = _rows(
        """SELECT split_part(waiting_for, %s, 1), count(*), min(received_at)
           FROM integration_inboxevent WHERE state = %s GROUP BY 1 ORDER BY 1""",
        [HoldKey.SEPARATOR, InboxState.HELD.value],
    )
    return [
        {"waiting_for": kind, "count": count, "oldest_age_seconds": _age_seconds(oldest, now)}
        for kind, count, oldest in held
    ]


def _dead_letters(now: datetime) -> list[dict[str, Any]]:
    dead = _rows(
        """SELECT split_part(last_error, ':', 1), count(*) FROM integration_inboxevent
           WHERE state = %s GROUP BY 1 ORDER BY 2 DESC LIMIT 20""",
        [InboxState.DEAD.value],
    )
    return [{"error": error, "count": count} for error, count in dead]


def _rejected(now: datetime) -> list[dict[str, Any]]:
    rejected = _rows(
        """SELECT coalesce(errors -> 0 ->> 'field', ''), coalesce(errors -> 0 ->> 'message', ''),
                  count(*)
           FROM integration_rejectedevent WHERE received_at >= %s
           GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 20""",
        [now - timedelta(days=1)],
    )
    return [
        {"field": field, "message": message, "count": count} for field, message, count in rejected
    ]


def _sources(now: datetime) -> list[dict[str, Any]]:
    # occurred_at is what senders wrote: one Python cannot read must not fail the page.
    freshness = _rows(
        f"""SELECT source, max(received_at), {readable_timestamp_sql("max(occurred_at)")}
            FROM integration_inboxevent
            WHERE received_at >= %s GROUP BY source ORDER BY source""",
        [now - timedelta(days=1)],
    )
    return [
        {
            "source": source,
            "last_received_at": received.isoformat(),
            "last_occurred_at": occurred.isoformat() if occurred else None,
            "age_seconds": _age_seconds(received, now),
        }
        for source, received, occurred in freshness
    ]


def _unmapped_status_codes(now: datetime) -> list[dict[str, Any]]:
    # The partial index `history_unmapped_code` holds only these facts: the count never
    # reads the rest of the history (2 s at 10,000,000 facts before it).
    unmapped = _rows(
        """SELECT carrier_status_code, count(*) FROM visibility_shipmentevent
           WHERE kind = %s GROUP BY 1 ORDER BY 2 DESC LIMIT 20""",
        [ShipmentEvent.Kind.UNMAPPED_CODE.value],
    )
    return [{"code": code, "count": count} for code, count in unmapped]


# Each figure of the health page but the inbox's, by its key in `integration_health`'s
# answer: one query each (`make bench-reads` times them one by one).
HEALTH_FIGURES: dict[str, Callable[[datetime], list[dict[str, Any]]]] = {
    "events_per_minute": _events_per_minute,
    "held": _held,
    "dead_letters": _dead_letters,
    "rejected_last_24h": _rejected,
    "sources": _sources,
    "unmapped_status_codes": _unmapped_status_codes,
}


def integration_health(*, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    pending, oldest_pending = _pending_and_oldest()
    return {
        "generated_at": now.isoformat(),
        "inbox": {"pending": pending, "lag_seconds": _age_seconds(oldest_pending, now)},
        **{key: figure(now) for key, figure in HEALTH_FIGURES.items()},
    }


# --- the platform admin's lists: dead letters, held events, throughput -------------------

# What a list shows of a stored event: never `data` or `occurred_at` as Python objects (a
# row Python cannot read, often the reason it is dead, must not fail the page).
_LISTED_FIELDS = (
    "id",
    "source",
    "event_id",
    "event_type",
    "received_at",
    "processed_at",
    "attempts",
    "last_error",
    "waiting_for",
    "next_attempt_at",
    "state",
)


def dead_letters() -> QuerySet:
    """Dead events, newest first, as dicts (with `occurred_at_text` as stored)."""
    return (
        InboxEvent.objects.filter(state=InboxState.DEAD)
        .order_by("-received_at", "-id")
        .values(*_LISTED_FIELDS, occurred_at_text=as_stored_text("occurred_at"))
    )


def dead_letter_get(inbox_id: int) -> dict[str, Any] | None:
    """One dead event with its body as stored text, or None."""
    return (
        InboxEvent.objects.filter(state=InboxState.DEAD, id=inbox_id)
        .values(
            *_LISTED_FIELDS,
            "spec_version",
            "sequence",
            occurred_at_text=as_stored_text("occurred_at"),
            data_text=as_stored_text("data"),
        )
        .first()
    )


def held_events() -> QuerySet:
    """Held events, oldest first, with what each waits for."""
    return (
        InboxEvent.objects.filter(state=InboxState.HELD)
        .order_by("received_at", "id")
        .values(*_LISTED_FIELDS, occurred_at_text=as_stored_text("occurred_at"))
    )


def throughput_by_minute(*, now: datetime | None = None, minutes: int = 60) -> list[dict]:
    """Events received and projected per minute over the last `minutes`, with the mean
    lag (received to projected) of the events projected in that minute; every minute
    present, zeros included, oldest first (the health page's charts)."""
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    start = now - timedelta(minutes=minutes - 1)
    received = dict(
        _rows(
            """SELECT date_trunc('minute', received_at), count(*) FROM integration_inboxevent
               WHERE received_at >= %s GROUP BY 1""",
            [start],
        )
    )
    projected = {
        minute: (count, lag)
        for minute, count, lag in _rows(
            """SELECT date_trunc('minute', processed_at), count(*),
                      avg(extract(epoch FROM processed_at - received_at))
               FROM integration_inboxevent
               WHERE processed_at >= %s AND state = %s GROUP BY 1""",
            [start, InboxState.PROCESSED.value],
        )
    }
    series = []
    for offset in range(minutes):
        minute = start + timedelta(minutes=offset)
        count, lag = projected.get(minute, (0, None))
        series.append(
            {
                "minute": minute,
                "received": received.get(minute, 0),
                "projected": count,
                "lag_seconds": None if lag is None else max(float(lag), 0.0),
            }
        )
    return series
