"""Production settings pass Django's deployment checklist, and DEBUG off without a secret
key is refused (issue 19). Each case runs manage.py in its own process with its own
environment, as an operator would."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

from tests.processes import ROOT

# What this test run sets for itself: DJANGO_ALLOW_ASYNC_UNSAFE comes from the browser
# tests (tests/browser/conftest.py) and is refused by the deployment checklist.
NOT_INHERITED = {"SECRET_KEY", "DEBUG", "BEHIND_TLS_PROXY", "DJANGO_ALLOW_ASYNC_UNSAFE"}


def manage(*arguments: str, **environment: str) -> subprocess.CompletedProcess:
    inherited = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env={**inherited, **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_behind_a_tls_proxy():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=secrets.token_urlsafe(50),
        DEBUG="0",
        BEHIND_TLS_PROXY="1",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


def test_check_deploy_on_plain_http_names_what_is_missing():
    """Without the TLS proxy there is no HTTPS to redirect to: the checklist says so."""
    result = manage("check", "--deploy", SECRET_KEY=secrets.token_urlsafe(50), DEBUG="0")

    assert "security.W004" in result.stderr  # HSTS
    assert "security.W008" in result.stderr  # SSL redirect


def test_debug_off_without_a_secret_key_refuses_to_start():
    result = manage("check", DEBUG="0")

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set" in result.stderr


def test_debug_on_runs_with_the_development_key():
    result = manage("check", DEBUG="1")

    assert result.returncode == 0, result.stderr
