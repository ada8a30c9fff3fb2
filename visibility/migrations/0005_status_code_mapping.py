# StatusCodeMapping moves from integration to visibility (projection knowledge). The
# table stays where it is (integration_statuscodemapping, rows kept): only Django's state
# moves, here and in integration/0004_status_code_mapping_moves_to_visibility.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("visibility", "0004_read_indexes"),
        ("integration", "0003_rejected_body_may_be_null"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="StatusCodeMapping",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("code", models.CharField(max_length=8, unique=True)),
                        ("description", models.CharField(max_length=200)),
                        (
                            "action",
                            models.CharField(
                                choices=[
                                    ("milestone", "Records a milestone"),
                                    ("stored", "Stored on the history, no status change"),
                                    ("eta", "An ETA update"),
                                    ("delay", "A delay"),
                                ],
                                max_length=12,
                            ),
                        ),
                        (
                            "milestone",
                            models.CharField(
                                blank=True,
                                choices=[
                                    ("picked_up", "Picked up"),
                                    ("departed_origin", "Departed origin"),
                                    ("arrived_hub", "Arrived at hub"),
                                    ("departed_hub", "Departed hub"),
                                    ("in_transit", "In transit"),
                                    ("out_for_delivery", "Out for delivery"),
                                    ("delivery_attempted", "Delivery attempted"),
                                    ("delivered", "Delivered"),
                                    ("exception", "Exception"),
                                ],
                                default="",
                                max_length=32,
                            ),
                        ),
                    ],
                    options={"db_table": "integration_statuscodemapping"},
                ),
            ],
            database_operations=[],
        ),
    ]
