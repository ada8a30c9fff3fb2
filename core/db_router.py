"""Read replicas: which database a query goes to (docs/ARCHITECTURE.md, "Read replicas").

`DATABASE_REPLICA_URLS` adds streaming replicas as the aliases `replica_1`, `replica_2`, ...
(`settings.REPLICA_DATABASES`). Everything goes to the primary (`default`) unless all of
these hold, so a read that might need the latest data never lands on a replica by chance:

- the query runs inside a page or API request marked for replica reads
  (`replica_reads_for_request`, opened by `portal.replicas.ReplicaReadMiddleware` for
  GET and HEAD); Celery workers, management commands and migrations never open one;
- the model belongs to the read models (`REPLICA_APPS`); sign-in, sessions, users, tokens,
  memberships and tenant standing are always read from the primary, so a revoked token or
  a deactivated tenant is refused at once, and a user's own settings, invitations and
  tokens are read back as written;
- no transaction is open on the primary (a read inside `transaction.atomic` belongs to it);
- the request has not written a read model itself, and its actor is not pinned: after an
  actor's own write (`db_for_write` notes it, the middleware pins the actor in the cache
  for `REPLICA_PIN_SECONDS`) their reads stay on the primary, so they read their writes;
- a replica is healthy: its replay lag, checked at most every `REPLICA_LAG_CHECK_SECONDS`
  per process, is at most `REPLICA_MAX_LAG_SECONDS`. Otherwise the primary answers.

One request reads from one replica (chosen at its first routed read), so a page never
mixes two replicas' points in time.
"""

from __future__ import annotations

import contextvars
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections
from django.db.models import Model

from core.metrics import replica_reads

logger = logging.getLogger(__name__)

PRIMARY = "default"
# Apps whose reads may be served by a replica: the read models projected from events.
REPLICA_APPS = frozenset({"visibility"})

# The replica's replay lag in seconds: 0 when it has replayed everything it received (an
# idle primary sends nothing, and "time since the last replayed commit" would grow for
# ever), else the age of the last commit it replayed. NULL when it is not a standby.
LAG_SQL = """
    SELECT CASE
        WHEN NOT pg_is_in_recovery() THEN NULL
        WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
        ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
    END
"""


def replica_aliases() -> list[str]:
    return list(getattr(settings, "REPLICA_DATABASES", []))


# --- the lag guard -----------------------------------------------------------------------


# A replica that did not answer is asked again after this long, not at every check: each
# attempt can hold a request for DATABASE_CONNECT_TIMEOUT.
UNREACHABLE_RECHECK_SECONDS = 30.0


class ReplicaUnreachable(Exception):
    pass


@dataclass(frozen=True)
class LagReading:
    lag_seconds: float | None  # None: unreachable, or not a standby
    checked_at: float  # time.monotonic()
    reachable: bool = True


_lag_readings: dict[str, LagReading] = {}
_lag_lock = threading.Lock()


def replica_lag(alias: str) -> float | None:
    """The replica's replay lag in seconds, read now (None: not a standby). Raises
    ReplicaUnreachable when it does not answer."""
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(LAG_SQL)
            row = cursor.fetchone()
    except DatabaseError as error:
        logger.warning("replica %s did not answer its lag check: %s", alias, error)
        connections[alias].close()
        raise ReplicaUnreachable(alias) from error
    return None if row is None or row[0] is None else float(row[0])


def _read_lag(alias: str, now: float) -> LagReading:
    try:
        return LagReading(replica_lag(alias), now)
    except ReplicaUnreachable:
        return LagReading(None, now, reachable=False)


def replica_is_healthy(alias: str) -> bool:
    """Whether the replica may serve reads: its lag, checked at most once every
    REPLICA_LAG_CHECK_SECONDS in this process (one query per replica and interval, not
    per request; UNREACHABLE_RECHECK_SECONDS after it did not answer), is within
    REPLICA_MAX_LAG_SECONDS."""
    now = time.monotonic()
    reading = _lag_readings.get(alias)
    interval = settings.REPLICA_LAG_CHECK_SECONDS
    if reading is not None and not reading.reachable:
        interval = max(interval, UNREACHABLE_RECHECK_SECONDS)
    if reading is None or now - reading.checked_at >= interval:
        reading = _read_lag(alias, now)
        with _lag_lock:
            _lag_readings[alias] = reading
    return (
        reading.lag_seconds is not None and reading.lag_seconds <= settings.REPLICA_MAX_LAG_SECONDS
    )


def forget_lag_readings() -> None:
    """Check every replica again at its next use (tests; after a failover)."""
    with _lag_lock:
        _lag_readings.clear()


def healthy_replica() -> str | None:
    """A replica fit to serve reads now, chosen at random among the healthy ones."""
    healthy = [alias for alias in replica_aliases() if replica_is_healthy(alias)]
    return random.choice(healthy) if healthy else None


# --- read-your-writes ------------------------------------------------------------------------


def _pin_key(actor_key: str) -> str:
    return f"replica-pin:{actor_key}"


def pin_to_primary(actor_key: str) -> None:
    """Keep this actor's reads on the primary for REPLICA_PIN_SECONDS (after their write)."""
    try:
        cache.set(_pin_key(actor_key), 1, timeout=settings.REPLICA_PIN_SECONDS)
    except Exception:  # the cache is down: their next reads may be stale, never refused
        logger.warning("could not pin %s to the primary", actor_key, exc_info=True)


def is_pinned_to_primary(actor_key: str) -> bool:
    try:
        return cache.get(_pin_key(actor_key)) is not None
    except Exception:  # unknown: the primary is always right
        return True


# --- the request's read context ------------------------------------------------------------


@dataclass
class RequestReads:
    """What the router knows about the request being served."""

    # The actor's pin key ("user:12", "token:3"), asked for at the first routed read:
    # partner tokens are authenticated by the view, after the middleware ran.
    actor_key: Callable[[], str | None]
    # Its reads may go to a replica (GET, HEAD); otherwise all of them go to the primary.
    eligible: bool
    # It wrote a read model (noted by `db_for_write`): the rest of it reads the primary,
    # and the middleware pins its actor.
    wrote_read_model: bool = False
    # Decided at the first routed read: the replica alias, or PRIMARY.
    chosen: str | None = None

    def database(self) -> str:
        if not self.eligible or self.wrote_read_model:
            return PRIMARY
        if self.chosen is None:
            actor_key = self.actor_key()
            if actor_key is not None and is_pinned_to_primary(actor_key):
                self.chosen, reason = PRIMARY, "pinned"
            else:
                replica = healthy_replica()
                self.chosen, reason = (replica, "replica") if replica else (PRIMARY, "lagging")
            replica_reads.labels(database=self.chosen, reason=reason).inc()
        return self.chosen


_request_reads: contextvars.ContextVar[RequestReads | None] = contextvars.ContextVar(
    "request_reads", default=None
)


@contextmanager
def replica_reads_for_request(
    actor_key: Callable[[], str | None], *, eligible: bool
) -> Iterator[RequestReads]:
    """The scope of one request: its routed reads, and whether it wrote a read model."""
    reads = RequestReads(actor_key=actor_key, eligible=eligible)
    token = _request_reads.set(reads)
    try:
        yield reads
    finally:
        _request_reads.reset(token)


# --- the router ------------------------------------------------------------------------------


class ReplicaRouter:
    """settings.DATABASE_ROUTERS; inert (everything on the primary) without replicas."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        aliases = replica_aliases()
        if not aliases:
            return PRIMARY
        instance = hints.get("instance")
        if instance is not None and instance._state.db in aliases:
            return instance._state.db  # the rows related to a row come from the same copy
        reads = _request_reads.get()
        if (
            reads is None
            or model._meta.app_label not in REPLICA_APPS
            or connections[PRIMARY].in_atomic_block
        ):
            return PRIMARY
        return reads.database()

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        reads = _request_reads.get()
        if reads is not None and model._meta.app_label in REPLICA_APPS:
            reads.wrote_read_model = True
        return PRIMARY

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        return True  # one database, copied: every alias holds the same rows

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == PRIMARY
