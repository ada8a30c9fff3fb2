import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core.archive_files import ArchiveTamperedError
from integration.progress import ProgressBar
from integration.services.archive import ArchiveBusyError, archive_plan, archive_run


class Command(BaseCommand):
    help = (
        "Archive processed inbox events and rejected events older than "
        "INBOX_ARCHIVE_AFTER_DAYS / REJECTED_ARCHIVE_AFTER_DAYS to compressed files (one per "
        "day and source, with its SHA-256), then delete them (beat does it every "
        "ARCHIVE_SWEEP_SECONDS)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="only say what would be archived"
        )

    def handle(self, *args, dry_run, **options):
        now = timezone.now()
        plan = archive_plan(now)
        # The bar redraws its line with "\r" on the raw stream: Django's OutputWrapper
        # (self.stderr) would end every redraw with a newline.
        bar = ProgressBar(
            sum(plan.values()),
            label="would archive" if dry_run else "archiving",
            stream=options.get("stderr") or sys.stderr,
        )
        try:
            outcome = archive_run(now, dry_run=dry_run, progress=bar.advance)
        except (ArchiveTamperedError, ArchiveBusyError) as error:
            raise CommandError(str(error)) from error
        bar.finish()
        totals = outcome.by_kind()
        verb = "would archive and delete" if dry_run else "archived and deleted"
        self.stdout.write(
            f"{verb} {totals['inbox']} inbox events and {totals['rejected']} rejected events "
            f"in {len(outcome.groups)} files"
        )
