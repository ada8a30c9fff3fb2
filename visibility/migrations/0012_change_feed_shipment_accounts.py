"""The change feed follows a shipment to every account whose orders it carries
(visibility/change_triggers.py, shipment_accounts_sql; the SQL is frozen here)."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION visibility_shipment_record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO visibility_change (kind, object_key, customer_account_id, left_view, changed_at)
        SELECT 'shipment', n.shipment_id, n.customer_account_id, false, now()
        FROM new_rows n
        UNION
        SELECT 'shipment', n.shipment_id, sa.customer_account_id, false, now()
        FROM new_rows n JOIN visibility_shipmentaccount sa ON sa.shipment_id = n.id;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO visibility_change (kind, object_key, customer_account_id, left_view, changed_at)
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
        INSERT INTO visibility_change (kind, object_key, customer_account_id, left_view, changed_at)
        SELECT 'shipment', o.shipment_id, o.customer_account_id, true, now()
        FROM old_rows o;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION visibility_shipmentaccount_record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO visibility_change (kind, object_key, customer_account_id, left_view, changed_at)
        SELECT 'shipment', s.shipment_id, n.customer_account_id, false, now()
        FROM new_rows n JOIN visibility_shipment s ON s.id = n.shipment_id;
    ELSE
        INSERT INTO visibility_change (kind, object_key, customer_account_id, left_view, changed_at)
        SELECT 'shipment', s.shipment_id, o.customer_account_id, true, now()
        FROM old_rows o JOIN visibility_shipment s ON s.id = o.shipment_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER visibility_shipmentaccount_change_insert AFTER INSERT ON visibility_shipmentaccount
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION visibility_shipmentaccount_record_change();
CREATE TRIGGER visibility_shipmentaccount_change_delete AFTER DELETE ON visibility_shipmentaccount
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION visibility_shipmentaccount_record_change();

"""

BACKWARD = """DROP TRIGGER IF EXISTS visibility_shipmentaccount_change_insert ON visibility_shipmentaccount;
DROP TRIGGER IF EXISTS visibility_shipmentaccount_change_delete ON visibility_shipmentaccount;
DROP FUNCTION IF EXISTS visibility_shipmentaccount_record_change();

CREATE OR REPLACE FUNCTION visibility_shipment_record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO visibility_change (kind, object_key, customer_account_id, left_view, changed_at)
        SELECT 'shipment', n.shipment_id, n.customer_account_id, false, now()
        FROM new_rows n;
        
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO visibility_change (kind, object_key, customer_account_id, left_view, changed_at)
        SELECT 'shipment', n.shipment_id, n.customer_account_id, false, now()
        FROM new_rows n
        UNION ALL
        SELECT 'shipment', o.shipment_id, o.customer_account_id, true, now()
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE (o.customer_account_id, o.shipment_id) IS DISTINCT FROM (n.customer_account_id, n.shipment_id);
        
    ELSE
        INSERT INTO visibility_change (kind, object_key, customer_account_id, left_view, changed_at)
        SELECT 'shipment', o.shipment_id, o.customer_account_id, true, now()
        FROM old_rows o;
        
    END IF;
    RETURN NULL;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("visibility", "0011_change_feed"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
