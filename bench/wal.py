"""Write volume per event: WAL, table and index bytes, and archive bytes, measured on a
PostgreSQL cluster of its own (the machine's server is shared, and WAL is per cluster).

`make bench-wal` (`python -m bench.wal`; BENCH_WAL_EVENTS, default 20,000; BENCH_WAL_PORT,
default 9810). It runs initdb in a temporary directory, starts the server on the port,
migrates, creates the bench tenants and sources, then in this process:

1. intake: the `bench/workload.py` stream through `receive_events`, request by request;
2. projection: `process_inbox_until_empty()` (batches of INBOX_BATCH_SIZE);
3. archive: `archive_run` with every processed row due (files on a temporary disk).

A CHECKPOINT precedes each stage, so each pays the full-page images of the pages it is
first to touch, as a stage running between checkpoints in production does: an upper
bound for a busy table, close for a large one. For each stage it prints WAL bytes
(`pg_stat_wal`) per event, and afterwards the bytes each table and its indexes hold per
event, and the compressed archive bytes per event. The cluster is stopped and removed.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVENTS = int(os.environ.get("BENCH_WAL_EVENTS", "20000"))
PORT = int(os.environ.get("BENCH_WAL_PORT", "9810"))
TABLES = (
    "integration_inboxevent",
    "visibility_shipmentevent",
    "visibility_shipment",
    "visibility_shipmentstop",
    "visibility_shipmentorder",
    "visibility_shipmentaccount",
    "visibility_order",
    "visibility_orderline",
    "visibility_invoice",
    "visibility_reference",
    "visibility_freightcharge",
    "visibility_change",
    "visibility_notification",
)


def postgres_bin() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not candidates:
        raise SystemExit("no PostgreSQL binaries (pg_ctl) found")
    return candidates[-1]


def _as_owner(command: list[Any]) -> list[Any]:
    """PostgreSQL refuses to run as root: as root, run it as the `postgres` user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def start_cluster(directory: Path) -> None:
    binaries = postgres_bin()
    data = directory / "data"
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
    subprocess.run(
        _as_owner([binaries / "initdb", "-D", data, "-U", "postgres", "--auth=trust"]),
        check=True,
        capture_output=True,
    )
    settings = (
        f"port = {PORT}",
        "listen_addresses = '127.0.0.1'",
        f"unix_socket_directories = '{directory}'",
        "fsync = off",
        "max_wal_size = '4GB'",
    )
    with (data / "postgresql.conf").open("a") as conf:
        conf.write("\n".join(settings) + "\n")
    subprocess.run(
        _as_owner([binaries / "pg_ctl", "-D", data, "-l", directory / "log", "-w", "start"]),
        check=True,
        capture_output=True,
    )


def stop_cluster(directory: Path) -> None:
    subprocess.run(
        _as_owner(
            [postgres_bin() / "pg_ctl", "-D", directory / "data", "-m", "fast", "-w", "stop"]
        ),
        capture_output=True,
    )


def wal_now(cursor: Any) -> tuple[int, int, int]:
    cursor.execute("SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal")
    records, fpi, wal_bytes = cursor.fetchone()
    return int(records), int(fpi), int(wal_bytes)


def stage(cursor: Any, name: str, events: int, work: Any) -> dict[str, Any]:
    cursor.execute("CHECKPOINT")
    before = wal_now(cursor)
    started = time.monotonic()
    work()
    elapsed = time.monotonic() - started
    after = wal_now(cursor)
    records, fpi, wal_bytes = (
        later - earlier for later, earlier in zip(after, before, strict=True)
    )
    return {
        "stage": name,
        "seconds": round(elapsed, 1),
        "wal_bytes": wal_bytes,
        "wal_bytes_per_event": round(wal_bytes / events),
        "records_per_event": round(records / events, 1),
        "full_page_images": fpi,
    }


def main() -> None:
    directory = Path(tempfile.mkdtemp(prefix="bench-wal-"))
    archive_root = Path(tempfile.mkdtemp(prefix="bench-wal-archive-"))
    start_cluster(directory)
    try:
        os.environ.update(
            {
                "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{PORT}/postgres",
                "REDIS_URL": "redis://127.0.0.1:1/0",  # unused: wake-ups go to memory://
                "ARCHIVE_ROOT": str(archive_root),
                "MEDIA_ROOT": str(archive_root / "media"),
                "DJANGO_SETTINGS_MODULE": "portal.settings",
                "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-wal-not-a-secret-0123456789"),
                "LOG_LEVEL": "ERROR",
            }
        )
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        import logging

        logging.disable(logging.WARNING)
        from portal.celery import app

        # Intake's wake-ups go nowhere: this bench projects in process.
        app.conf.broker_url = "memory://"
        from django.core.management import call_command
        from django.db import connection
        from django.utils import timezone

        from bench import workload
        from integration.models import InboxEvent
        from integration.services.archive import archive_run
        from integration.services.intake import receive_events
        from integration.services.processing import process_inbox_until_empty

        call_command("migrate", verbosity=0)
        for slug, name, accounts in workload.TENANTS:
            call_command(
                "create_tenant", slug, name=name, accounts=",".join(accounts), stdout=io.StringIO()
            )
        for source in workload.SOURCES:
            call_command("create_source", source, role=source, stdout=io.StringIO())
        events = workload.generate_events(EVENTS, prefix="w")
        requests = workload.intake_requests(
            events, window=workload.window_for_batches_of(events, 500)
        )
        results = []
        with connection.cursor() as cursor:
            results.append(
                stage(
                    cursor,
                    "intake (receive_events, ~500 events a request)",
                    len(events),
                    lambda: [receive_events(source=s, events=batch) for s, batch in requests],
                )
            )
            results.append(stage(cursor, "projection", len(events), process_inbox_until_empty))
            cursor.execute("VACUUM ANALYZE")
            sizes = {}
            for table in TABLES:
                cursor.execute(
                    "SELECT pg_table_size(%s), pg_indexes_size(%s), (SELECT count(*) FROM "
                    + table
                    + ")",
                    [table, table],
                )
                table_bytes, index_bytes, rows = cursor.fetchone()
                sizes[table] = (rows, table_bytes, index_bytes)
            InboxEvent.objects.update(received_at=timezone.now() - timedelta(days=365))
            archived = {}

            def archive() -> None:
                archived["rows"] = archive_run(timezone.now()).rows

            results.append(stage(cursor, "archive and delete the inbox", len(events), archive))
        archive_bytes = sum(path.stat().st_size for path in archive_root.rglob("*.jsonl.gz"))
        print(
            f"{len(events):,} events ({len(requests)} intake requests); cluster of its own,"
            " fsync off, CHECKPOINT before each stage\n"
        )
        print("| stage | seconds | WAL bytes / event | WAL records / event | full-page images |")
        print("|---|---:|---:|---:|---:|")
        for row in results:
            print(
                f"| {row['stage']} | {row['seconds']} | {row['wal_bytes_per_event']:,} |"
                f" {row['records_per_event']} | {row['full_page_images']:,} |"
            )
        print("\n| table | rows | table bytes / event | index bytes / event |")
        print("|---|---:|---:|---:|")
        total_table = total_index = 0
        for table, (rows, table_bytes, index_bytes) in sizes.items():
            total_table += table_bytes
            total_index += index_bytes
            print(
                f"| {table} | {rows:,} | {table_bytes / len(events):,.0f} |"
                f" {index_bytes / len(events):,.0f} |"
            )
        print(
            f"| all of the above | | {total_table / len(events):,.0f} |"
            f" {total_index / len(events):,.0f} |"
        )
        print(
            f"\narchive: {archived['rows']:,} inbox rows in {archive_bytes:,} bytes of gzip JSON"
            f" lines = {archive_bytes / max(archived['rows'], 1):,.0f} bytes per event"
        )
    finally:
        from django.db import connections

        connections.close_all()
        stop_cluster(directory)
        shutil.rmtree(directory, ignore_errors=True)
        shutil.rmtree(archive_root, ignore_errors=True)


if __name__ == "__main__":
    main()
