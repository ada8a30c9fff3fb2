import sys

from django.core.management.base import BaseCommand

from integration.models import InboxEvent, InboxState
from integration.progress import ProgressBar
from integration.services.replay import read_models_rebuild


class Command(BaseCommand):
    help = "Rebuild every read model from the stored events (the same result as live)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args, batch_size, **options):
        total = InboxEvent.objects.exclude(state=InboxState.DEAD).count()
        # The bar redraws its line with "\r" on the raw stream: Django's OutputWrapper
        # (self.stderr) would end every redraw with a newline.
        bar = ProgressBar(total, label="rebuilding", stream=options.get("stderr") or sys.stderr)
        projected = read_models_rebuild(bar.advance, batch_size=batch_size)
        bar.finish()
        self.stdout.write(f"rebuilt read models from {projected} events")
