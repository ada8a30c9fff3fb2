"""Webhooks v2: event types instead of three triggers, a rotating secret, a failing mark,
and attempt numbers and next-attempt times in the delivery log."""

import django.contrib.postgres.fields
import django.utils.timezone
from django.db import migrations, models

EVENT_TYPE_OF_TRIGGER = {
    "delay": "shipment.delayed",
    "delivery": "shipment.delivered",
    "exception": "shipment.exception_opened",
}


def triggers_to_event_types(apps, schema_editor):
    Webhook = apps.get_model("visibility", "Webhook")
    for webhook in Webhook.objects.all():
        webhook.event_types = [
            EVENT_TYPE_OF_TRIGGER[trigger]
            for trigger in webhook.triggers
            if trigger in EVENT_TYPE_OF_TRIGGER
        ]
        webhook.save(update_fields=["event_types"])


def event_types_to_triggers(apps, schema_editor):
    Webhook = apps.get_model("visibility", "Webhook")
    trigger_of = {event_type: trigger for trigger, event_type in EVENT_TYPE_OF_TRIGGER.items()}
    for webhook in Webhook.objects.all():
        webhook.triggers = [trigger_of[t] for t in webhook.event_types if t in trigger_of]
        webhook.save(update_fields=["triggers"])


class Migration(migrations.Migration):
    dependencies = [
        ("visibility", "0014_change_feed_retention_and_invoice_overdue"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhook",
            name="event_types",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(max_length=40), default=list, size=None
            ),
            preserve_default=False,
        ),
        migrations.RunPython(triggers_to_event_types, event_types_to_triggers),
        # A default, so that undoing the removal can add the column back to existing rows.
        migrations.AlterField(
            model_name="webhook",
            name="triggers",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(max_length=12), default=list, size=None
            ),
        ),
        migrations.RemoveField(model_name="webhook", name="triggers"),
        migrations.AddField(
            model_name="notification",
            name="event_id",
            field=models.CharField(blank=True, db_default="", default="", max_length=40),
        ),
        migrations.AddField(
            model_name="webhook",
            name="description",
            field=models.CharField(blank=True, db_default="", default="", max_length=200),
        ),
        migrations.AddField(
            model_name="webhook",
            name="failing_since",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="webhook",
            name="previous_secret",
            field=models.CharField(blank=True, db_default="", default="", max_length=100),
        ),
        migrations.AddField(
            model_name="webhook",
            name="previous_secret_expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="webhookdelivery",
            name="attempt",
            field=models.PositiveIntegerField(db_default=1, default=1),
        ),
        migrations.AddField(
            model_name="webhookdelivery",
            name="next_attempt_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="notification",
            name="trigger",
            field=models.CharField(
                choices=[
                    ("delay", "Delay"),
                    ("delivery", "Delivery"),
                    ("exception", "Exception"),
                    ("milestone", "Milestone"),
                    ("eta_change", "ETA change"),
                    ("exception_resolved", "Exception resolved"),
                    ("document", "Document available"),
                    ("invoice_posted", "Invoice posted"),
                    ("invoice_paid", "Invoice paid"),
                    ("ping", "Test ping"),
                ],
                max_length=24,
            ),
        ),
        migrations.AlterField(
            model_name="notificationsubscription",
            name="trigger",
            field=models.CharField(
                choices=[
                    ("delay", "Delay"),
                    ("delivery", "Delivery"),
                    ("exception", "Exception"),
                    ("milestone", "Milestone"),
                    ("eta_change", "ETA change"),
                    ("exception_resolved", "Exception resolved"),
                    ("document", "Document available"),
                    ("invoice_posted", "Invoice posted"),
                    ("invoice_paid", "Invoice paid"),
                    ("ping", "Test ping"),
                ],
                max_length=24,
            ),
        ),
        migrations.AlterField(
            model_name="webhook",
            name="event_types",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(
                    choices=[
                        ("shipment.milestone", "Milestone reached"),
                        ("shipment.eta_changed", "ETA changed"),
                        ("shipment.delayed", "Shipment delayed"),
                        ("shipment.exception_opened", "Exception opened"),
                        ("shipment.exception_resolved", "Exception resolved"),
                        ("shipment.delivered", "Shipment delivered"),
                        ("document.available", "Document available"),
                        ("invoice.posted", "Invoice posted"),
                        ("invoice.paid", "Invoice paid"),
                    ],
                    max_length=40,
                ),
                size=None,
            ),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="attempted_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(fields=["subscriber", "-id"], name="notification_by_subscriber"),
        ),
    ]
