"""The row locks a projection batch takes before it writes, in one global order.

Batches of different lanes run at once (integration/services/processing.py) and still
meet on rows: a shipment links orders of other lanes, derivation follows shipments to
their orders and orders to their shipments, an invoice touches the orders it names. So
before writing anything, a batch locks every existing shipment, order and invoice it may
write — shipments, then orders, then invoices, each kind by primary key — then the
account numbers it names that no row has yet (advisory locks, by key: a new account is
inserted by whichever lane names it first), and, once projected, locks what derivation
found beyond that with NOWAIT. Every wait for a lock therefore happens while holding
only locks earlier in that order, so no cycle of waits (a deadlock) can form; a NOWAIT
that fails rolls the batch back and it is retried (`LockNotAvailable`), never waited on.
Locking a row before reading what its derived fields come from is also what makes
concurrent derivation converge: the last batch to lock a row reads everything the
batches before it committed (docs/ARCHITECTURE.md, "Projection lanes").

`FOR NO KEY UPDATE`, the lock an UPDATE takes: foreign-key checks of rows inserted
elsewhere (`FOR KEY SHARE`) do not wait for it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

from visibility.lanes import NamedAggregates

_SHIPMENTS = """
SELECT id FROM visibility_shipment
WHERE shipment_id = ANY(%s::text[])
OR id IN (
    SELECT link.shipment_id FROM visibility_shipmentorder link
    JOIN visibility_order ON visibility_order.id = link.order_id
    WHERE visibility_order.order_number = ANY(%s::text[])
)
ORDER BY id FOR NO KEY UPDATE
"""

# Orders named; carried by the shipments just locked (derivation follows them); named by
# the invoices the batch writes (an invoice's trigger touches them).
_ORDERS = """
SELECT id FROM visibility_order
WHERE order_number = ANY(%s::text[])
OR order_number IN (
    SELECT unnest(order_numbers) FROM visibility_invoice WHERE invoice_number = ANY(%s::text[])
)
OR id IN (SELECT order_id FROM visibility_shipmentorder WHERE shipment_id = ANY(%s::bigint[]))
ORDER BY id FOR NO KEY UPDATE
"""

_INVOICES = """
SELECT id FROM visibility_invoice WHERE invoice_number = ANY(%s::text[])
ORDER BY id FOR NO KEY UPDATE
"""


# The accounts among those named that do not exist yet, in the order of their locks.
_NEW_ACCOUNTS = """
SELECT DISTINCT hashtext(named.number) AS lock_key
FROM unnest(%s::text[]) AS named(number)
WHERE NOT EXISTS (
    SELECT FROM accounts_customeraccount account WHERE account.number = named.number
)
ORDER BY lock_key
"""

# The first key of the transaction-level advisory locks on new account numbers (the
# second is the number's hash), guarded only by this module.
NEW_ACCOUNT_LOCK_CLASS = 7_215


def _locked(sql: str, params: list) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row_id for (row_id,) in cursor.fetchall()]


def aggregates_lock(named: NamedAggregates) -> None:
    """Lock, waiting, the existing rows a batch naming `named` may write, in the global
    order. Statement by statement: each reads links committed by the batches it waited
    for, so a link made meanwhile is followed."""
    shipments, orders, invoices = (
        sorted(named.shipments),
        sorted(named.orders),
        sorted(named.invoices),
    )
    shipment_ids = _locked(_SHIPMENTS, [shipments, orders])
    _locked(_ORDERS, [orders, invoices, shipment_ids])
    _locked(_INVOICES, [invoices])
    if named.accounts:
        _new_accounts_lock(sorted(named.accounts))


def _new_accounts_lock(numbers: list[str]) -> None:
    """Lock, waiting, each account number among `numbers` that no committed row has yet,
    in the order of the lock keys: the last step of the ordered phase.

    An account is inserted by whichever batch first projects an event naming it, in any
    lane (`owned_account_ids`), and the insert of a key another open transaction inserted
    waits for that one's commit — a wait outside the row order. Holding this lock, a
    batch creating an account is the only one that may: another batch naming it waits
    here, before projecting, and afterwards finds the account committed. An account
    that exists is only read, so naming it takes no lock and serializes nothing. Keys
    are taken in their own order (two numbers with one hash are one lock), one
    statement each, so the order is the order they are taken in."""
    with connection.cursor() as cursor:
        cursor.execute(_NEW_ACCOUNTS, [numbers])
        for (lock_key,) in cursor.fetchall():
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [NEW_ACCOUNT_LOCK_CLASS, lock_key]
            )


_MORE_SHIPMENTS = """
SELECT id FROM visibility_shipment WHERE id = ANY(%s::bigint[])
ORDER BY id FOR NO KEY UPDATE NOWAIT
"""
_MORE_ORDERS = """
SELECT id FROM visibility_order
WHERE id = ANY(%s::bigint[])
OR id IN (SELECT order_id FROM visibility_shipmentorder WHERE shipment_id = ANY(%s::bigint[]))
ORDER BY id FOR NO KEY UPDATE NOWAIT
"""


def derivation_lock(shipment_ids: Iterable[int], order_ids: Iterable[int]) -> None:
    """Lock what derivation will write: the shipments, and the orders given and carried
    by those shipments. Rows the batch locked already cost nothing; a row found only now
    (linked by a batch that committed after `aggregates_lock`) is taken without waiting,
    or the batch fails with `OperationalError` (lock not available) and is retried."""
    shipments = sorted(set(shipment_ids))
    if shipments:
        _locked(_MORE_SHIPMENTS, [shipments])
    orders = sorted(set(order_ids))
    if shipments or orders:
        _locked(_MORE_ORDERS, [orders, shipments])
