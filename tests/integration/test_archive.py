"""Archive and delete (`archive_events`): old processed and rejected events leave the
database for checksummed files, and rebuilds and replays read them back."""

from __future__ import annotations

import gzip
import io
import json
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import F
from django.utils import timezone

from core.archive_files import archive_read
from integration import tasks
from integration.models import ArchiveFile, ArchiveKind, InboxEvent, InboxState, RejectedEvent
from integration.services import archive
from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from tests.helpers import read_model_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def archive_root(settings, tmp_path) -> Path:
    root = tmp_path / "archive"
    settings.STORAGES = {
        **settings.STORAGES,
        "archive": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": root},
        },
    }
    settings.INBOX_ARCHIVE_AFTER_DAYS = 30
    return root


@pytest.fixture
def projected_story(brenner, story) -> dict:
    """The story projected, one rejected event beside it, all received 40 days ago."""
    for event in story:
        receive_events(source=event["source"], events=[event])
    receive_events(source="tms", events=[{"event_id": "broken", "type": "nonsense"}])
    process_inbox_until_empty()
    InboxEvent.objects.update(received_at=F("received_at") - timedelta(days=40))
    RejectedEvent.objects.update(received_at=F("received_at") - timedelta(days=40))
    return read_model_state()


def archive_events(**options) -> str:
    stdout = io.StringIO()
    call_command("archive_events", stdout=stdout, stderr=io.StringIO(), **options)
    return stdout.getvalue()


def archived_rows(kind: str) -> list[dict]:
    return [
        row
        for archived in ArchiveFile.objects.filter(kind=kind)
        for row in archive_read(archived.name, archived.sha256)
    ]


def test_archive_then_rebuild_from_archive_gives_the_same_read_models(
    archive_root, projected_story
):
    """The issue's round trip: archive → delete → rebuild from the archive → identical."""
    stored = InboxEvent.objects.count()

    printed = archive_events()

    assert InboxEvent.objects.count() == 0 and RejectedEvent.objects.count() == 0
    assert f"archived and deleted {stored} inbox events and 1 rejected events" in printed
    files = sorted(path.relative_to(archive_root).as_posix() for path in archive_root.rglob("*"))
    day = ArchiveFile.objects.filter(kind=ArchiveKind.INBOX).first().day.isoformat()
    assert any(
        name.startswith(f"inbox/{day}/tms.") and name.endswith(".jsonl.gz") for name in files
    )
    assert any(name.endswith(".jsonl.gz.sha256") for name in files)
    assert len(archived_rows(ArchiveKind.INBOX)) == stored
    assert archived_rows(ArchiveKind.REJECTED)[0]["body"]["event_id"] == "broken"

    call_command("rebuild_read_models", "--no-archive", stdout=io.StringIO(), stderr=io.StringIO())
    assert read_model_state()["shipments"] == {}, "without the archive nothing is left"

    call_command("rebuild_read_models", stdout=io.StringIO(), stderr=io.StringIO())

    assert read_model_state() == projected_story


def test_archiving_again_after_a_rebuild_keeps_one_copy(archive_root, projected_story):
    archive_events()
    first = {(row.kind, row.day, row.source): row.sha256 for row in ArchiveFile.objects.all()}
    call_command("rebuild_read_models", stdout=io.StringIO(), stderr=io.StringIO())
    # The restored rows keep their receipt time: due again.
    assert InboxEvent.objects.filter(state=InboxState.PROCESSED).count() > 0

    archive_events()

    assert {
        (row.kind, row.day, row.source): row.sha256 for row in ArchiveFile.objects.all()
    } == first
    assert InboxEvent.objects.count() == 0
    assert len(list(archive_root.rglob("*.jsonl.gz"))) == len(first)


def test_a_run_dying_between_write_and_delete_loses_and_copies_nothing(
    archive_root, projected_story, monkeypatch
):
    """The file is written, then the process dies before the manifest and the deletion
    commit. The next run writes the same file (not a second one) and deletes the rows."""
    stored = InboxEvent.objects.count()

    def dies(**kwargs):
        raise SystemExit("killed")

    with monkeypatch.context() as patched:
        patched.setattr(ArchiveFile.objects, "update_or_create", dies)
        with pytest.raises(SystemExit):
            archive_events()
    assert InboxEvent.objects.count() == stored, "nothing deleted before the manifest commits"
    assert ArchiveFile.objects.count() == 0
    assert len(list(archive_root.rglob("*.jsonl.gz"))) == 1, "the file the dead run wrote"

    archive_events()

    assert InboxEvent.objects.count() == 0
    keys = [(row["source"], row["event_id"]) for row in archived_rows(ArchiveKind.INBOX)]
    assert len(keys) == len(set(keys)) == stored
    # One file per kind, day and source: nothing left over from the dead run.
    assert len(list(archive_root.rglob("*.jsonl.gz"))) == ArchiveFile.objects.count()


def test_rows_of_an_archived_day_found_later_are_merged_into_its_one_file(
    archive_root, projected_story
):
    archive_events()
    [tms_file] = ArchiveFile.objects.filter(kind=ArchiveKind.INBOX, source="tms")
    call_command(
        "replay_events",
        "--from-archive",
        "--source",
        "tms",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert InboxEvent.objects.filter(source="tms", state=InboxState.PROCESSED).count() == (
        tms_file.rows
    )
    # Besides the restored copies, one event of that day not archived yet.
    InboxEvent.objects.filter(
        id=InboxEvent.objects.filter(source="tms").order_by("id").values("id")[:1]
    ).update(event_id="late-arrival")

    archive_events()

    merged = ArchiveFile.objects.get(kind=ArchiveKind.INBOX, source="tms")
    keys = [row["event_id"] for row in archived_rows(ArchiveKind.INBOX) if row["source"] == "tms"]
    assert merged.rows == tms_file.rows + 1 == len(keys) == len(set(keys))
    assert "late-arrival" in keys
    assert [path.name for path in archive_root.glob("inbox/*/tms.*.jsonl.gz")] == [
        Path(merged.name).name
    ]


def test_a_tampered_archive_is_refused_and_nothing_changes(archive_root, projected_story):
    archive_events()
    [tms_file] = ArchiveFile.objects.filter(kind=ArchiveKind.INBOX, source="tms")
    path = archive_root / tms_file.name
    rows = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    rows[0]["data"]["status"] = "delivered"  # a forged fact
    path.write_bytes(gzip.compress("".join(json.dumps(row) + "\n" for row in rows).encode()))

    with pytest.raises(CommandError, match=r"nothing was changed: archive file .*tms.* SHA-256"):
        call_command("rebuild_read_models", stdout=io.StringIO(), stderr=io.StringIO())

    assert read_model_state() == projected_story
    assert InboxEvent.objects.count() == 0, "no archived row went back in"


def test_dry_run_archives_nothing(archive_root, projected_story):
    stored = InboxEvent.objects.count()

    printed = archive_events(dry_run=True)

    assert f"would archive and delete {stored} inbox events and 1 rejected events" in printed
    assert InboxEvent.objects.count() == stored and ArchiveFile.objects.count() == 0
    assert not archive_root.exists() or not any(archive_root.rglob("*.gz"))


def test_recent_and_unfinished_events_stay(archive_root, brenner, story):
    for event in story[:3]:
        receive_events(source=event["source"], events=[event])
    process_inbox_until_empty()
    InboxEvent.objects.filter(event_id=story[0]["event_id"]).update(
        received_at=F("received_at") - timedelta(days=40), state=InboxState.DEAD
    )

    assert archive.archive_run(timezone.now()).rows == 0
    assert InboxEvent.objects.count() == 3


def test_one_run_at_a_time(archive_root, projected_story, settings):
    """Beat and an operator never interleave: while another session holds the run's
    lock, the command refuses and the beat task skips."""
    stored = InboxEvent.objects.count() + RejectedEvent.objects.count()
    database = settings.DATABASES["default"]
    other = psycopg.connect(
        host=database["HOST"],
        port=database["PORT"],
        user=database["USER"],
        password=database["PASSWORD"],
        dbname=connection.settings_dict["NAME"],
        autocommit=True,
    )
    with other:
        other.execute("SELECT pg_advisory_lock(%s)", [archive.ARCHIVE_LOCK_KEY])

        with pytest.raises(CommandError, match="another archive run is in progress"):
            archive_events()
        assert tasks.archive_events() == 0

        assert InboxEvent.objects.count() + RejectedEvent.objects.count() == stored

    assert tasks.archive_events() == stored, "the lock went with the other session"


def test_an_archived_event_comes_back_exactly_as_stored(archive_root, projected_story):
    """Numbers keep every digit and bodies every byte PostgreSQL printed: the archive
    never passes them through Python's floats."""
    exact = '{"amount": 123456789012345678.123456, "ratio": 1.50, "note": "a\\nb \\u00e9"}'
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE integration_inboxevent SET data = data || %s::jsonb WHERE event_id = %s",
            [exact, "tms-demo-0002"],
        )
    stored = stored_data("tms-demo-0002")
    assert "123456789012345678.123456" in stored and "1.50" in stored

    archive_events()
    assert not InboxEvent.objects.filter(event_id="tms-demo-0002").exists()
    call_command(
        "replay_events",
        "--from-archive",
        "--no-process",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )

    assert stored_data("tms-demo-0002") == stored
    restored = InboxEvent.objects.get(event_id="tms-demo-0002")
    assert restored.state == InboxState.PENDING and restored.attempts == 0


def stored_data(event_id: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT data::text FROM integration_inboxevent WHERE event_id = %s", [event_id]
        )
        return cursor.fetchone()[0]
