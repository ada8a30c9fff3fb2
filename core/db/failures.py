"""Which exceptions are the database failing, as opposed to one row's data.

Workers that isolate a failing item (an inbox event, a notification) charge it an
attempt and, after enough, give up on it. A failure of the database itself says nothing
about the item and would hit its neighbours as well: the connection is gone or broken
(InterfaceError); the server shut down, ran out of something, cancelled a statement, or
rolled the transaction back for a serialization failure or a deadlock (OperationalError,
which psycopg's TransactionRollback and QueryCanceled are). Charging items for those
would turn a database restart into a heap of dead letters, so they roll back and the
work is retried whole.
"""

from __future__ import annotations

from django.db import InterfaceError, OperationalError, connection
from django.db.transaction import TransactionManagementError

INFRASTRUCTURE_FAILURES = (OperationalError, InterfaceError, TransactionManagementError)


def is_infrastructure_failure(error: BaseException) -> bool:
    """Whether `error` is the database failing rather than an item's data. A savepoint
    that could not be rolled back leaves the connection needing a full rollback: every
    later statement would fail too, whatever the item."""
    return isinstance(error, INFRASTRUCTURE_FAILURES) or connection.needs_rollback
