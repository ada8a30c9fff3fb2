"""Clean starts and stops on real processes (issue 19): `make demo` (run_demo) with its own
embedded PostgreSQL and Redis, in a directory of their own (PORTAL_LOCAL_DIR), is stopped
by SIGTERM to it alone or SIGINT to its whole process group with nothing left running and
no traceback; after kill -9 of everything the next run recovers; `make test`'s wrapper
stops the servers it started and only those."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.processes import ROOT, free_port, wait_until

pytestmark = pytest.mark.fault

SERVICE_VARIABLES = {"DATABASE_URL", "REDIS_URL", "CACHE_REDIS_URL", "CACHE_KEY_PREFIX"}


def embedded_environment(local_dir: Path) -> dict[str, str]:
    """No service URLs: the portal starts (or reuses) embedded servers in `local_dir`."""
    environment = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    return {**environment, "PORTAL_LOCAL_DIR": str(local_dir), "INBOX_SWEEP_SECONDS": "1"}


def pid_in(pid_file: Path, program: str) -> int | None:
    """The live `program` process a pid file names, if any."""
    try:
        pid = int(pid_file.read_text().split()[0])
        process = psutil.Process(pid)
        alive = process.status() != psutil.STATUS_ZOMBIE and program in process.name()
    except (FileNotFoundError, ValueError, IndexError, psutil.Error):
        return None
    return pid if alive else None


@dataclass
class Servers:
    local_dir: Path

    def postgres(self) -> int | None:
        return pid_in(self.local_dir / "postgres" / "data" / "postmaster.pid", "postgres")

    def redis(self) -> int | None:
        return pid_in(self.local_dir / "redis" / "redis.pid", "redis")

    def none_running(self) -> bool:
        return self.postgres() is None and self.redis() is None

    def run(self, *command: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, *command],
            cwd=ROOT,
            env=embedded_environment(self.local_dir),
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[Servers]:
    """A cluster of its own, migrated once (about 15 s), stopped at the end whatever
    happened."""
    servers = Servers(tmp_path_factory.mktemp("local"))
    migrated = servers.run("manage.py", "migrate", "--noinput", "-v0", timeout=300)
    assert migrated.returncode == 0, migrated.stderr
    yield servers
    servers.run("-m", "portal.embedded", "stop")


class Demo:
    def __init__(self, servers: Servers, log: Path):
        self.port = free_port()
        self.log = log
        with open(log, "w") as output:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "run_demo", "--port", str(self.port)],
                cwd=ROOT,
                env=embedded_environment(servers.local_dir),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, as `make demo` in a shell
            )
        self.children: list[psutil.Process] = []

    def answers(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.port}/login/"
            return urllib.request.urlopen(url, timeout=2).status == 200
        except OSError:
            return False

    def wait_until_serving(self) -> None:
        assert wait_until(self.answers, timeout=120), self.output()
        parent = psutil.Process(self.process.pid)
        assert wait_until(lambda: len(parent.children()) == 3, timeout=30)
        self.children = parent.children(recursive=True)  # gunicorn and celery workers too
        time.sleep(2)  # worker and beat finish starting (connect to Redis, first tick)

    def children_gone(self) -> bool:
        return not any(
            child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in self.children
        )

    def output(self) -> str:
        return self.log.read_text()


def assert_stopped_cleanly(demo: Demo, servers: Servers) -> None:
    assert demo.process.wait(timeout=60) == 0, demo.output()
    output = demo.output()
    assert "Traceback" not in output, output
    assert output.rstrip().endswith("stopped")
    assert wait_until(demo.children_gone, timeout=10)
    assert servers.none_running()


def test_sigterm_to_the_demo_alone_stops_everything(servers, tmp_path):
    demo = Demo(servers, tmp_path / "parent.log")
    demo.wait_until_serving()
    assert servers.postgres() and servers.redis()

    demo.process.send_signal(signal.SIGTERM)  # the parent alone (a service manager)
    assert_stopped_cleanly(demo, servers)


def test_after_kill_9_of_everything_the_next_demo_recovers_and_ctrl_c_stops_it(servers, tmp_path):
    demo = Demo(servers, tmp_path / "crashed.log")
    demo.wait_until_serving()

    demo.process.kill()
    # The children follow their parent (PR_SET_PDEATHSIG), nothing keeps serving.
    assert wait_until(demo.children_gone, timeout=30)
    assert not demo.answers()
    # The servers crash too: their pid files and sockets stay behind.
    for pid in (servers.postgres(), servers.redis()):
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
    assert wait_until(servers.none_running, timeout=10)
    assert (servers.local_dir / "postgres" / "data" / "postmaster.pid").exists()
    assert (servers.local_dir / "redis" / "redis.sock").exists()

    demo = Demo(servers, tmp_path / "recovered.log")
    demo.wait_until_serving()
    assert servers.postgres() and servers.redis()

    os.killpg(demo.process.pid, signal.SIGINT)  # Ctrl-C in the terminal: the whole group
    assert_stopped_cleanly(demo, servers)


def test_the_test_wrapper_stops_the_servers_it_started_and_only_those(servers):
    assert servers.none_running()

    result = servers.run(
        "-m", "portal.embedded", "run", "--", sys.executable, "-m", "portal.embedded", "start"
    )
    assert result.returncode == 0, result.stderr
    assert "postgresql://" in result.stdout
    assert servers.none_running()

    assert servers.run("-m", "portal.embedded", "start").returncode == 0
    result = servers.run(
        "-m", "portal.embedded", "run", "--", sys.executable, "-c", "raise SystemExit(3)"
    )
    assert result.returncode == 3  # the command's outcome is the run's outcome
    assert servers.postgres() and servers.redis()  # running before it: left alone
    servers.run("-m", "portal.embedded", "stop")
    assert servers.none_running()
