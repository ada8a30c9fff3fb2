from django.core.management.base import BaseCommand

from accounts.services import source_create


class Command(BaseCommand):
    help = "Register a source system; prints its token as the last line (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("key")

    def handle(self, *args, key, **options):
        source, secret = source_create(key=key)
        self.stdout.write(f"source {source.key} registered; its token (shown once):")
        self.stdout.write(secret)
