from django.db import migrations

APPEND_ONLY = """
CREATE FUNCTION accounts_auditentry_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER accounts_auditentry_append_only
    BEFORE UPDATE OR DELETE ON accounts_auditentry
    FOR EACH ROW EXECUTE FUNCTION accounts_auditentry_append_only();
"""

DROP = """
DROP TRIGGER accounts_auditentry_append_only ON accounts_auditentry;
DROP FUNCTION accounts_auditentry_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_audit")]
    operations = [migrations.RunSQL(APPEND_ONLY, DROP)]
