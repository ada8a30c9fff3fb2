import sys
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from core.archive_files import ArchiveTamperedError
from integration.models import InboxEvent, InboxState
from integration.progress import ProgressBar
from integration.services.archive import archived_inbox_restore
from integration.services.replay import (
    inbox_events_requeue,
    inbox_selection,
    process_with_progress,
    rejected_events_replay,
)
from visibility.event_types import EventType


def timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"not an ISO 8601 timestamp: {value!r}") from error
    if parsed.tzinfo is None:
        raise CommandError(f"timestamp needs an offset (e.g. +00:00): {value!r}")
    return parsed


class Command(BaseCommand):
    help = (
        "Re-project stored events: dead letters (--dead), or by --source / --type / "
        "--since / --until; --rejected sends stored rejected events through intake again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dead", action="store_true", help="only dead letters")
        parser.add_argument(
            "--rejected", action="store_true", help="re-validate stored rejected events"
        )
        parser.add_argument("--source")
        parser.add_argument("--type", dest="event_type", choices=EventType.values)
        parser.add_argument("--since", type=timestamp, help="occurred_at >= this")
        parser.add_argument("--until", type=timestamp, help="occurred_at < this")
        parser.add_argument(
            "--from-archive",
            action="store_true",
            help="also put the matching archived events back in the inbox (verified first)",
        )
        parser.add_argument(
            "--no-process", action="store_true", help="only queue them; workers project them"
        )

    def handle(
        self,
        *args,
        dead,
        rejected,
        source,
        event_type,
        since,
        until,
        from_archive,
        no_process,
        **options,
    ):
        if from_archive and (dead or rejected):
            raise CommandError("--from-archive replays archived processed events only")
        if rejected:
            outcome = rejected_events_replay(source=source)
            self.stdout.write(", ".join(f"{count} {status}" for status, count in outcome.items()))
        elif not (dead or source or event_type or since or until or from_archive):
            raise CommandError(
                "say what to replay: --dead, --rejected, or a filter "
                "(--source, --type, --since, --until)"
            )
        else:
            if from_archive:
                try:
                    restored = archived_inbox_restore(
                        source=source, event_type=event_type, since=since, until=until
                    )
                except ArchiveTamperedError as error:
                    raise CommandError(f"nothing was changed: {error}") from error
                self.stdout.write(f"{restored} archived events put back in the inbox")
            if dead or source or event_type or since or until:
                queued = inbox_events_requeue(
                    inbox_selection(
                        dead_only=dead,
                        source=source,
                        event_type=event_type,
                        since=since,
                        until=until,
                    )
                )
                self.stdout.write(f"{queued} events queued for projection")
        if no_process:
            return
        pending = InboxEvent.objects.filter(state=InboxState.PENDING).count()
        # The bar redraws its line with "\r" on the raw stream: Django's OutputWrapper
        # (self.stderr) would end every redraw with a newline.
        bar = ProgressBar(pending, label="projecting", stream=options.get("stderr") or sys.stderr)
        projected = process_with_progress(bar.advance)
        bar.finish()
        self.stdout.write(f"{projected} events projected")
