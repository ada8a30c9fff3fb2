"""The production shape as the issue asks for it (issue 19): the image runs gunicorn as an
unprivileged user with a health check; compose migrates once before anything else starts
and checks the health of what it runs. `docker-compose config` validates the file where
docker-compose is installed (.ci/run does it too)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from tests.processes import ROOT


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_image_runs_gunicorn_as_an_unprivileged_user_with_a_health_check():
    dockerfile = (ROOT / "Dockerfile").read_text()
    instructions = [line.split()[0] for line in dockerfile.splitlines() if line[:1].isupper()]

    assert "|| true" not in dockerfile and "2>/dev/null" not in dockerfile
    assert "USER portal" in dockerfile
    assert instructions.index("USER") < instructions.index("CMD")
    assert 'CMD ["python", "-m", "portal.healthcheck"]' in dockerfile
    assert 'CMD ["gunicorn", "--config", "gunicorn.conf.py", "portal.wsgi:application"]' in (
        dockerfile
    )
    assert "runserver" not in dockerfile


def test_compose_migrates_once_before_web_worker_and_beat():
    services = compose()["services"]

    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends_on["postgres"] == {"condition": "service_healthy"}, name
        assert "migrate" not in str(services[name].get("command", "")), name
    assert services["web"]["healthcheck"]["test"] == ["CMD", "python", "-m", "portal.healthcheck"]
    assert "inspect ping" in services["worker"]["healthcheck"]["test"][1]
    assert "runserver" not in str(services)


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_config_validates():
    result = subprocess.run(
        ["docker-compose", "config", "--quiet"],
        cwd=ROOT,
        env={**os.environ, "SECRET_KEY": "validation-only"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_the_health_probe_asks_as_an_allowed_host(monkeypatch):
    from portal.healthcheck import probe_host

    monkeypatch.setenv("ALLOWED_HOSTS", "portal.example.com,localhost")
    assert probe_host() == "portal.example.com"
    monkeypatch.setenv("ALLOWED_HOSTS", ".example.com")
    assert probe_host() == "portal.example.com"
    monkeypatch.setenv("ALLOWED_HOSTS", "*")
    assert probe_host() == "localhost"
