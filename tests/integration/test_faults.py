"""Faults on real processes: Redis down during intake, PostgreSQL down, a worker SIGKILLed."""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request

import pytest

from integration.models import InboxEvent, InboxState
from integration.services.intake import receive_events
from tests.helpers import milestone_flood
from tests.processes import (
    database_url_for_tests,
    free_port,
    start_redis,
    start_web_server,
    start_worker,
    stop,
    wait_until,
)
from visibility.models import Shipment, ShipmentEvent

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]


def http_post(url: str, token: str, body) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def all_processed() -> bool:
    return not InboxEvent.objects.exclude(state=InboxState.PROCESSED).exists()


def test_intake_accepts_while_redis_is_down_and_the_sweep_catches_up(
    brenner, source_tokens, story, tmp_path
):
    redis_port, web_port = free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    redis = start_redis(redis_port)
    web = start_web_server(web_port, database_url=database_url_for_tests(), redis_url=redis_url)
    worker = None
    try:
        stop(redis)  # Redis goes down while the web server is up

        for source in ("erp", "tms"):
            status, _, body = http_post(
                f"http://127.0.0.1:{web_port}/api/v1/events",
                source_tokens[source],
                {"events": [event for event in story if event["source"] == source]},
            )
            assert status == 202
            assert {result["status"] for result in body["results"]} == {"accepted"}
        assert InboxEvent.objects.filter(state=InboxState.PENDING).count() == len(story)

        redis = start_redis(redis_port)  # back again: no wake-up was ever delivered
        worker = start_worker("--beat", "--schedule", str(tmp_path / "beat"), redis_url=redis_url)
        assert wait_until(all_processed, timeout=60)
    finally:
        for process in (web, worker, redis):
            if process is not None:
                stop(process)

    assert Shipment.objects.get(shipment_id="SHP-778120").status == "delivered"


def test_intake_answers_503_with_retry_after_when_postgresql_is_down(source_tokens, story):
    web_port = free_port()
    unreachable_database = f"postgresql://postgres@127.0.0.1:{free_port()}/portal"
    web = start_web_server(
        web_port, database_url=unreachable_database, redis_url="redis://127.0.0.1:1/0"
    )
    try:
        status, headers, body = http_post(
            f"http://127.0.0.1:{web_port}/api/v1/events", source_tokens["erp"], story[0]
        )
    finally:
        stop(web)

    assert status == 503
    assert headers["Retry-After"] == "5"
    assert "temporarily unavailable" in body["detail"]


def test_worker_killed_mid_batch_loses_nothing_and_projects_once(brenner, source_tokens, tmp_path):
    events = milestone_flood(shipments=40, milestones_per_shipment=60)
    for source in ("erp", "tms"):
        sent = [event for event in events if event["source"] == source]
        for start in range(0, len(sent), 1000):
            receive_events(source=source, events=sent[start : start + 1000])
    os.environ["INBOX_BATCH_SIZE"] = "200"
    try:
        worker = start_worker()
        from portal.celery import app

        app.send_task("integration.tasks.process_inbox")
        started = wait_until(
            lambda: InboxEvent.objects.filter(state=InboxState.PROCESSED).exists(),
            timeout=60,
            interval=0.02,
        )
        for child in _children(worker.pid):
            os.kill(child, signal.SIGKILL)
        worker.kill()
        worker.wait()
    finally:
        del os.environ["INBOX_BATCH_SIZE"]
    assert started
    processed_at_kill = InboxEvent.objects.filter(state=InboxState.PROCESSED).count()
    assert 0 < processed_at_kill < len(events), "the kill must land mid-way"

    worker = start_worker("--beat", "--schedule", str(tmp_path / "beat"))
    try:
        assert wait_until(all_processed, timeout=120)
    finally:
        stop(worker)

    assert InboxEvent.objects.filter(state=InboxState.PROCESSED).count() == len(events)
    assert ShipmentEvent.objects.count() == 40 * 60
    assert set(Shipment.objects.values_list("status", flat=True)) == {"in_transit"}


def _children(pid: int) -> list[int]:
    import psutil

    return [child.pid for child in psutil.Process(pid).children(recursive=True)]
