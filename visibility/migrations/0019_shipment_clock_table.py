"""`next_check_at` moves from the wide shipment table to `visibility_shipmentclock`, one
narrow row per shipment the clock has evaluated (docs/ARCHITECTURE.md, "Time is an
input"): a sweep then rewrites narrow rows, and a shipment row only when a state flips."""

import django.db.models.deletion
from django.db import migrations, models

COPY_NEXT_CHECKS = """
INSERT INTO visibility_shipmentclock (shipment_id, next_check_at)
SELECT id, next_check_at FROM visibility_shipment WHERE next_check_at IS NOT NULL
"""

COPY_BACK = """
UPDATE visibility_shipment s SET next_check_at = c.next_check_at
FROM visibility_shipmentclock c WHERE c.shipment_id = s.id
"""

# Every sweep moves its rows' next checks ahead, leaving their old entries, all in the
# due range `next_check_at <= now`, dead in the partial index until a vacuum; a due-set
# read walks them. The table is narrow (a vacuum of 1,000,000 rows takes seconds), so it
# is vacuumed after a fixed number of dead rows rather than PostgreSQL's default 20% of
# the table (200,000 at 1,000,000 shipments).
VACUUM_OFTEN = """
ALTER TABLE visibility_shipmentclock SET (
    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
    autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 10000
)
"""
VACUUM_DEFAULT = """
ALTER TABLE visibility_shipmentclock RESET (
    autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,
    autovacuum_analyze_scale_factor, autovacuum_analyze_threshold
)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("visibility", "0018_exception_account_and_source"),
    ]

    operations = [
        migrations.CreateModel(
            name="ShipmentClock",
            fields=[
                (
                    "shipment",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="clock",
                        serialize=False,
                        to="visibility.shipment",
                    ),
                ),
                ("next_check_at", models.DateTimeField(blank=True, null=True)),
            ],
        ),
        # Reversed: the column is back (RemoveField reversed) before the copy back runs.
        migrations.RunSQL(COPY_NEXT_CHECKS, COPY_BACK),
        migrations.RunSQL(VACUUM_OFTEN, VACUUM_DEFAULT),
        migrations.RemoveIndex(
            model_name="shipment",
            name="shipment_next_check",
        ),
        migrations.RemoveField(
            model_name="shipment",
            name="next_check_at",
        ),
        migrations.AddIndex(
            model_name="shipmentclock",
            index=models.Index(
                condition=models.Q(("next_check_at__isnull", False)),
                fields=["next_check_at"],
                name="shipment_next_check",
            ),
        ),
    ]
