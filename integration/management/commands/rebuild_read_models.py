import sys

from django.core.management.base import BaseCommand, CommandError

from core.archive_files import ArchiveTamperedError
from integration.models import InboxEvent, InboxState
from integration.progress import ProgressBar
from integration.services.archive import archived_inbox_count, archived_inbox_restore
from integration.services.replay import read_models_rebuild


class Command(BaseCommand):
    help = (
        "Rebuild every read model from the stored events, archived ones included "
        "(the same result as live)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument(
            "--no-archive",
            action="store_true",
            help="leave archived events out (read models lose what only they hold)",
        )

    def handle(self, *args, batch_size, no_archive, **options):
        # The bar redraws its line with "\r" on the raw stream: Django's OutputWrapper
        # (self.stderr) would end every redraw with a newline.
        stream = options.get("stderr") or sys.stderr
        restored = 0
        if not no_archive and (archived := archived_inbox_count()):
            bar = ProgressBar(archived, label="restoring archives", stream=stream)
            try:
                restored = archived_inbox_restore(progress=bar.advance)
            except ArchiveTamperedError as error:
                raise CommandError(f"nothing was changed: {error}") from error
            bar.finish()
        total = InboxEvent.objects.exclude(state=InboxState.DEAD).count()
        bar = ProgressBar(total, label="rebuilding", stream=stream)
        projected = read_models_rebuild(bar.advance, batch_size=batch_size, from_archive=False)
        bar.finish()
        if restored:
            self.stdout.write(f"restored {restored} archived events into the inbox")
        self.stdout.write(f"rebuilt read models from {projected} events")
