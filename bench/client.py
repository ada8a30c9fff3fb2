"""The bench's HTTP client and its view of the inbox (read straight from PostgreSQL)."""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg


@dataclass
class Request:
    source: str
    count: int
    body: bytes
    event_ids: list[str]


def encode_requests(requests: list[tuple[str, list[dict[str, Any]]]]) -> list[Request]:
    """Serialize up front, so that the client spends no CPU on it while measuring."""
    return [
        Request(
            source,
            len(events),
            json.dumps({"events": events}).encode(),
            [event["event_id"] for event in events],
        )
        for source, events in requests
    ]


@dataclass
class Answer:
    request: Request
    started: float  # time.time()
    answered: float
    status: int
    accepted: int
    retries: int = 0


def post(port: int, token: str, request: Request, *, attempts: int = 5) -> Answer:
    """POST a request; a 503 is retried after its Retry-After, as the contract asks of
    senders. Latency counts from the first attempt."""
    started = time.time()
    for attempt in range(attempts):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            connection.request(
                "POST",
                "/api/v1/events",
                body=request.body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        if response.status != 503 or attempt == attempts - 1:
            break
        time.sleep(min(float(response.getheader("Retry-After") or 1), 5.0))
    answered = time.time()
    # Counting is enough to check the answer; a JSON parse would cost the client CPU.
    return Answer(
        request,
        started,
        answered,
        response.status,
        # Compact or spaced JSON, whichever the renderer writes.
        payload.replace(b'": "', b'":"').count(b'"status":"accepted"'),
        retries=attempt,
    )


@dataclass
class PostingResult:
    answers: list[Answer] = field(default_factory=list)

    @property
    def first_started(self) -> float:
        return min(answer.started for answer in self.answers)

    @property
    def last_answered(self) -> float:
        return max(answer.answered for answer in self.answers)

    @property
    def accepted(self) -> int:
        return sum(answer.accepted for answer in self.answers)

    @property
    def failed(self) -> int:
        return sum(answer.status != 202 for answer in self.answers)

    @property
    def retried(self) -> int:
        return sum(answer.retries > 0 for answer in self.answers)

    def latencies(self) -> list[float]:
        return [answer.answered - answer.started for answer in self.answers]


def post_all(
    port: int, tokens: dict[str, str], requests: list[Request], *, clients: int
) -> PostingResult:
    """Post the requests in order from `clients` threads, as fast as they are answered."""
    work: queue.Queue[Request | None] = queue.Queue()
    for request in requests:
        work.put(request)
    result = PostingResult()
    lock = threading.Lock()

    def client() -> None:
        while True:
            try:
                request = work.get_nowait()
            except queue.Empty:
                return
            answer = post(port, tokens[request.source], request)
            with lock:
                result.answers.append(answer)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result


class Inbox:
    """Reads the bench database's inbox with its own autocommit connection."""

    def __init__(self, database_url: str) -> None:
        self.connection = psycopg.connect(database_url, autocommit=True)

    def close(self) -> None:
        self.connection.close()

    def max_id(self) -> int:
        return self.connection.execute(
            "SELECT coalesce(max(id), 0) FROM integration_inboxevent"
        ).fetchone()[0]

    def unfinished(self) -> tuple[int, int]:
        """(pending, held) rows; both counts use the partial indexes."""
        pending = self.connection.execute(
            "SELECT count(*) FROM integration_inboxevent WHERE state = 'pending'"
        ).fetchone()[0]
        held = self.connection.execute(
            "SELECT count(*) FROM integration_inboxevent WHERE state = 'held'"
        ).fetchone()[0]
        return pending, held

    def states_since(self, base_id: int) -> dict[str, int]:
        return dict(
            self.connection.execute(
                "SELECT state, count(*) FROM integration_inboxevent WHERE id > %s GROUP BY state",
                [base_id],
            ).fetchall()
        )

    def last_processed_since(self, base_id: int) -> float | None:
        value = self.connection.execute(
            "SELECT extract(epoch FROM max(processed_at)) FROM integration_inboxevent "
            "WHERE id > %s AND state = 'processed'",
            [base_id],
        ).fetchone()[0]
        return None if value is None else float(value)

    def processed_count_since(self, base_id: int) -> int:
        return self.connection.execute(
            "SELECT count(*) FROM integration_inboxevent WHERE id > %s AND state = 'processed'",
            [base_id],
        ).fetchone()[0]

    def visible_latencies_since(self, base_id: int) -> list[float]:
        """received_at -> processed_at, seconds, per event projected since `base_id`."""
        return [
            float(row[0])
            for row in self.connection.execute(
                "SELECT extract(epoch FROM processed_at - received_at) FROM integration_inboxevent "
                "WHERE id > %s AND state = 'processed'",
                [base_id],
            ).fetchall()
        ]

    def processed_among(self, keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
        if not keys:
            return []
        return self.connection.execute(
            "SELECT i.source, i.event_id FROM integration_inboxevent i "
            "JOIN unnest(%s::text[], %s::text[]) AS k(source, event_id) "
            "ON i.source = k.source AND i.event_id = k.event_id WHERE i.state = 'processed'",
            [[key[0] for key in keys], [key[1] for key in keys]],
        ).fetchall()

    def wait_until_drained(
        self, *, timeout: float, backlog: list | None = None, interval: float = 0.25
    ) -> bool:
        """Until no row is pending or held; records (time, pending, held) in `backlog`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pending, held = self.unfinished()
            if backlog is not None:
                backlog.append((time.time(), pending, held))
            if pending == 0 and held == 0:
                return True
            time.sleep(interval if pending > 2000 else 0.05)
        return False


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
