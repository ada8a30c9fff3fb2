"""The SQL of the triggers that record the change feed (migrations 0011_change_feed and
0012_change_feed_shipment_accounts).

Every write to a table a reader can see is recorded by the database, in the writing
transaction, whoever writes: the bulk projection statements (`UPDATE … FROM unnest`,
`INSERT … SELECT`), derivation, replay, the admin. Triggers are statement-level with
transition tables, so a statement writing 10,000 rows records them with one
`INSERT … SELECT`, not 10,000 trigger calls; only `updated_at` is stamped per row (a
BEFORE ROW trigger, the one way to change the written row itself).

- A top-level object (shipment, order, invoice, document) records one `visibility_change`
  row per written row for its account, and, when its account changed, a `left_view` row for
  the account it left. A deleted object records `left_view` rows.
- A related row that may be written alone (a freight charge, a document) touches its
  parent's `updated_at`, which records the parent. The others (history facts, stops,
  order links, lines) are always written with a write of their parent: see `RELATED`.
  So are the orders whose detail shows a shipment's status and ETA: derivation writes
  the orders of every shipment it re-derives. An invoice touches the orders it names
  (an order's detail lists its invoices).

`VISIBLE_ACCOUNTS_OF` is the one place that says which accounts see a shipment: today its
`customer_account`. When shipments may belong to several accounts (a ShipmentAccount
table), that table gets the same recording as an object: its inserted rows enter, its
deleted rows leave.
"""

from __future__ import annotations

# table -> (kind, public key column)
OBJECTS = {
    "visibility_shipment": ("shipment", "shipment_id"),
    "visibility_order": ("order", "order_number"),
    "visibility_invoice": ("invoice", "invoice_number"),
    "visibility_document": ("document", "document_id"),
}

# related table -> [(parent table, foreign key column)]. Only rows that may be written
# without their parent: stops, order links and lines are written with their shipment,
# order or invoice snapshot (which writes the parent row), and history facts are followed
# by derivation, which writes every shipment and order the pass touched. Touching those
# parents again cost 70% of the projection's speed in measurement (a second, non-HOT
# update of each row: `updated_at` is indexed), see docs/ARCHITECTURE.md.
RELATED = {
    "visibility_freightcharge": [("visibility_shipment", "shipment_id")],
    "visibility_document": [
        ("visibility_shipment", "shipment_id"),
        ("visibility_order", "order_id"),
        ("visibility_invoice", "invoice_id"),
    ],
}

INSERT_CHANGE = (
    "INSERT INTO visibility_change (kind, object_key, customer_account_id, left_view, changed_at)"
)


def _stamp_function() -> str:
    return """
CREATE OR REPLACE FUNCTION visibility_stamp_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END $$;
"""


# An order's detail shows its invoices (to the finance grant): an invoice written touches
# the orders it names, before and after the write.
INVOICE_ORDERS = {
    "INSERT": "SELECT unnest(order_numbers) FROM new_rows",
    "UPDATE": "SELECT unnest(order_numbers) FROM new_rows"
    " UNION SELECT unnest(order_numbers) FROM old_rows",
    "DELETE": "SELECT unnest(order_numbers) FROM old_rows",
}


def _invoice_orders(operation: str) -> str:
    return (
        "UPDATE visibility_order SET updated_at = clock_timestamp()"
        f" WHERE order_number IN ({INVOICE_ORDERS[operation]});"
    )


def _object_function(table: str, kind: str, key: str) -> str:
    touch = {operation: "" for operation in INVOICE_ORDERS}
    if table == "visibility_invoice":
        touch = {operation: _invoice_orders(operation) for operation in INVOICE_ORDERS}
    return f"""
CREATE OR REPLACE FUNCTION {table}_record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {INSERT_CHANGE}
        SELECT '{kind}', n.{key}, n.customer_account_id, false, now()
        FROM new_rows n;
        {touch["INSERT"]}
    ELSIF TG_OP = 'UPDATE' THEN
        {INSERT_CHANGE}
        SELECT '{kind}', n.{key}, n.customer_account_id, false, now()
        FROM new_rows n
        UNION ALL
        SELECT '{kind}', o.{key}, o.customer_account_id, true, now()
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE (o.customer_account_id, o.{key}) IS DISTINCT FROM (n.customer_account_id, n.{key});
        {touch["UPDATE"]}
    ELSE
        {INSERT_CHANGE}
        SELECT '{kind}', o.{key}, o.customer_account_id, true, now()
        FROM old_rows o;
        {touch["DELETE"]}
    END IF;
    RETURN NULL;
END $$;
"""


def _related_function(table: str) -> str:
    touches_new = "\n".join(
        f"        UPDATE {parent} SET updated_at = clock_timestamp()"
        f" WHERE id IN (SELECT {column} FROM new_rows);"
        for parent, column in RELATED[table]
    )
    touches_old = "\n".join(
        f"        UPDATE {parent} SET updated_at = clock_timestamp()"
        f" WHERE id IN (SELECT {column} FROM old_rows);"
        for parent, column in RELATED[table]
    )
    touches_both = "\n".join(
        f"        UPDATE {parent} SET updated_at = clock_timestamp()"
        f" WHERE id IN (SELECT {column} FROM new_rows UNION SELECT {column} FROM old_rows);"
        for parent, column in RELATED[table]
    )
    return f"""
CREATE OR REPLACE FUNCTION {table}_touch_parents() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
{touches_new}
    ELSIF TG_OP = 'UPDATE' THEN
{touches_both}
    ELSE
{touches_old}
    END IF;
    RETURN NULL;
END $$;
"""


def _statement_triggers(table: str, function: str, suffix: str) -> str:
    return f"""
CREATE TRIGGER {table}_{suffix}_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}();
CREATE TRIGGER {table}_{suffix}_update AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {function}();
CREATE TRIGGER {table}_{suffix}_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}();
"""


def create_sql() -> str:
    parts = [_stamp_function()]
    for table, (kind, key) in OBJECTS.items():
        parts.append(
            f"CREATE TRIGGER {table}_stamp BEFORE INSERT OR UPDATE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION visibility_stamp_updated_at();"
        )
        parts.append(_object_function(table, kind, key))
        parts.append(_statement_triggers(table, f"{table}_record_change", "change"))
    for table in RELATED:
        parts.append(_related_function(table))
        parts.append(_statement_triggers(table, f"{table}_touch_parents", "touch"))
    return "\n".join(parts)


def drop_sql() -> str:
    parts = []
    for table in OBJECTS:
        parts.append(f"DROP TRIGGER IF EXISTS {table}_stamp ON {table};")
        for operation in ("insert", "update", "delete"):
            parts.append(f"DROP TRIGGER IF EXISTS {table}_change_{operation} ON {table};")
        parts.append(f"DROP FUNCTION IF EXISTS {table}_record_change();")
    for table in RELATED:
        for operation in ("insert", "update", "delete"):
            parts.append(f"DROP TRIGGER IF EXISTS {table}_touch_{operation} ON {table};")
        parts.append(f"DROP FUNCTION IF EXISTS {table}_touch_parents();")
    parts.append("DROP FUNCTION IF EXISTS visibility_stamp_updated_at();")
    return "\n".join(parts)


# A shipment is visible to every account whose orders it carries (ShipmentAccount,
# docs/ARCHITECTURE.md decision 9): a write of the shipment is recorded for each of those
# accounts too, and an account entering or leaving a shipment's set records the shipment
# entering or leaving that account's view. (Migration 0012_change_feed_shipment_accounts.)
def shipment_accounts_sql() -> str:
    # Insert and delete only: derivation adds and removes (shipment, account) pairs and
    # never changes one; an update copies the list key (`last_event_at`), which the
    # shipment's own write already recorded.
    function = "visibility_shipmentaccount_record_change"
    triggers = f"""
CREATE TRIGGER visibility_shipmentaccount_change_insert AFTER INSERT ON visibility_shipmentaccount
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}();
CREATE TRIGGER visibility_shipmentaccount_change_delete AFTER DELETE ON visibility_shipmentaccount
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}();
"""
    return f"""
CREATE OR REPLACE FUNCTION visibility_shipment_record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {INSERT_CHANGE}
        SELECT 'shipment', n.shipment_id, n.customer_account_id, false, now()
        FROM new_rows n
        UNION
        SELECT 'shipment', n.shipment_id, sa.customer_account_id, false, now()
        FROM new_rows n JOIN visibility_shipmentaccount sa ON sa.shipment_id = n.id;
    ELSIF TG_OP = 'UPDATE' THEN
        {INSERT_CHANGE}
        SELECT 'shipment', n.shipment_id, n.customer_account_id, false, now()
        FROM new_rows n
        UNION
        SELECT 'shipment', n.shipment_id, sa.customer_account_id, false, now()
        FROM new_rows n JOIN visibility_shipmentaccount sa ON sa.shipment_id = n.id
        UNION ALL
        SELECT 'shipment', o.shipment_id, o.customer_account_id, true, now()
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE (o.customer_account_id, o.shipment_id)
            IS DISTINCT FROM (n.customer_account_id, n.shipment_id);
    ELSE
        {INSERT_CHANGE}
        SELECT 'shipment', o.shipment_id, o.customer_account_id, true, now()
        FROM old_rows o;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION visibility_shipmentaccount_record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {INSERT_CHANGE}
        SELECT 'shipment', s.shipment_id, n.customer_account_id, false, now()
        FROM new_rows n JOIN visibility_shipment s ON s.id = n.shipment_id;
    ELSE
        {INSERT_CHANGE}
        SELECT 'shipment', s.shipment_id, o.customer_account_id, true, now()
        FROM old_rows o JOIN visibility_shipment s ON s.id = o.shipment_id;
    END IF;
    RETURN NULL;
END $$;
{triggers}
"""


def shipment_accounts_drop_sql() -> str:
    drops = [
        f"DROP TRIGGER IF EXISTS visibility_shipmentaccount_change_{operation}"
        " ON visibility_shipmentaccount;"
        for operation in ("insert", "delete")
    ]
    drops.append("DROP FUNCTION IF EXISTS visibility_shipmentaccount_record_change();")
    return (
        "\n".join(drops) + "\n" + _object_function("visibility_shipment", "shipment", "shipment_id")
    )
