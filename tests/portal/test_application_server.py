"""The production web server: gunicorn with gunicorn.conf.py (the image, docker-compose
and `make demo` run exactly this) serves the portal, refuses to start without a secret
key when DEBUG is off, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request

import pytest
from django.conf import settings

from tests.processes import ROOT, database_url_for_tests, free_port, stop, wait_until

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]


def gunicorn(port: int, **environment: str) -> subprocess.Popen:
    return subprocess.Popen(
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
        env={
            **os.environ,
            "DATABASE_URL": database_url_for_tests(),
            "REDIS_URL": settings.REDIS_URL,
            "WEB_CONCURRENCY": "1",
            "WEB_THREADS": "2",
            "EVENTS_MAX_CLOCK_SKEW_HOURS": str(settings.EVENTS_MAX_CLOCK_SKEW_HOURS),
            **environment,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def answering(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1)
        return True
    except OSError:
        return False


def get(url: str, **headers: str):
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10)


def test_gunicorn_serves_pages_and_the_api_then_stops_cleanly(partner_token):
    port = free_port()
    server = gunicorn(port)
    try:
        assert wait_until(lambda: answering(f"http://127.0.0.1:{port}/healthz"), timeout=60)

        page = get(f"http://127.0.0.1:{port}/login/")
        assert page.status == 200
        assert page.headers["Server"].startswith("gunicorn")
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]
        # Several requests over the same threads: each keeps its database connection.
        for _ in range(5):
            api = get(
                f"http://127.0.0.1:{port}/api/v1/shipments",
                Authorization=f"Bearer {partner_token}",
            )
            assert api.status == 200
            assert api.headers["Content-Type"] == "application/json"

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        errors = server.stderr.read().decode()
        assert "Traceback" not in errors
        assert "Shutting down: Master" in errors
    finally:
        stop(server)


def test_without_a_secret_key_and_debug_off_it_refuses_to_start():
    environment = {key: value for key, value in os.environ.items() if key != "SECRET_KEY"}
    server = subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{free_port()}",
            "portal.wsgi:application",
        ],
        cwd=ROOT,
        env={**environment, "DEBUG": "0", "DATABASE_URL": database_url_for_tests()},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert server.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set" in server.stderr
