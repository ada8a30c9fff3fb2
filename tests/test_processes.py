"""The helpers that start and stop the workers and servers tests run (tests/processes.py):
`make test` must leave no process behind, even when a worker's children outlive it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.processes import stop

# A leader that dies on SIGTERM and a child that ignores it: what a Celery worker killed
# before its embedded beat or pool child has stopped leaves behind.
_CHILD = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
    " print('up', flush=True); time.sleep(120)"
)
_LEADER = f"""
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", {_CHILD!r}])
time.sleep(120)
"""


def _group_members(group: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == group:
                    members.append(int(entry))
            except ProcessLookupError:
                continue
    return members


def test_stop_ends_the_children_of_a_process_that_leads_its_own_group():
    leader = subprocess.Popen(
        [sys.executable, "-c", _LEADER], stdout=subprocess.PIPE, start_new_session=True
    )
    assert leader.stdout is not None
    assert leader.stdout.readline().strip() == b"up"
    group = leader.pid
    assert len(_group_members(group)) == 2

    stop(leader)

    deadline = time.monotonic() + 5
    while _group_members(group) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _group_members(group) == []
