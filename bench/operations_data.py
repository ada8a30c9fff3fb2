"""The operations side of the bench database: what the health page, the business SLAs and
`/metrics` read, at the size of bench/read_data.py's 1,000,000 shipments.

bench/read_data.py writes the read models as projection would; the figures also read the
inbox and the open work, which it leaves empty. This adds, relative to the real clock
(the figures age items against `now`):

- the inbox: 1,000,000 projected events received over the last 30 days (about the data
  set's rate: ~13 events per shipment over a year), from three sources, in batches of
  1,000 and requests of 100; 300 held, 60 dead, 2,000 rejected in the last day;
- the business SLAs' open items: 18,000 orders waiting for a shipment (2%, released over
  the last week), an open exception on every shipment whose status is exception
  (~19,500) and 20,000 resolved ones, 5% of delivered shipments flagged delivered and not
  invoiced (~48,000), the source last heard from on each of those shipments;
- unknown carrier status codes on 0.1% of the milestone facts (~8,900 of 10,000,000).

Idempotent: it does nothing when the inbox already holds events.
"""

from __future__ import annotations

import time
from typing import Any

INBOX_EVENTS = 1_000_000
INBOX_DAYS = 30
BOOKED_ORDERS = 18_000
SOURCES = ("erp", "tms", "carrier")

_STEPS: list[tuple[str, str]] = [
    (
        "sources and not-invoiced flags on shipments",
        """UPDATE visibility_shipment
           SET last_heard_source = CASE WHEN id % 3 = 0 THEN 'carrier' ELSE 'tms' END,
               not_invoiced = (status = 'delivered' AND id % 20 = 0)
           WHERE status <> 'delivered' OR id % 20 = 0""",
    ),
    (
        "open exceptions",
        """INSERT INTO visibility_shipmentexception
               (reason, opened_by, occurrence_key, source_code, detail, status, opened_at,
                resolved_automatically, shipment_id, customer_account_id, source)
           SELECT 'other', 'milestone', 'bench', '', '', 'open',
                  now() - (id % 240) * interval '1 hour', false, id, customer_account_id,
                  last_heard_source
           FROM visibility_shipment WHERE status = 'exception'""",
    ),
    (
        "resolved exceptions",
        """INSERT INTO visibility_shipmentexception
               (reason, opened_by, occurrence_key, source_code, detail, status, opened_at,
                resolved_at, resolved_automatically, shipment_id, customer_account_id, source)
           SELECT 'weather', 'delay', 'bench', '', '', 'resolved',
                  now() - interval '30 days', now() - interval '29 days', true, id,
                  customer_account_id, last_heard_source
           FROM visibility_shipment WHERE status = 'delivered' AND id % 48 = 1""",
    ),
    (
        "orders waiting for a shipment",
        f"""WITH accounts AS (
               SELECT array_agg(id ORDER BY id) AS ids FROM accounts_customeraccount
               WHERE tenant_id IS NOT NULL)
           INSERT INTO visibility_order
               (snapshot_sequence, snapshot_occurred_at, snapshot_event_key, order_number,
                customer_po, status, cancel_reason, last_event_at, customer_account_id,
                released_by, at_risk, updated_at)
           SELECT 1, now() - (g % 168) * interval '1 hour', 'erp:bench-booked-' || g,
                  'BK-' || lpad(g::text, 7, '0'), '', 'booked', '',
                  now() - (g % 168) * interval '1 hour',
                  ids[1 + g % array_length(ids, 1)],
                  CASE WHEN g % 4 = 0 THEN 'erp-eu' ELSE 'erp' END, false, now()
           FROM generate_series(1, {BOOKED_ORDERS}) AS g, accounts""",
    ),
    (
        "unknown carrier status codes",
        """UPDATE visibility_shipmentevent
           SET kind = 'unmapped_code',
               carrier_status_code = (ARRAY['ZZ', 'Q7', 'K9', 'B2', 'XB', 'J1', 'L3', 'M5',
                                            'R2', 'T8', 'W4', 'Y6'])[1 + id % 12]
           WHERE kind = 'milestone' AND id % 1000 = 0""",
    ),
    (
        "projected inbox events",
        f"""INSERT INTO integration_inboxevent
               (source, event_id, event_type, spec_version, occurred_at, sequence, data,
                received_at, state, waiting_for, attempts, last_error, processed_at,
                request_id, batch_id)
           SELECT (ARRAY{list(SOURCES)})[1 + g % 3], 'bench-' || g,
                  (ARRAY['shipment.milestone', 'shipment.eta_updated', 'order.released',
                         'shipment.created'])[1 + g % 4],
                  '1.0', received - interval '5 minutes', NULL,
                  jsonb_build_object('shipment_id', 'SHP-' || (g % 1000000)),
                  received, 'processed', '', 0, '', received + interval '2 seconds',
                  'req-' || (g / 100), lpad(to_hex(g / 1000), 16, '0')
           FROM generate_series(1, {INBOX_EVENTS}) AS g,
                LATERAL (SELECT now() - ({INBOX_EVENTS} - g) * interval '{INBOX_DAYS} days'
                                / {INBOX_EVENTS} AS received) AS moment""",
    ),
    (
        "held and dead inbox events",
        """INSERT INTO integration_inboxevent
               (source, event_id, event_type, spec_version, occurred_at, data, received_at,
                state, waiting_for, attempts, last_error, request_id, batch_id)
           SELECT 'carrier', 'bench-open-' || g, 'shipment.milestone', '1.0',
                  now() - g * interval '1 minute', '{}'::jsonb, now() - g * interval '1 minute',
                  CASE WHEN g <= 300 THEN 'held' ELSE 'dead' END,
                  CASE WHEN g <= 300 THEN 'shipment:SHP-W' || g ELSE '' END,
                  CASE WHEN g <= 300 THEN 0 ELSE 5 END,
                  CASE WHEN g <= 300 THEN '' ELSE 'KeyError: shipment_id' END, '', ''
           FROM generate_series(1, 360) AS g""",
    ),
    (
        "rejected events",
        """INSERT INTO integration_rejectedevent
               (source, event_id, event_type, body, errors, received_at)
           SELECT 'carrier', 'bench-rejected-' || g, 'shipment.milestone', '{}'::jsonb,
                  jsonb_build_array(jsonb_build_object(
                      'field', 'data.shipment_id', 'message', 'is required')),
                  now() - g * interval '40 seconds'
           FROM generate_series(1, 2000) AS g""",
    ),
]

TABLES = (
    "visibility_shipment",
    "visibility_shipmentexception",
    "visibility_order",
    "visibility_shipmentevent",
    "integration_inboxevent",
    "integration_rejectedevent",
)


def filled(cursor: Any) -> bool:
    cursor.execute("SELECT EXISTS (SELECT 1 FROM integration_inboxevent)")
    return bool(cursor.fetchone()[0])


def fill(connection: Any, log: Any = print) -> None:
    """Add the operations data (see the module docstring) unless the inbox holds events;
    `connection` is a psycopg connection in autocommit mode (VACUUM runs outside a
    transaction)."""
    with connection.cursor() as cursor:
        if filled(cursor):
            log("operations data: already there")
            return
        for name, sql in _STEPS:
            started = time.monotonic()
            cursor.execute(sql)
            elapsed = time.monotonic() - started
            log(f"operations data: {name}: {cursor.rowcount:,} rows, {elapsed:.1f} s")
        for table in TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")
        log("operations data: vacuumed and analyzed")
