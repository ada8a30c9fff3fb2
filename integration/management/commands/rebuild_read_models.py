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
        bar = ProgressBar(total, label="rebuilding", stream=self.stderr)
        projected = read_models_rebuild(bar.advance, batch_size=batch_size)
        bar.finish()
        self.stdout.write(f"rebuilt read models from {projected} events")
