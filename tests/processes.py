"""Helpers for tests that run real processes (Celery workers) against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """A DATABASE_URL naming the database this test run uses (test_*)."""
    database = connection.settings_dict
    user = quote(database["USER"] or "")
    password = f":{quote(database['PASSWORD'])}" if database.get("PASSWORD") else ""
    host = database.get("HOST") or ""
    if host.startswith("/"):
        return f"postgresql://{user}{password}@/{database['NAME']}?host={host}"
    port = f":{database['PORT']}" if database.get("PORT") else ""
    return f"postgresql://{user}{password}@{host}{port}/{database['NAME']}"


def start_worker(*extra_args: str, redis_url: str | None = None) -> subprocess.Popen:
    environment = {**os.environ, "DATABASE_URL": test_database_url(),
                   "REDIS_URL": redis_url or settings.REDIS_URL, "INBOX_SWEEP_SECONDS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel=WARNING",
         "--concurrency=1", "--without-gossip", "--without-mingle", *extra_args],
        cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def wait_until(condition: Callable[[], bool], *, timeout: float = 30,
               interval: float = 0.1) -> bool:
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
