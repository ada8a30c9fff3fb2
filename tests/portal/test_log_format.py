"""The log format an operator gets: JSON lines with DEBUG off unless told otherwise, in a
process of its own, as a server would start."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

from tests.processes import ROOT

# The tests ask for text logs (pyproject's pytest env); these processes choose for themselves.
NOT_INHERITED = {"SECRET_KEY", "DEBUG", "LOG_FORMAT", "DJANGO_ALLOW_ASYNC_UNSAFE"}
PROBE = (
    "import logging; logging.getLogger('probe').warning("
    "'event seen', extra={'event_id': 'tms-000017', 'request_id': 'req-1'})"
)


def manage(*arguments: str, **environment: str) -> subprocess.CompletedProcess:
    inherited = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env={**inherited, "SECRET_KEY": secrets.token_urlsafe(50), **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_debug_off_logs_json_lines_that_carry_the_event_id():
    result = manage("shell", "-c", PROBE, DEBUG="0")

    assert result.returncode == 0, result.stderr
    [line] = [json.loads(text) for text in result.stderr.splitlines() if '"probe"' in text]
    assert line["message"] == "event seen"
    assert line["event_id"] == "tms-000017"
    assert line["request_id"] == "req-1"
    assert line["level"] == "WARNING"


def test_text_on_request_and_a_bad_format_refused():
    text = manage("shell", "-c", PROBE, DEBUG="0", LOG_FORMAT="text")
    bad = manage("check", DEBUG="0", LOG_FORMAT="xml")

    assert "WARNING probe: event seen event_id=tms-000017 request_id=req-1" in text.stderr
    assert bad.returncode != 0
    assert "LOG_FORMAT must be json or text" in bad.stderr
