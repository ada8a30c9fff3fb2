from django.db import migrations

from visibility.status_codes import seed_default_status_codes


def seed(apps, schema_editor):
    seed_default_status_codes(apps.get_model("integration", "StatusCodeMapping"))


class Migration(migrations.Migration):
    dependencies = [("integration", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
