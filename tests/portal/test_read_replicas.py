"""Read replicas against a real streaming replica: this test starts a PostgreSQL primary
of its own and a `pg_basebackup -R` standby of it (bench/streaming_replica.py; the
machine's server is never reconfigured), then runs tests/portal/replica_scenarios.py in a
pytest process pointed at them: pages and APIs read from the replica, a user's own
write is read back at once, a lagging replica is skipped."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench.streaming_replica import TOOLS, binaries, streaming_pair
from tests.processes import ROOT, database_url_for_tests, free_port

pytestmark = [
    pytest.mark.fault,
    pytest.mark.skipif(
        binaries() is None,
        reason=f"no PostgreSQL installation with {', '.join(TOOLS)} (set PG_BINARIES)",
    ),
]


def ports() -> tuple[int, int, int]:
    """Free loopback ports for the primary, its replica and a replica that is not there
    (REPLICA_TEST_BASE_PORT and the next two, when set)."""
    if os.environ.get("REPLICA_TEST_BASE_PORT"):
        base = int(os.environ["REPLICA_TEST_BASE_PORT"])
        return base, base + 1, base + 2
    return free_port(), free_port(), free_port()


@pytest.mark.django_db  # the migrated test database, whose schema the primary copies
def test_reads_through_a_streaming_replica():
    primary_port, replica_port, dead_port = ports()
    with streaming_pair(primary_port, replica_port, schema_from=database_url_for_tests()) as pair:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "tests/portal/replica_scenarios.py",
                "-q",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:xdist",
            ],
            cwd=ROOT,
            env={
                **os.environ,
                "DATABASE_URL": pair.primary_url,
                # A second replica that never answers: it must be skipped.
                "DATABASE_REPLICA_URLS": f"{pair.replica_url},{pair.url(dead_port)}",
            },
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert "6 passed" in run.stdout
