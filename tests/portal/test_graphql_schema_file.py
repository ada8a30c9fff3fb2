"""schema.graphql, committed at the repository's root, is the schema the code serves:
partners read it, so a change to the schema without the file (or the reverse) fails here.
Run `make graphql-schema` to write it."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from portal.graphql.export import SCHEMA_FILE, schema_sdl


def test_the_committed_schema_file_is_the_codes_schema():
    assert SCHEMA_FILE.exists(), "run `make graphql-schema`"
    assert SCHEMA_FILE.read_text() == schema_sdl(), "stale schema.graphql: make graphql-schema"


def test_the_check_fails_on_a_stale_file(tmp_path, monkeypatch):
    stale = tmp_path / "schema.graphql"
    stale.write_text("type Query { old: String }\n")
    monkeypatch.setattr("portal.management.commands.export_graphql_schema.SCHEMA_FILE", stale)

    with pytest.raises(CommandError, match="stale"):
        call_command("export_graphql_schema", "--check")
    call_command("export_graphql_schema")
    assert stale.read_text() == schema_sdl()
    call_command("export_graphql_schema", "--check")


def test_the_schema_has_connections_and_no_plain_lists_at_the_root():
    sdl = schema_sdl()
    for name in ("shipments", "orders", "invoices", "exceptions", "documents"):
        assert f"  {name}(" in sdl
    assert "type PageInfo" in sdl and "endCursor: String" in sdl
    assert "): [" not in sdl.split("type Query {")[1].split("}")[0]
