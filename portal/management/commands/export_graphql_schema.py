"""Write the GraphQL schema to schema.graphql (`--check`: fail when the file is stale)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.graphql.export import SCHEMA_FILE, schema_sdl


class Command(BaseCommand):
    help = "Write the GraphQL schema as SDL to schema.graphql at the repository's root."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check", action="store_true", help="Only check that the file is up to date."
        )

    def handle(self, *args: Any, check: bool = False, **options: Any) -> None:
        sdl = schema_sdl()
        current = SCHEMA_FILE.read_text() if SCHEMA_FILE.exists() else ""
        if check:
            if current != sdl:
                raise CommandError(f"{SCHEMA_FILE.name} is stale: run `make graphql-schema`.")
            self.stdout.write(f"{SCHEMA_FILE.name} is up to date.")
            return
        SCHEMA_FILE.write_text(sdl)
        self.stdout.write(f"Wrote {SCHEMA_FILE.name}.")
