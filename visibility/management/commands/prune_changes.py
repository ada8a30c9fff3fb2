from django.core.management.base import BaseCommand
from django.utils import timezone

from visibility.services.changes import changes_prune


class Command(BaseCommand):
    help = (
        "Delete change-feed rows older than CHANGE_RETENTION_DAYS (beat does it every"
        " CHANGE_PRUNE_SECONDS); cursors below the pruned positions get 410 Gone."
    )

    def handle(self, *args, **options):
        deleted = changes_prune(timezone.now())
        self.stdout.write(f"pruned {deleted} change rows")
