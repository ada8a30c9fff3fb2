import sys

from django.core.management.base import BaseCommand
from django.utils import timezone

from integration.progress import ProgressBar
from integration.services.retention import shipment_retention_apply_with_routes
from visibility.services.retention import shipments_past_retention_count


class Command(BaseCommand):
    help = (
        "Delete closed shipments quiet for longer than their tenant's retention (default "
        "CLOSED_SHIPMENT_RETENTION_DAYS), with their history, and the orders they leave "
        "without shipments; audited (beat does it every RETENTION_SWEEP_SECONDS)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="only say what would go")

    def handle(self, *args, dry_run, **options):
        now = timezone.now()
        # The bar redraws its line with "\r" on the raw stream: Django's OutputWrapper
        # (self.stderr) would end every redraw with a newline.
        bar = ProgressBar(
            shipments_past_retention_count(now),
            label="would delete" if dry_run else "deleting",
            stream=options.get("stderr") or sys.stderr,
        )
        outcome = shipment_retention_apply_with_routes(now, dry_run=dry_run, progress=bar.advance)
        bar.finish()
        verb = "would delete" if dry_run else "deleted"
        for tenant, shipments in outcome.shipments.items():
            self.stdout.write(
                f"{tenant}: {verb} {shipments} shipments, {outcome.orders.get(tenant, 0)} orders"
            )
        self.stdout.write(
            f"{verb} {sum(outcome.shipments.values())} closed shipments past retention"
        )
