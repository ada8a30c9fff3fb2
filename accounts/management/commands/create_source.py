from django.core.management.base import BaseCommand, CommandError

from accounts.models import SourceRole
from accounts.services import source_create


class Command(BaseCommand):
    help = (
        "Register a source system with its role (and optionally the only customer accounts "
        "it may send events for); prints its token as the last line (shown once)."
    )

    def add_arguments(self, parser):
        parser.add_argument("key")
        parser.add_argument(
            "--role",
            required=True,
            choices=SourceRole.values,
            help="the system of record it is: what it may send (docs/EVENTS.md, Sources)",
        )
        parser.add_argument(
            "--accounts",
            default="",
            help="comma-separated customer account numbers; omitted means every account",
        )

    def handle(self, *args, key, role, accounts, **options):
        try:
            source, secret = source_create(key=key, role=role, account_numbers=accounts.split(","))
        except ValueError as error:
            raise CommandError(str(error)) from error
        limited = ", ".join(source.account_numbers) or "every account"
        self.stdout.write(
            f"source {source.key} registered as {source.role} for {limited}; "
            "its token (shown once):"
        )
        self.stdout.write(secret)
