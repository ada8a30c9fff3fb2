from django.db import migrations

from integration.status_codes import DEFAULT_STATUS_CODES


def seed(apps, schema_editor):
    mapping = apps.get_model("integration", "StatusCodeMapping")
    for code, description, action, milestone in DEFAULT_STATUS_CODES:
        mapping.objects.get_or_create(
            code=code,
            defaults={"description": description, "action": action, "milestone": milestone},
        )


class Migration(migrations.Migration):
    dependencies = [("integration", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
