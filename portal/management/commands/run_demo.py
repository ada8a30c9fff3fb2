"""Run the whole portal in the foreground: web server, Celery worker and beat.

Ctrl-C stops all of it (and the embedded PostgreSQL/Redis when those are in use).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping

from django.conf import settings
from django.core.management.base import BaseCommand

from portal.demo import events as _  # noqa: F401  (fail early if demo data is missing)
from portal.management.commands.load_demo import DEMO_LOGINS, DEMO_PASSWORD


def demo_environment(port: int, environ: Mapping[str, str]) -> dict[str, str]:
    """The servers' environment: links in invitation and notification emails point at
    the port the demo serves, unless PORTAL_BASE_URL says otherwise."""
    return {
        **environ,
        "DEBUG": environ.get("DEBUG", "1"),
        "PORTAL_BASE_URL": environ.get("PORTAL_BASE_URL") or f"http://127.0.0.1:{port}",
    }


class Command(BaseCommand):
    help = "Serve the portal with a Celery worker and beat until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args, port, **options):
        def interrupt(signum, frame):
            raise KeyboardInterrupt

        # Explicit handlers: a shell that starts us in the background ignores SIGINT.
        signal.signal(signal.SIGINT, interrupt)
        signal.signal(signal.SIGTERM, interrupt)
        python = sys.executable
        environment = demo_environment(port, os.environ)
        commands = [
            [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            [
                python,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--loglevel=WARNING",
                "--concurrency=2",
            ],
            [
                python,
                "-m",
                "celery",
                "-A",
                "portal",
                "beat",
                "--loglevel=WARNING",
                "--schedule",
                settings.CELERY_BEAT_SCHEDULE_FILENAME,
            ],
        ]
        processes = [subprocess.Popen(command, env=environment) for command in commands]
        time.sleep(2)
        self.stdout.write("\n" + "=" * 64)
        self.stdout.write(f"Portal running at http://127.0.0.1:{port}/")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, what in DEMO_LOGINS:
            self.stdout.write(f"  {username:<16} {what}")
        self.stdout.write("Press Ctrl-C to stop the web server, worker and beat.")
        self.stdout.write("=" * 64 + "\n")
        try:
            while all(process.poll() is None for process in processes):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
            if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
                from portal.embedded import stop_embedded_servers

                stop_embedded_servers()
            self.stdout.write("stopped")
