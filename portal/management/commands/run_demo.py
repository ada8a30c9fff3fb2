"""Run the whole portal in the foreground: gunicorn, a Celery worker and beat.

The web server is the production one (gunicorn.conf.py) with DEBUG off. Ctrl-C or SIGTERM,
to this process alone or to its whole process group (`make demo`), stops all of it, then
the embedded PostgreSQL/Redis when those are in use, and exits 0 without a traceback. The
children run in their own process group, so that only this process receives the
terminal's signals and stops them in order (web and beat, then the worker, then the
servers); on Linux each child is also told to stop if this process dies (kill -9), and
the next `make demo` reuses or restarts the embedded servers (portal/embedded.py).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from types import FrameType

from django.conf import settings
from django.core.management.base import BaseCommand

from portal import embedded
from portal.demo import events as _  # noqa: F401  (fail early if demo data is missing)
from portal.management.commands.load_demo import DEMO_LOGINS, DEMO_PASSWORD

STOP_TIMEOUT_SECONDS = 20
PR_SET_PDEATHSIG = 1


class Stop(Exception):
    """A stop signal arrived."""


def _own_group_dying_with_parent() -> None:
    """In the child before exec: a process group of its own (the terminal's Ctrl-C reaches
    only run_demo) and SIGTERM when run_demo dies, however it dies."""
    os.setpgid(0, 0)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def demo_environment(port: int, environ: Mapping[str, str]) -> dict[str, str]:
    """The servers' environment: DEBUG off like production; links in invitation and
    notification emails point at the port the demo serves, unless PORTAL_BASE_URL says
    otherwise."""
    return {
        **environ,
        "DEBUG": "0",
        # Plain HTTP on the loopback address: cookies without the Secure flag, so that
        # every browser keeps them on http://127.0.0.1 as on http://localhost.
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        # Human-readable logs in the terminal unless asked otherwise.
        "LOG_FORMAT": environ.get("LOG_FORMAT") or "text",
        "PORTAL_BASE_URL": environ.get("PORTAL_BASE_URL") or f"http://127.0.0.1:{port}",
    }


class Command(BaseCommand):
    help = "Serve the portal (gunicorn) with a Celery worker and beat until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args, port, **options):
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            if not stopping:  # a second Ctrl-C (or make's SIGTERM after ours) changes nothing
                stopping = True
                raise Stop

        # Explicit handlers: a shell that starts us in the background ignores SIGINT.
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGHUP, stop)
        processes: list[tuple[str, subprocess.Popen]] = []
        try:
            self.start(port, processes)
            self.announce(port)
            while all(process.poll() is None for _, process in processes):
                time.sleep(0.2)
            exited = [name for name, process in processes if process.poll() is not None]
            self.stderr.write(f"{', '.join(exited)} exited; stopping the rest")
        except Stop:
            pass
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            self.stop(processes)
        self.stdout.write("stopped")

    def start(self, port: int, processes: list[tuple[str, subprocess.Popen]]) -> None:
        """Start web, worker and beat, each appended to `processes` as soon as it runs (a
        stop signal may arrive in between)."""
        python = sys.executable
        environment = demo_environment(port, os.environ)
        commands = {
            "web": [
                python,
                "-m",
                "gunicorn",
                "--config",
                str(settings.BASE_DIR / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
                "portal.wsgi:application",
            ],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--loglevel=WARNING",
                "--concurrency=2",
                "--without-gossip",
                "--without-mingle",
            ],
            "beat": [
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
        }
        environment.setdefault("WEB_ACCESS_LOG", "0")
        environment.setdefault("WEB_CONCURRENCY", "2")
        for name, command in commands.items():
            processes.append(
                (
                    name,
                    subprocess.Popen(
                        command,
                        cwd=settings.BASE_DIR,
                        env=environment,
                        preexec_fn=_own_group_dying_with_parent,
                    ),
                )
            )

    def announce(self, port: int) -> None:
        self.stdout.write("\n" + "=" * 64)
        self.stdout.write(f"Portal running at http://127.0.0.1:{port}/")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, what in DEMO_LOGINS:
            self.stdout.write(f"  {username:<16} {what}")
        self.stdout.write("Press Ctrl-C to stop the web server, worker and beat.")
        self.stdout.write("=" * 64 + "\n")

    def stop(self, processes: list[tuple[str, subprocess.Popen]]) -> None:
        # Web and beat first (no new work), then the worker (finishes its batch).
        ordered = sorted(processes, key=lambda item: item[0] == "worker")
        for _name, process in ordered:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for name, process in ordered:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in {STOP_TIMEOUT_SECONDS} s; killed")
                process.kill()
                process.wait()
        uses_postgres, uses_redis = embedded.embedded_in_use()
        embedded.stop_embedded_servers(postgres=uses_postgres, redis=uses_redis)
