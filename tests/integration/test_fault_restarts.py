"""Faults on real processes while events flow (issue 19): PostgreSQL crashed and restarted
under a projecting worker, Redis restarted mid-run, the web server's worker SIGKILLed
between committing an intake batch and answering it. Each test records its figures
(test-results/faults.json, printed at the end of the run; docs/OPERATIONS.md, "Faults we
test")."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psutil
import psycopg
import pytest
from django.conf import settings

from integration.models import InboxEvent, InboxState
from integration.services.intake import receive_events
from integration.services.processing import process_inbox_until_empty
from tests.helpers import milestone_flood, read_model_json, reset_read_models
from tests.processes import (
    ROOT,
    ThrowawayPostgres,
    answering,
    database_url_for_tests,
    free_port,
    record_fault_figures,
    start_gunicorn,
    start_redis,
    start_worker,
    stop,
    stop_group,
    wait_until,
)

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]

BATCH_EVENTS = 60  # events per intake request
INBOX_BATCH_SIZE = "25"  # rows per projection batch: many transactions for a fault to cut


def stream_of_batches(shipments: int, milestones: int) -> list[tuple[str, list[dict]]]:
    """The orders (erp), then each shipment and its milestones (tms), in requests of
    BATCH_EVENTS events."""
    events = milestone_flood(shipments, milestones)
    batches = []
    for source in ("erp", "tms"):
        sent = [event for event in events if event["source"] == source]
        batches += [
            (source, sent[start : start + BATCH_EVENTS])
            for start in range(0, len(sent), BATCH_EVENTS)
        ]
    return batches


@dataclass
class IntakeClient:
    """A source system as the contract asks it to behave: a request answered 503, or not
    answered at all, is sent again, unchanged, until it is answered 202."""

    base_url: str
    tokens: dict[str, str]
    answers: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)
    requests_answered_202: int = 0
    slowest_answer_seconds: float = 0.0
    # (when the request was sent, by time.monotonic(); the answer: a status, or no answer)
    log: list[tuple[float, str]] = field(default_factory=list)

    def answers_to_requests_sent_after(self, moment: float) -> Counter[str]:
        return Counter(answer for sent_at, answer in self.log if sent_at >= moment)

    def post(self, source: str, batch: list[dict]) -> tuple[int, Any, dict]:
        request = urllib.request.Request(
            f"{self.base_url}/api/v1/events",
            data=json.dumps({"events": batch}).encode(),
            method="POST",
            headers={
                "Authorization": f"Bearer {self.tokens[source]}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.headers, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, error.headers, json.loads(error.read())

    def send(self, source: str, batch: list[dict], *, give_up_after: float = 60) -> None:
        deadline = time.monotonic() + give_up_after
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                status, headers, body = self.post(source, batch)
            except OSError:  # refused, reset, or cut off before the answer
                self.answers["no answer"] += 1
                self.log.append((started, "no answer"))
                time.sleep(0.2)
                continue
            self.answers[str(status)] += 1
            self.log.append((started, str(status)))
            elapsed = time.monotonic() - started
            self.slowest_answer_seconds = max(self.slowest_answer_seconds, elapsed)
            if status == 202:
                for result in body["results"]:
                    self.outcomes[result["status"]] += 1
                    if result["status"] == "accepted":
                        self.accepted[f"{source}:{result['event_id']}"] += 1
                self.requests_answered_202 += 1
                return
            # Anything but a clear "come back later" would be a bug.
            assert status == 503, body
            assert headers["Content-Type"] == "application/problem+json"
            assert headers["Retry-After"] == "5"
            time.sleep(0.3)  # a test has less patience than Retry-After
        raise AssertionError(f"intake never answered 202 in {give_up_after} s: {self.answers}")


class BackgroundSender(threading.Thread):
    """Sends a stream of batches through `client`, one after another, while a test
    breaks things."""

    def __init__(
        self, client: IntakeClient, batches: list[tuple[str, list[dict]]], *, pause: float
    ) -> None:
        super().__init__(daemon=True)
        self.client, self.batches, self.pause = client, batches, pause
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            for source, batch in self.batches:
                self.client.send(source, batch)
                time.sleep(self.pause)
        except BaseException as error:
            self.error = error

    def finish(self) -> None:
        self.join(timeout=120)
        assert not self.is_alive(), "the client is still sending"
        if self.error:
            raise self.error


def every_event_once(client: IntakeClient, batches: list[tuple[str, list[dict]]]) -> set[str]:
    """Each event sent was answered `accepted` exactly once (its other answers, to
    retries of a request whose answer was lost, `duplicate`)."""
    sent = {f"{source}:{event['event_id']}" for source, batch in batches for event in batch}
    assert set(client.accepted) == sent
    assert set(client.accepted.values()) == {1}
    return sent


def clean_projection(batches: list[tuple[str, list[dict]]]) -> str:
    """The read models a single pass over the same events gives, no fault anywhere: in
    the test database, through the same services, in this process."""
    reset_read_models()
    for source, batch in batches:
        receive_events(source=source, events=batch)
    process_inbox_until_empty()
    return read_model_json()


# --- servers of the tests' own --------------------------------------------------------------


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(free_port())
    server.start()
    yield server
    server.stop()


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.process = start_redis(self.port)
        client = redis.Redis(port=self.port, socket_timeout=1)
        assert wait_until(lambda: _pings(client), timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


def _pings(client) -> bool:
    import redis

    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.fixture
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    """A PostgreSQL of this test's own holding a copy of the test database (its tenant,
    sources and tokens), about 3 s to make."""
    postgres = ThrowawayPostgres(free_port())
    try:
        postgres.start()
        postgres.copy_database(database_url_for_tests())
        yield postgres
    finally:
        postgres.remove()


def inbox_by_state(database_url: str) -> Counter[str]:
    """Inbox rows by state in a database this process does not use (empty if it is down)."""
    try:
        with psycopg.connect(database_url, connect_timeout=2) as connection:
            rows = connection.execute(
                "SELECT state, count(*) FROM integration_inboxevent GROUP BY state"
            ).fetchall()
    except psycopg.OperationalError:
        return Counter()
    return Counter(dict(rows))


def read_models_of(database_url: str) -> str:
    dump = subprocess.run(
        [sys.executable, "-m", "tests.read_model_dump"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dump.stdout.strip()


def history_facts(read_models: str) -> int:
    return sum(
        len(shipment["history"]) for shipment in json.loads(read_models)["shipments"].values()
    )


def alive(process: subprocess.Popen) -> bool:
    return process.poll() is None


# --- the faults ------------------------------------------------------------------------------


def test_postgresql_crashed_and_restarted_under_a_projecting_worker_loses_and_doubles_nothing(
    brenner, source_tokens, throwaway_postgres, redis_server, tmp_path
):
    postgres, database_url = throwaway_postgres, throwaway_postgres.url()
    batches = stream_of_batches(shipments=20, milestones=40)
    total = sum(len(batch) for _, batch in batches)
    web_port = free_port()
    web = start_gunicorn(
        web_port, database_url=database_url, redis_url=redis_server.url, log=tmp_path / "web.log"
    )
    worker = start_worker(
        "--beat",
        "--schedule",
        str(tmp_path / "beat"),
        database_url=database_url,
        redis_url=redis_server.url,
        log=tmp_path / "worker.log",
        INBOX_BATCH_SIZE=INBOX_BATCH_SIZE,
    )
    try:
        client = IntakeClient(f"http://127.0.0.1:{web_port}", source_tokens)
        [(source, orders), *stream] = batches
        client.send(source, orders)  # the orders first, projected once the worker is up
        assert wait_until(lambda: inbox_by_state(database_url)["processed"] > 0, timeout=60)
        sending = BackgroundSender(client, stream, pause=0.3)
        # A third of the stream sent, the worker projecting it.
        assert wait_until(lambda: client.requests_answered_202 > len(stream) // 3, timeout=60)
        before = inbox_by_state(database_url)
        requests_before = sum(client.answers.values())
        crashed_at = time.monotonic()
        postgres.stop("immediate")  # a crash: sessions cut, no checkpoint, WAL replay at start
        time.sleep(2)  # down long enough for intake and the worker to meet the outage
        requests_during_outage = sum(client.answers.values()) - requests_before
        postgres.start()
        restarted_at = time.monotonic()

        sending.finish()
        drained = wait_until(
            lambda: inbox_by_state(database_url) == Counter(processed=total), timeout=60
        )
        drained_at = time.monotonic()
        assert drained, inbox_by_state(database_url)
        # Nobody restarted anything but PostgreSQL: the same web server and worker
        # reconnected by themselves.
        assert alive(web) and alive(worker)
    finally:
        stop_group(web)
        stop_group(worker)
    faulted = read_models_of(database_url)

    sent = every_event_once(client, batches)
    assert client.answers["503"] + client.answers["no answer"] > 0, "intake never met the outage"
    # Once PostgreSQL is back, the web server's kept connections are checked before use
    # (CONN_HEALTH_CHECKS): no request sent after the restart meets a dead one.
    assert set(client.answers_to_requests_sent_after(restarted_at)) == {"202"}
    assert 0 < before["processed"] < total
    clean = clean_projection(batches)
    assert faulted == clean
    assert len(sent) == total
    record_fault_figures(
        "postgresql_restarted_while_projecting",
        {
            "events_sent": total,
            "requests": sum(client.answers.values()),
            "answers": dict(client.answers),
            "requests_during_outage": requests_during_outage,
            "slowest_answer_seconds": round(client.slowest_answer_seconds, 2),
            "processed_when_crashed": before["processed"],
            "pending_when_crashed": before["pending"],
            "down_seconds": round(restarted_at - crashed_at, 2),
            "seconds_from_restart_to_inbox_drained": round(drained_at - restarted_at, 2),
            "lost": total - inbox_by_state(database_url)["processed"],
            "doubled": history_facts(faulted) - history_facts(clean),
        },
    )


def test_redis_restarted_mid_run_loses_nothing_and_intake_keeps_answering(
    brenner, source_tokens, redis_server, tmp_path
):
    batches = stream_of_batches(shipments=20, milestones=40)
    total = sum(len(batch) for _, batch in batches)
    web_port = free_port()
    web = start_gunicorn(
        web_port,
        database_url=database_url_for_tests(),
        redis_url=redis_server.url,
        log=tmp_path / "web.log",
    )
    worker = start_worker(
        "--beat",
        "--schedule",
        str(tmp_path / "beat"),
        redis_url=redis_server.url,
        log=tmp_path / "worker.log",
        INBOX_BATCH_SIZE=INBOX_BATCH_SIZE,
    )
    processed = InboxEvent.objects.filter(state=InboxState.PROCESSED)
    try:
        client = IntakeClient(f"http://127.0.0.1:{web_port}", source_tokens)
        [(source, orders), *stream] = batches
        client.send(source, orders)  # the orders first, projected once the worker is up
        assert wait_until(processed.exists, timeout=60)
        sending = BackgroundSender(client, stream, pause=0.3)
        assert wait_until(lambda: client.requests_answered_202 > len(stream) // 3, timeout=60)
        processed_when_stopped = processed.count()
        answers_before = sum(client.answers.values())
        stopped_at = time.monotonic()
        redis_server.stop()  # its queue and wake-ups are gone with it (no persistence)
        # The rest of the stream arrives while Redis is down: no wake-up reaches the
        # worker for it; the periodic sweep (beat) must hand it over once Redis is back.
        sending.finish()
        answers_during_outage = Counter(client.answers)
        healthz_while_down = answering(f"http://127.0.0.1:{web_port}/healthz")
        # What the worker's running batch loop did not reach waits for beat's sweep.
        pending_when_restarted = InboxEvent.objects.filter(state=InboxState.PENDING).count()
        redis_server.start()
        restarted_at = time.monotonic()
        drained = wait_until(lambda: processed.count() == total, timeout=60)
        drained_at = time.monotonic()
        assert drained, Counter(InboxEvent.objects.values_list("state", flat=True))
        assert alive(web) and alive(worker)
    finally:
        stop_group(web)
        stop_group(worker)

    every_event_once(client, batches)
    assert set(client.answers) == {"202"}  # intake does not need Redis to accept
    # ... nor waits for it: one attempt to reach the broker, not kombu's retries (6 s).
    assert client.slowest_answer_seconds < 4
    assert sum(answers_during_outage.values()) - answers_before >= len(stream) // 3
    assert healthz_while_down
    assert not InboxEvent.objects.exclude(state=InboxState.PROCESSED).exists()
    processed_at_end = processed.count()
    faulted = read_model_json()
    clean = clean_projection(batches)
    assert faulted == clean
    record_fault_figures(
        "redis_restarted_mid_run",
        {
            "events_sent": total,
            "requests": sum(client.answers.values()),
            "answers": dict(client.answers),
            "requests_during_outage": sum(answers_during_outage.values()) - answers_before,
            "slowest_answer_seconds": round(client.slowest_answer_seconds, 2),
            "processed_when_stopped": processed_when_stopped,
            "pending_when_restarted": pending_when_restarted,
            "down_seconds": round(restarted_at - stopped_at, 2),
            "seconds_from_restart_to_inbox_drained": round(drained_at - restarted_at, 2),
            "lost": total - processed_at_end,
            "doubled": history_facts(faulted) - history_facts(clean),
        },
    )


def test_web_worker_killed_after_commit_before_answering_the_retry_is_duplicate(
    brenner, source_tokens, redis_server, tmp_path
):
    """Deterministic without a hook in the product: with the broker's Redis frozen
    (SIGSTOP), intake commits the batch and then waits in the wake-up it publishes after
    commit, for the answer the frozen Redis never gives. The rows are visible, the answer
    is not written: then the gunicorn worker is SIGKILLed."""
    [(_, orders), (_, shipments)] = [
        (source, batch[:BATCH_EVENTS])
        for source, batch in stream_of_batches(shipments=BATCH_EVENTS, milestones=0)
    ]
    web_port = free_port()
    web = start_gunicorn(
        web_port,
        database_url=database_url_for_tests(),
        redis_url=redis_server.url,
        log=tmp_path / "web.log",
        # The cache (sign-in counters; not on intake's path) stays out of the frozen server.
        CACHE_REDIS_URL=settings.CACHES["default"]["LOCATION"],
    )
    client = IntakeClient(f"http://127.0.0.1:{web_port}", source_tokens)
    try:
        client.send("erp", orders)  # the batch's orders, answered normally
        [web_worker] = psutil.Process(web.pid).children()
        assert redis_server.process is not None
        os.kill(redis_server.process.pid, signal.SIGSTOP)
        answer: list[Any] = []

        def send_once() -> None:
            try:
                answer.append(client.post("tms", shipments))
            except OSError as error:
                answer.append(error)

        request = threading.Thread(target=send_once)
        request.start()
        committed = wait_until(
            lambda: InboxEvent.objects.filter(source="tms").count() == len(shipments),
            timeout=30,
            interval=0.01,
        )
        assert committed
        assert not answer, f"answered before the kill: {answer}"
        web_worker.kill()
        killed_at = time.monotonic()
        request.join(timeout=30)
        os.kill(redis_server.process.pid, signal.SIGCONT)

        [cut_off] = answer
        assert isinstance(cut_off, OSError), f"the request was answered: {cut_off}"
        # gunicorn's master starts a new worker; the client sends the same batch again.
        assert wait_until(lambda: answering(f"http://127.0.0.1:{web_port}/healthz"), timeout=30)
        recovered_at = time.monotonic()
        [new_worker] = psutil.Process(web.pid).children()
        assert new_worker.pid != web_worker.pid
        client.send("tms", shipments)
    finally:
        if redis_server.process is not None:
            os.kill(redis_server.process.pid, signal.SIGCONT)
        stop_group(web)

    assert client.outcomes == Counter(accepted=len(orders), duplicate=len(shipments))
    assert InboxEvent.objects.count() == len(orders) + len(shipments)
    process_inbox_until_empty()
    assert not InboxEvent.objects.exclude(state=InboxState.PROCESSED).exists()
    inbox_rows = InboxEvent.objects.count()
    faulted = read_model_json()
    clean = clean_projection([("erp", orders), ("tms", shipments)])
    assert faulted == clean
    record_fault_figures(
        "web_worker_killed_mid_intake",
        {
            "events_in_batch": len(shipments),
            "committed_before_kill": len(shipments),
            "retry_answered_duplicate": client.outcomes["duplicate"],
            "seconds_from_kill_to_serving": round(recovered_at - killed_at, 2),
            "lost": len(orders) + len(shipments) - inbox_rows,
            "doubled": inbox_rows - len(orders) - len(shipments),
        },
    )
