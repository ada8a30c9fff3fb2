"""PostgreSQL connection set-up: timestamps parsed by psycopg's compiled loader.

Django (5.2, psycopg 3) registers its own `timestamptz` loader, a Python subclass of
psycopg's pure-Python one, so that every timestamp comes back in the connection's time
zone. Parsing in Python costs ~5 us a value: a change-feed page of 1,000 entries reads
~12,000 timestamps, ~60 ms of its time (docs/BENCHMARKS.md, "The change feed's
Python"). psycopg's compiled loader (psycopg-binary) parses the same text in C and
returns the same value whenever the session's time zone is UTC (it then gives
`datetime.UTC`, as Django does); Django sets the session's time zone to its own on
connect, so with TIME_ZONE/USE_TZ giving UTC the compiled loader is used, through a thin
Python wrapper carrying the `timezone` attribute Django's `create_cursor` compares.
Any other configuration keeps Django's loader.
"""

from __future__ import annotations

import datetime
from typing import Any

import psycopg
from psycopg import abc
from psycopg.adapt import Loader
from psycopg.pq import Format

TIMESTAMPTZ_OID = psycopg.adapters.types["timestamptz"].oid


def _psycopg_loader() -> type[abc.Loader]:
    loader = psycopg.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    assert loader is not None  # psycopg always has one
    return loader


_COMPILED = _psycopg_loader()


class CompiledUtcTimestampLoader(Loader):
    """psycopg's own (compiled when psycopg-binary is installed) `timestamptz` loader,
    for a session whose time zone is UTC."""

    timezone = datetime.UTC

    def __init__(self, oid: int, context: Any = None) -> None:
        super().__init__(oid, context)
        self.load = _COMPILED(oid, context).load  # type: ignore[method-assign]

    def load(self, data: Any) -> Any:  # replaced per instance, above
        raise NotImplementedError


def use_compiled_timestamp_loader(sender: Any, connection: Any, **kwargs: Any) -> None:
    """`connection_created` receiver: on a PostgreSQL connection whose Django time zone
    and session time zone are both UTC, parse timestamps with psycopg's loader."""
    if connection.vendor != "postgresql" or connection.timezone is not datetime.UTC:
        return
    raw = connection.connection
    if raw.info.parameter_status("TimeZone") != "UTC":
        return
    raw.adapters.register_loader("timestamptz", CompiledUtcTimestampLoader)
