# StatusCodeMapping now belongs to visibility (visibility/0005_status_code_mapping); its
# table and rows stay: only Django's state forgets the model here.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("integration", "0003_rejected_body_may_be_null"),
        ("visibility", "0005_status_code_mapping"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="StatusCodeMapping")],
            database_operations=[],
        ),
    ]
